//! RPUSHX topics:<topic>[:<key>] <value>: queues a message on the shared producer and replies
//! 1 once it is queued; delivery is asynchronous (see DUMP).

use super::{reply_error, Flow};
use crate::kafka::producer::ProduceError;
use crate::resp::frame::Frame;
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};

/// Splits `topics:<topic>[:<key>]`; the key may itself contain colons.
pub(super) fn parse_key(raw: &[u8]) -> Option<(&str, Option<&[u8]>)> {
    let rest = raw.strip_prefix(b"topics:")?;
    let (topic, key) = match rest.iter().position(|&b| b == b':') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let topic = std::str::from_utf8(topic).ok()?;
    // A NUL would panic inside librdkafka; anything else outside Kafka's rule fails there.
    crate::kafka::valid_topic_name(topic).then_some((topic, key))
}

pub(super) async fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let [key, value] = params else {
        return reply_error(
            out,
            format!("PROD RPUSHX accepts 2 arguments, got {}", params.len()),
        );
    };
    let Some((topic, msg_key)) = parse_key(key) else {
        return reply_error(
            out,
            "PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>', \
             with a valid Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-')",
        );
    };
    let shared = session.shared().clone();
    let deliveries = session.deliveries().clone();
    match shared
        .producer
        .produce(&deliveries, topic, msg_key, value)
        .await
    {
        Ok(()) => {
            Frame::Integer(1).encode(out);
            Flow::Continue
        }
        Err(ProduceError::QueueFull(waited)) => reply_error(
            out,
            format!(
                "PROD Local: Queue full (no room after {waited:?}; the brokers are not keeping up)"
            ),
        ),
        Err(ProduceError::Kafka(err)) => reply_error(out, format!("PROD {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_key;

    #[test]
    fn splits_topic_and_key() {
        assert_eq!(parse_key(b"topics:t"), Some(("t", None)));
        assert_eq!(parse_key(b"topics:t:k"), Some(("t", Some(&b"k"[..]))));
        assert_eq!(parse_key(b"topics:t:k:1"), Some(("t", Some(&b"k:1"[..]))));
        assert_eq!(parse_key(b"topics:t:"), Some(("t", Some(&b""[..]))));
        assert_eq!(parse_key(b"topics:"), None);
        assert_eq!(parse_key(b"topic:t"), None);
        assert_eq!(parse_key(b"t"), None);
        assert_eq!(
            parse_key(b"topics:a\0b"),
            None,
            "a NUL would panic in librdkafka"
        );
        assert_eq!(parse_key(b"topics:a b:k"), None);
    }
}
