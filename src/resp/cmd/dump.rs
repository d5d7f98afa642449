//! DUMP <timeoutMs>: waits until this connection's messages are delivered or the timeout
//! passes, and replies how many are still undelivered (0 = all delivered).

use super::{reply_error, show, Flow};
use crate::resp::frame::Frame;
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};
use std::time::Duration;

pub(super) async fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let [timeout] = params else {
        return reply_error(
            out,
            format!("PROD DUMP accepts 1 argument, got {}", params.len()),
        );
    };
    let Some(ms) = std::str::from_utf8(timeout)
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
    else {
        return reply_error(
            out,
            format!(
                "PROD DUMP timeout must be a whole number of milliseconds, got '{}'",
                show(timeout)
            ),
        );
    };
    let Some(deliveries) = session.deliveries.clone() else {
        Frame::Integer(0).encode(out);
        return Flow::Continue;
    };
    let shared = session.shared().clone();
    tokio::select! {
        left = deliveries.wait_drained(Duration::from_millis(ms)) => {
            Frame::Integer(left).encode(out);
            Flow::Continue
        }
        _ = shared.shutdown.connections.cancelled() => {
            Frame::Integer(deliveries.pending().max(0)).encode(out);
            Flow::Close
        }
    }
}
