//! Messages as the worker holds them between Kafka and the handler: owned copies, their wire
//! form, which offsets an acked batch lets the worker store, and dead-letter headers (pure).

use super::protocol::WireMessage;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rdkafka::message::{BorrowedMessage, Message};
use std::collections::BTreeMap;

/// One Kafka message, copied out of librdkafka's buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch, if the broker gave one.
    pub timestamp_ms: Option<i64>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order; a header without a value has an empty one.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// Copies a message received from librdkafka.
    pub fn from_kafka(message: &BorrowedMessage<'_>) -> Record {
        let headers = headers_of(message);
        Record {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// The handler protocol's form: binary fields in base64.
    pub fn to_wire(&self) -> WireMessage {
        WireMessage {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: self.key.as_ref().map(|k| B64.encode(k)),
            value: self.value.as_ref().map(|v| B64.encode(v)),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), B64.encode(value)))
                .collect(),
        }
    }

    /// `topic/partition@offset`, for logs.
    pub fn position(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// A message's headers, read through librdkafka's C API. rdkafka's own iterator unwraps the
/// conversion of each header name to UTF-8, so one message whose header name is not UTF-8
/// would panic the worker, and systemd would restart it into the same message until the unit
/// fails. Names are taken lossily (U+FFFD for what is not UTF-8); values are bytes.
fn headers_of(message: &BorrowedMessage<'_>) -> Vec<(String, Vec<u8>)> {
    use rdkafka_sys as rd;
    use std::ffi::{c_char, c_void, CStr};
    let mut out = Vec::new();
    // SAFETY: the message is alive for this call (borrowed); the headers belong to it, and
    // every name and value pointer librdkafka hands back stays valid while it does. A name
    // is NUL-terminated; a value is `size` bytes (or null for a header without one).
    unsafe {
        let mut headers: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
        let found = rd::rd_kafka_message_headers(message.ptr(), &mut headers);
        if found != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return out;
        }
        for index in 0.. {
            let mut name: *const c_char = std::ptr::null();
            let mut value: *const c_void = std::ptr::null();
            let mut size: usize = 0;
            let got = rd::rd_kafka_header_get_all(headers, index, &mut name, &mut value, &mut size);
            if got != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                break;
            }
            let name = CStr::from_ptr(name).to_string_lossy().into_owned();
            let value = if value.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(value.cast::<u8>(), size).to_vec()
            };
            out.push((name, value));
        }
    }
    out
}

/// The offsets an acked batch lets the worker store: per (topic, partition), its highest
/// offset. Batches are handled one at a time in the order they arrived, so everything before
/// it on that partition was acked already.
pub fn offsets_to_store(batch: &[Record]) -> BTreeMap<(String, i32), i64> {
    let mut highest: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for record in batch {
        let entry = highest
            .entry((record.topic.clone(), record.partition))
            .or_insert(record.offset);
        *entry = (*entry).max(record.offset);
    }
    highest
}

/// Why and from where a message was dead-lettered, for the dead-letter topic's readers.
#[derive(Debug, Clone)]
pub struct DeadLetterReason<'a> {
    /// The handler's last error.
    pub error: &'a str,
    /// Attempts made.
    pub attempts: u32,
    /// Consumer name.
    pub consumer: &'a str,
    /// Consumer group.
    pub group: &'a str,
    /// The instance's client id (`<host>-<name>-<n>`).
    pub client_id: &'a str,
    /// When it was given up on, ms since the epoch.
    pub failed_at_ms: i64,
}

/// Headers of a dead-lettered copy: the original headers, then `kafkactl.*` ones saying why
/// and where from.
pub fn dead_letter_headers(record: &Record, why: &DeadLetterReason<'_>) -> Vec<(String, Vec<u8>)> {
    let mut headers = record.headers.clone();
    let ours = [
        ("kafkactl.error", why.error.to_string()),
        ("kafkactl.attempts", why.attempts.to_string()),
        ("kafkactl.source.topic", record.topic.clone()),
        ("kafkactl.source.partition", record.partition.to_string()),
        ("kafkactl.source.offset", record.offset.to_string()),
        ("kafkactl.consumer", why.consumer.to_string()),
        ("kafkactl.group", why.group.to_string()),
        ("kafkactl.client_id", why.client_id.to_string()),
        ("kafkactl.failed_at_ms", why.failed_at_ms.to_string()),
    ];
    headers.extend(
        ours.into_iter()
            .map(|(k, v)| (k.to_string(), v.into_bytes())),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, partition: i32, offset: i64) -> Record {
        Record {
            topic: topic.into(),
            partition,
            offset,
            timestamp_ms: Some(1_523_450_393_000),
            key: Some(b"k\n\0".to_vec()),
            value: None,
            headers: vec![("trace".into(), b"abc".to_vec())],
        }
    }

    #[test]
    fn an_acked_batch_stores_the_highest_offset_per_partition() {
        let batch = [
            record("a", 0, 5),
            record("a", 1, 9),
            record("a", 0, 6),
            record("b", 0, 2),
        ];
        let stored: Vec<_> = offsets_to_store(&batch).into_iter().collect();
        assert_eq!(
            stored,
            [
                (("a".to_string(), 0), 6),
                (("a".to_string(), 1), 9),
                (("b".to_string(), 0), 2)
            ]
        );
        assert!(offsets_to_store(&[]).is_empty());
    }

    #[test]
    fn wire_form_is_base64_and_keeps_tombstones_absent() {
        let wire = record("a", 0, 5).to_wire();
        assert_eq!(wire.key.as_deref(), Some("awoA"));
        assert_eq!(wire.value, None);
        assert_eq!(wire.headers, [("trace".to_string(), "YWJj".to_string())]);
        assert_eq!(wire.timestamp_ms, Some(1_523_450_393_000));
    }

    #[test]
    fn dead_letter_headers_keep_the_originals_and_say_why() {
        let why = DeadLetterReason {
            error: "PG::ConnectionBad: boom",
            attempts: 3,
            consumer: "price_drops",
            group: "myapp-price_drops",
            client_id: "server1-price_drops-1",
            failed_at_ms: 42,
        };
        let headers = dead_letter_headers(&record("product_changes", 5, 347_720), &why);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        };
        assert_eq!(headers[0].0, "trace");
        assert_eq!(get("kafkactl.error").unwrap(), "PG::ConnectionBad: boom");
        assert_eq!(get("kafkactl.source.topic").unwrap(), "product_changes");
        assert_eq!(get("kafkactl.source.partition").unwrap(), "5");
        assert_eq!(get("kafkactl.source.offset").unwrap(), "347720");
        assert_eq!(get("kafkactl.attempts").unwrap(), "3");
        assert_eq!(get("kafkactl.group").unwrap(), "myapp-price_drops");
    }
}
