//! BLPOP topics:<t1>[,<t2>...][:<JSON>] <timeout seconds>: the next message of this
//! connection's consumer, created on first use.

use super::{reply_error, show, Flow};
use crate::kafka::config::properties_from_json;
use crate::kafka::consumer::ProxyConsumer;
use crate::resp::frame::{encode_array_header, encode_bulk, encode_integer, Frame};
use crate::resp::session::Session;
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use std::time::Duration;

/// A parsed consumer key.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ConsumerKey {
    pub topics: Vec<String>,
    pub overrides: Option<String>,
}

/// Splits `topics:<list>[:<json>]` on its first two colons.
pub(super) fn parse_key(key: &[u8]) -> Result<ConsumerKey, String> {
    let key = std::str::from_utf8(key).map_err(|_| "CONS Topic key must be UTF-8".to_string())?;
    let mut parts = key.splitn(3, ':');
    let (Some("topics"), Some(list)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "CONS Cannot parse topics from `{}` (expected topics:<topic>[,<topic>...][:<JSON config>])",
            show(key.as_bytes())
        ));
    };
    let topics: Vec<String> = list.split(',').map(str::to_string).collect();
    if topics.iter().any(|t| t.is_empty()) {
        return Err(format!(
            "CONS Not enough topics in `{}` (empty topic name)",
            show(key.as_bytes())
        ));
    }
    // librdkafka panics on a NUL inside a name (it becomes a C string); Kafka refuses any
    // other character outside its rule anyway, so say which name is wrong before either.
    if let Some(bad) = topics.iter().find(|t| !crate::kafka::valid_topic_name(t)) {
        return Err(format!(
            "CONS Invalid topic name `{}`: Kafka topic names are 1 to 249 of a-z, A-Z, 0-9, \
             '.', '_' and '-'",
            show(bad.as_bytes())
        ));
    }
    Ok(ConsumerKey {
        topics,
        overrides: parts.next().map(str::to_string),
    })
}

/// Parses a BLPOP timeout in whole seconds; `None` when it is not an integer (the server's
/// default applies, as in Rafka).
pub(super) fn parse_timeout_secs(arg: &[u8]) -> Option<i64> {
    std::str::from_utf8(arg).ok()?.trim().parse().ok()
}

/// Makes sure this connection has a consumer for `key`'s topics; replies with the error when
/// it cannot. Returns the flow to use on error.
pub(super) fn ensure_consumer(
    key: &[u8],
    session: &mut Session,
    out: &mut BytesMut,
) -> Result<(), Flow> {
    let shared = session.shared().clone();
    if shared.shutdown.consumers.is_cancelled() {
        Frame::error("CONS Server shutdown").encode(out);
        return Err(if session.consumer.is_some() {
            Flow::Close
        } else {
            Flow::Continue
        });
    }
    let parsed = parse_key(key).map_err(|e| reply_error(out, e))?;
    if let Some(consumer) = &session.consumer {
        if consumer.topics() != parsed.topics.as_slice() {
            return Err(reply_error(
                out,
                format!(
                    "CONS This connection's consumer is subscribed to {}; a connection has one consumer (open another connection for {})",
                    consumer.topics().join(","),
                    parsed.topics.join(",")
                ),
            ));
        }
        return Ok(());
    }
    // Each consumer is a librdkafka client with its own threads and buffers.
    let consumers = shared
        .stats
        .consumers_active
        .load(std::sync::atomic::Ordering::Relaxed);
    if consumers >= shared.options.max_consumers as i64 {
        return Err(reply_error(
            out,
            format!(
                "CONS Too many consumers: this proxy serves at most {} (--max-consumers)",
                shared.options.max_consumers
            ),
        ));
    }
    let Some((group, name)) = session.group_and_name() else {
        return Err(reply_error(
            out,
            "CONS Identify yourself using `CLIENT SETNAME <group.id>:<name>` first",
        ));
    };
    let overrides = match &parsed.overrides {
        None => Default::default(),
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| reply_error(out, format!("CONS Invalid JSON consumer config: {e}")))?;
            properties_from_json(&value, "consumer config")
                .map_err(|e| reply_error(out, format!("CONS {e}")))?
        }
    };
    let config = shared
        .kafka
        .consumer_config(group, name, &overrides)
        .map_err(|e| reply_error(out, format!("CONS {e}")))?;
    let id = session.id();
    match ProxyConsumer::create(
        &config,
        parsed.topics,
        &id,
        shared.stats.clone(),
        shared.consumers.token(),
    ) {
        Ok(consumer) => {
            tracing::debug!(client = %id, topics = ?consumer.topics(), "consumer created");
            session.consumer = Some(consumer);
            Ok(())
        }
        Err(err) => {
            Stats::incr(&shared.stats.consumer_errors);
            Err(reply_error(
                out,
                format!("CONS Error creating consumer: {err}"),
            ))
        }
    }
}

/// Appends a message as Rafka's 8-element array.
pub(super) fn encode_message(out: &mut BytesMut, msg: &BorrowedMessage<'_>) {
    encode_array_header(out, 8);
    encode_bulk(out, b"topic");
    encode_bulk(out, msg.topic().as_bytes());
    encode_bulk(out, b"partition");
    encode_integer(out, i64::from(msg.partition()));
    encode_bulk(out, b"offset");
    encode_integer(out, msg.offset());
    encode_bulk(out, b"value");
    match msg.payload() {
        Some(value) => encode_bulk(out, value),
        None => Frame::NullBulk.encode(out),
    }
}

/// Waits for the first message of a batch. `Ok(None)` on timeout; `Err(flow)` when an error
/// reply was written.
pub(super) async fn wait_first<'c>(
    session: &'c Session,
    timeout: Duration,
    out: &mut BytesMut,
) -> Result<Option<BorrowedMessage<'c>>, Flow> {
    let shared = session.shared();
    let consumer = session.consumer.as_ref().expect("ensured").kafka();
    // Fast path: a message is already waiting, so no timer or shutdown waiter is set up
    // (a consumer that keeps up pays only for the poll).
    if !shared.shutdown.consumers.is_cancelled() {
        match consumer.recv().now_or_never() {
            Some(Ok(msg)) => return Ok(Some(msg)),
            Some(Err(err)) => consumer_error(session, err, out)?,
            None => {}
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.consumers.cancelled() => {
                Frame::error("CONS Server shutdown").encode(out);
                return Err(Flow::Close);
            }
            polled = tokio::time::timeout_at(deadline, consumer.recv()) => match polled {
                Err(_) => {
                    Stats::incr(&shared.stats.consumer_timeouts);
                    return Ok(None);
                }
                Ok(Ok(msg)) => return Ok(Some(msg)),
                Ok(Err(err)) => consumer_error(session, err, out)?,
            }
        }
    }
}

/// Whether a consumer error is transient. As Rafka: a lost broker connection is (librdkafka
/// reconnects by itself), so it is logged, not counted or returned. Returned, it failed the
/// next BLPOPs long after the brokers were back: librdkafka queues one per lost connection
/// until the client polls.
pub(super) fn is_transient(err: &KafkaError) -> bool {
    matches!(
        err,
        KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure)
    )
}

/// What a consumer error means to a waiting BLPOP: `Ok(())` to go on waiting, or `Err(flow)`
/// once the error reply is written.
fn consumer_error(session: &Session, err: KafkaError, out: &mut BytesMut) -> Result<(), Flow> {
    if is_transient(&err) {
        tracing::info!(client = %session.id(), error = %err, "consumer: transient error");
        return Ok(());
    }
    Stats::incr(&session.shared().stats.consumer_errors);
    Err(reply_error(out, format!("CONS Poll {err}")))
}

pub(super) async fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let Some(key) = params.first() else {
        return reply_error(
            out,
            "CONS BLPOP needs a key: BLPOP topics:<topic>[,<topic>...][:<JSON config>] <timeout seconds>",
        );
    };
    let timeout = match params
        .last()
        .filter(|_| params.len() > 1)
        .and_then(|t| parse_timeout_secs(t))
    {
        Some(secs) if secs < 0 => return reply_error(out, "CONS timeout is negative"),
        Some(secs) => Duration::from_secs(secs as u64),
        None => session.shared().options.default_blpop_timeout,
    };
    if let Err(flow) = ensure_consumer(key, session, out) {
        return flow;
    }
    match wait_first(session, timeout, out).await {
        Ok(Some(msg)) => {
            encode_message(out, &msg);
            Stats::incr(&session.shared().stats.consumer_messages_delivered);
        }
        Ok(None) => Frame::NullArray.encode(out),
        Err(flow) => return flow,
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_splits_on_the_first_two_colons_only() {
        let k = parse_key(br#"topics:a,b:{"auto.offset.reset":"latest","x":"1:2"}"#).unwrap();
        assert_eq!(k.topics, vec!["a", "b"]);
        assert_eq!(
            k.overrides.as_deref(),
            Some(r#"{"auto.offset.reset":"latest","x":"1:2"}"#)
        );
        assert_eq!(parse_key(b"topics:a").unwrap().overrides, None);
        for bad in [
            &b"topics:a\0b"[..],
            b"topics:a b",
            b"topics:ok,..",
            b"topics:x/y",
        ] {
            let err = parse_key(bad).unwrap_err();
            assert!(err.starts_with("CONS Invalid topic name"), "{err}");
        }
    }

    #[test]
    fn bad_keys_are_cons_errors() {
        for key in [
            &b"topic:a"[..],
            b"topics",
            b"topics:",
            b"topics:a,,b",
            b"\xff",
        ] {
            let err = parse_key(key).unwrap_err();
            assert!(err.starts_with("CONS "), "{err}");
        }
    }

    #[test]
    fn timeout_is_whole_seconds_or_default() {
        assert_eq!(parse_timeout_secs(b"5"), Some(5));
        assert_eq!(parse_timeout_secs(b"0"), Some(0));
        assert_eq!(parse_timeout_secs(b"-1"), Some(-1));
        assert_eq!(parse_timeout_secs(b"1.5"), None);
        assert_eq!(parse_timeout_secs(b"soon"), None);
    }
}
