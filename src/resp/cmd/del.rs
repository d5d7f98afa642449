//! DEL stats: resets the counters (not the gauges) and replies 1.

use super::{reply_error, show, wrong_arity, Flow};
use crate::resp::frame::Frame;
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let [key] = params else {
        return wrong_arity(out, "del");
    };
    if !key.eq_ignore_ascii_case(b"stats") {
        return reply_error(
            out,
            format!("ERR Expected key to be 'stats', got '{}'", show(key)),
        );
    }
    session.shared().stats.reset();
    Frame::Integer(1).encode(out);
    Flow::Continue
}
