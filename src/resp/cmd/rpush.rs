//! RPUSH acks <topic>:<partition>:<offset> [...]: stores offset+1 for each partition; the
//! offsets are committed periodically and when partitions are revoked or the consumer closes.

use super::{reply_error, show, Flow};
use crate::kafka::consumer::AckOutcome;
use crate::resp::frame::Frame;
use crate::resp::session::Session;
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};

/// One parsed ack.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Ack<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// Parses `<topic>:<partition>:<offset>` (the topic is everything before the last two colons).
pub(super) fn parse_ack(raw: &[u8]) -> Result<Ack<'_>, String> {
    let bad = || {
        format!(
            "CONS Cannot parse ack: '{}' (expected <topic>:<partition>:<offset>)",
            show(raw)
        )
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.rsplitn(3, ':');
    let (Some(offset), Some(partition), Some(topic)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if topic.is_empty() {
        return Err(bad());
    }
    let partition: i32 = partition.parse().map_err(|_| bad())?;
    let offset: i64 = offset.parse().map_err(|_| bad())?;
    if partition < 0 {
        return Err(format!("CONS Negative partition in ack '{}'", show(raw)));
    }
    if offset < 0 {
        return Err(format!("CONS Negative offset in ack '{}'", show(raw)));
    }
    // The stored offset is offset + 1, which must still be an i64.
    if offset == i64::MAX {
        return Err(format!("CONS Offset out of range in ack '{}'", show(raw)));
    }
    Ok(Ack {
        topic,
        partition,
        offset,
    })
}

pub(super) fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let Some((key, acks)) = params.split_first() else {
        return reply_error(
            out,
            "CONS RPUSH needs a key: RPUSH acks <topic>:<partition>:<offset> [...]",
        );
    };
    if !key.eq_ignore_ascii_case(b"acks") {
        return reply_error(out, "CONS You can only RPUSH to the 'acks' key");
    }
    if acks.is_empty() {
        return reply_error(
            out,
            "CONS RPUSH acks needs at least one <topic>:<partition>:<offset>",
        );
    }
    // Validate every ack before storing any, so a bad one leaves nothing half-applied.
    let mut parsed = Vec::with_capacity(acks.len());
    for raw in acks {
        match parse_ack(raw) {
            Ok(ack) => parsed.push(ack),
            Err(e) => return reply_error(out, e),
        }
    }
    let Some(consumer) = &session.consumer else {
        return reply_error(
            out,
            "CONS No consumer on this connection (acks go on the connection that ran BLPOP)",
        );
    };
    if let Some(ack) = parsed
        .iter()
        .find(|a| !consumer.topics().iter().any(|t| t == a.topic))
    {
        return reply_error(
            out,
            format!(
                "CONS No consumer for topic {} on this connection (subscribed to {})",
                ack.topic,
                consumer.topics().join(",")
            ),
        );
    }
    let stats = &session.shared().stats;
    for ack in &parsed {
        match consumer.ack(ack.topic, ack.partition, ack.offset) {
            Ok(AckOutcome::Stored) => Stats::incr(&stats.consumer_acks),
            Ok(AckOutcome::NotOwned) => Stats::incr(&stats.consumer_acks_stale),
            Err(err) => {
                Stats::incr(&stats.consumer_errors);
                return reply_error(out, format!("CONS {err}"));
            }
        }
    }
    Frame::Integer(parsed.len() as i64).encode(out);
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_acks() {
        assert_eq!(
            parse_ack(b"price.changes:3:347720").unwrap(),
            Ack {
                topic: "price.changes",
                partition: 3,
                offset: 347720
            }
        );
    }

    #[test]
    fn rejects_malformed_and_negative_acks() {
        for bad in [
            &b"t:1"[..],
            b"t:x:1",
            b"t:1:x",
            b":1:2",
            b"t:1:-5",
            b"t:-1:5",
            b"",
            b"t:1:2:3x",
            b"t:1:9223372036854775807",
            b"t:1:9223372036854775808",
        ] {
            let err = parse_ack(bad).unwrap_err();
            assert!(err.starts_with("CONS "), "{err}");
        }
    }
}
