//! BLMPOP <timeout> 1 topics:<t...>[:<JSON>] LEFT [COUNT n]: a batch of up to n messages in
//! the Redis 7 shape — `[key, [message, ...]]`, each message Rafka's 8-element array.

use super::blpop::{encode_message, ensure_consumer, is_transient, wait_first};
use super::{reply_error, show, Flow};
use crate::resp::frame::{encode_array_header, encode_bulk, Frame};
use crate::resp::session::Session;
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use std::time::Duration;

/// Largest batch one call may ask for.
pub const MAX_COUNT: usize = 10_000;

/// A validated BLMPOP call.
#[derive(Debug, PartialEq)]
struct BatchRequest<'a> {
    timeout: Duration,
    key: &'a [u8],
    count: usize,
}

fn parse(params: &[Bytes]) -> Result<BatchRequest<'_>, String> {
    const USAGE: &str =
        "BLMPOP <timeout> 1 topics:<topic>[,<topic>...][:<JSON config>] LEFT [COUNT <n>]";
    if params.len() < 4 {
        return Err(format!("CONS wrong number of arguments: {USAGE}"));
    }
    let timeout: f64 = std::str::from_utf8(&params[0])
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| format!("CONS timeout is not a non-negative number: {USAGE}"))?;
    if params[1].as_ref() != b"1" {
        return Err(format!(
            "CONS numkeys must be 1 (a connection has one consumer): {USAGE}"
        ));
    }
    if !params[3].eq_ignore_ascii_case(b"LEFT") {
        return Err(format!(
            "CONS only LEFT is supported (messages come in partition order), got '{}'",
            show(&params[3])
        ));
    }
    let count = match &params[4..] {
        [] => 1,
        [word, n] if word.eq_ignore_ascii_case(b"COUNT") => std::str::from_utf8(n)
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=MAX_COUNT).contains(n))
            .ok_or_else(|| format!("CONS COUNT must be 1..={MAX_COUNT}"))?,
        _ => return Err(format!("CONS wrong arguments after LEFT: {USAGE}")),
    };
    Ok(BatchRequest {
        timeout: Duration::from_secs_f64(timeout.min(86_400.0)),
        key: &params[2],
        count,
    })
}

pub(super) async fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let request = match parse(params) {
        Ok(r) => r,
        Err(e) => return reply_error(out, e),
    };
    if let Err(flow) = ensure_consumer(request.key, session, out) {
        return flow;
    }
    let first = match wait_first(session, request.timeout, out).await {
        Ok(Some(msg)) => msg,
        Ok(None) => {
            Frame::NullArray.encode(out);
            return Flow::Continue;
        }
        Err(flow) => return flow,
    };
    let consumer = session.consumer.as_ref().expect("ensured").kafka();
    let mut body = BytesMut::with_capacity(4096);
    encode_message(&mut body, &first);
    drop(first);
    let mut taken = 1;
    // The rest of the batch: only what librdkafka already holds, without waiting.
    while taken < request.count {
        match consumer.recv().now_or_never() {
            Some(Ok(msg)) => {
                encode_message(&mut body, &msg);
                taken += 1;
            }
            // The batch so far goes out; the error is counted (unless transient) and logged
            // rather than dropped.
            Some(Err(err)) => {
                if !is_transient(&err) {
                    Stats::incr(&session.shared().stats.consumer_errors);
                }
                tracing::info!(client = %session.id(), error = %err, "consumer error mid-batch");
                break;
            }
            None => break,
        }
    }
    Stats::add(
        &session.shared().stats.consumer_messages_delivered,
        taken as i64,
    );
    encode_array_header(out, 2);
    encode_bulk(out, request.key);
    encode_array_header(out, taken);
    out.extend_from_slice(&body);
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn parses_the_redis7_form() {
        let a = args(&["1.5", "1", "topics:t", "left", "COUNT", "100"]);
        let r = parse(&a).unwrap();
        assert_eq!(r.timeout, Duration::from_millis(1500));
        assert_eq!(r.key, b"topics:t");
        assert_eq!(r.count, 100);
        assert_eq!(
            parse(&args(&["0", "1", "topics:t", "LEFT"])).unwrap().count,
            1
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for bad in [
            &["1", "2", "topics:a", "topics:b", "LEFT"][..],
            &["1", "1", "topics:t", "RIGHT"],
            &["-1", "1", "topics:t", "LEFT"],
            &["1", "1", "topics:t", "LEFT", "COUNT", "0"],
            &["1", "1", "topics:t", "LEFT", "COUNT", "99999999"],
            &["1", "1", "topics:t", "LEFT", "COUNT"],
            &["1", "1", "topics:t"],
        ] {
            let err = parse(&args(bad)).unwrap_err();
            assert!(err.starts_with("CONS "), "{bad:?}: {err}");
        }
    }
}
