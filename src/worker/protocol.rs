//! The handler protocol, version 1: what `kafkactl worker` and an app's handler process say to
//! each other over the handler's stdin and stdout (docs/handler-protocol.md).
//!
//! One JSON object per line in each direction, so any language can speak it with its standard
//! library. Keys, values and header values are base64, so messages are binary-safe. Pure: this
//! module only encodes and decodes; the worker owns the pipes.

#[cfg(test)]
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// Longest line accepted from a handler (a reply is small; a runaway handler is not).
pub const MAX_REPLY_LINE: usize = 64 * 1024;

/// A Kafka message as handed to the handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Message timestamp in ms since the epoch, when the broker gave one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp_ms: Option<i64>,
    /// Key, base64; absent for a message without a key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// Value, base64; absent for a tombstone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    /// Headers as (name, base64 value) pairs, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub headers: Vec<(String, String)>,
}

#[cfg(test)]
impl WireMessage {
    /// A message from raw parts, encoding the binary fields (the worker builds its messages
    /// from records; the tests build them from parts).
    pub fn new(
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> WireMessage {
        WireMessage {
            topic: topic.to_string(),
            partition,
            offset,
            timestamp_ms: None,
            key: key.map(|k| B64.encode(k)),
            value: value.map(|v| B64.encode(v)),
            headers: Vec::new(),
        }
    }
}

/// What the worker sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHandler {
    /// First line: who the handler works for. The handler answers `ready`.
    Init {
        /// Protocol version.
        version: u32,
        /// Consumer name from the manifest.
        consumer: String,
        /// Instance number.
        instance: u32,
        /// Consumer group id.
        group: String,
        /// Subscribed topics.
        topics: Vec<String>,
    },
    /// Messages to process (one, or a batch); the handler answers `ack` or `fail` with `id`.
    Batch {
        /// Echoed in the reply.
        id: u64,
        /// In partition order.
        messages: Vec<WireMessage>,
    },
    /// Last line: finish and exit. The handler answers `bye` (optional) and exits 0.
    Shutdown {
        /// Why, for the handler's logs (`sigterm`, `rebalance`, ...).
        reason: String,
    },
}

/// What a handler replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromHandler {
    /// After `init`: ready for batches.
    Ready {
        /// The protocol version the handler speaks.
        version: u32,
    },
    /// The whole batch `id` was processed.
    Ack {
        /// The batch.
        id: u64,
    },
    /// The batch `id` failed; the worker retries it or dead-letters it per the manifest.
    Fail {
        /// The batch.
        id: u64,
        /// Why, for logs and dead-letter headers.
        error: String,
        /// `false` when retrying cannot help (the worker skips straight to what follows the
        /// last attempt).
        #[serde(default = "yes")]
        retryable: bool,
    },
    /// After `shutdown`.
    Bye,
}

fn yes() -> bool {
    true
}

/// A reply line that breaks the protocol: the batch is not acked and the handler is
/// restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolViolation(pub String);

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler broke the protocol: {}", self.0)
    }
}

impl std::error::Error for ProtocolViolation {}

/// Encodes one line (with its newline) for the handler's stdin.
pub fn encode(message: &ToHandler) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("protocol messages always serialize");
    line.push(b'\n');
    line
}

/// Decodes one line from the handler's stdout (without or with its trailing newline).
pub fn decode_reply(line: &[u8]) -> Result<FromHandler, ProtocolViolation> {
    let shown = || {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        if text.chars().count() > 120 {
            format!("{}...", text.chars().take(120).collect::<String>())
        } else {
            text.to_string()
        }
    };
    if line.len() > MAX_REPLY_LINE {
        return Err(ProtocolViolation(format!(
            "a reply line of {} bytes (at most {MAX_REPLY_LINE})",
            line.len()
        )));
    }
    let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(ProtocolViolation(
            "an empty line (print logs to stderr, replies to stdout)".into(),
        ));
    }
    serde_json::from_slice(trimmed).map_err(|e| {
        // serde's message quotes what it read, decoded: a `\n` escape in the reply would
        // become a line break in the journal and in dead-letter headers.
        // It may also quote all of a long string: cut to a length fit for a log line.
        let mut why = String::new();
        for c in e.to_string().chars().take(200) {
            if c.is_control() {
                why.extend(c.escape_default());
            } else {
                why.push(c);
            }
        }
        ProtocolViolation(format!(
            "{why} in {:?} (expected one JSON object per line such as {{\"type\":\"ack\",\"id\":7}}; print logs to stderr)",
            shown()
        ))
    })
}

/// Checks that a reply answers the batch in flight.
pub fn check_answer(reply: &FromHandler, batch_id: u64) -> Result<(), ProtocolViolation> {
    match reply {
        FromHandler::Ack { id } | FromHandler::Fail { id, .. } if *id == batch_id => Ok(()),
        FromHandler::Ack { id } | FromHandler::Fail { id, .. } => Err(ProtocolViolation(format!(
            "a reply for batch {id} while batch {batch_id} is in flight"
        ))),
        other => Err(ProtocolViolation(format!(
            "{other:?} while batch {batch_id} is in flight (expected ack or fail)"
        ))),
    }
}

/// Decodes a base64 field of a [`WireMessage`] (what a handler does on its side; the tests
/// check the round trip with it).
#[cfg(test)]
pub fn decode_bytes(field: &str) -> Result<Vec<u8>, ProtocolViolation> {
    B64.decode(field)
        .map_err(|e| ProtocolViolation(format!("invalid base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_one_json_line_with_base64_payloads() {
        let line = encode(&ToHandler::Batch {
            id: 7,
            messages: vec![WireMessage::new(
                "product_changes",
                5,
                347_720,
                None,
                Some(b"{\"id\":1}\n\x00\xff"),
            )],
        });
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with(r#"{"type":"batch","id":7,"messages":[{"topic":"product_changes","partition":5,"offset":347720,"value":""#), "{text}");
        let parsed: ToHandler = serde_json::from_str(text.trim_end()).unwrap();
        let ToHandler::Batch { messages, .. } = parsed else {
            panic!()
        };
        assert_eq!(
            decode_bytes(messages[0].value.as_deref().unwrap()).unwrap(),
            b"{\"id\":1}\n\x00\xff"
        );
        assert_eq!(messages[0].key, None);
    }

    #[test]
    fn replies_decode() {
        assert_eq!(
            decode_reply(b"{\"type\":\"ack\",\"id\":3}\n").unwrap(),
            FromHandler::Ack { id: 3 }
        );
        assert_eq!(
            decode_reply(br#"{"type":"fail","id":3,"error":"boom"}"#).unwrap(),
            FromHandler::Fail {
                id: 3,
                error: "boom".into(),
                retryable: true
            }
        );
        assert_eq!(
            decode_reply(br#"{"type":"fail","id":3,"error":"bad json","retryable":false}"#)
                .unwrap(),
            FromHandler::Fail {
                id: 3,
                error: "bad json".into(),
                retryable: false
            }
        );
        assert_eq!(
            decode_reply(b"{\"type\":\"ready\",\"version\":1}\r\n").unwrap(),
            FromHandler::Ready { version: 1 }
        );
        assert_eq!(
            decode_reply(b"{\"type\":\"bye\"}").unwrap(),
            FromHandler::Bye
        );
    }

    #[test]
    fn a_violation_is_one_line_whatever_the_reply_quoted() {
        // The \n escape inside the JSON string is a line break once serde decodes it.
        let err = decode_reply(br#"{"type":"a\nb"}"#).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("a\\nb"), "{err}");
    }

    #[test]
    fn bad_replies_are_violations_that_say_what_was_expected() {
        for bad in [
            &b"processed 3 messages\n"[..],
            b"\n",
            b"{\"type\":\"ack\"}",
            b"{\"type\":\"ack\",\"id\":\"3\"}",
            b"{\"type\":\"done\",\"id\":3}",
            b"{\"type\":\"ack\",\"id\":3,\"extra\":1}",
            b"[1,2]",
        ] {
            let err = decode_reply(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("handler broke the protocol"),
                "{err}"
            );
        }
        let err = decode_reply(b"puts debugging\n").unwrap_err();
        assert!(err.to_string().contains("stderr"), "{err}");
        let long = vec![b'x'; MAX_REPLY_LINE + 1];
        assert!(decode_reply(&long).unwrap_err().0.contains("at most"));
    }

    #[test]
    fn an_answer_must_be_for_the_batch_in_flight() {
        assert!(check_answer(&FromHandler::Ack { id: 4 }, 4).is_ok());
        assert!(check_answer(&FromHandler::Ack { id: 3 }, 4).is_err());
        assert!(check_answer(&FromHandler::Bye, 4).is_err());
    }

    #[test]
    fn init_and_shutdown_have_stable_shapes() {
        let init = encode(&ToHandler::Init {
            version: VERSION,
            consumer: "price_drops".into(),
            instance: 1,
            group: "myapp-price_drops".into(),
            topics: vec!["product_changes".into()],
        });
        assert_eq!(
            String::from_utf8(init).unwrap(),
            "{\"type\":\"init\",\"version\":1,\"consumer\":\"price_drops\",\"instance\":1,\"group\":\"myapp-price_drops\",\"topics\":[\"product_changes\"]}\n"
        );
        assert_eq!(
            String::from_utf8(encode(&ToHandler::Shutdown {
                reason: "sigterm".into()
            }))
            .unwrap(),
            "{\"type\":\"shutdown\",\"reason\":\"sigterm\"}\n"
        );
    }
}
