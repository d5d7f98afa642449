//! MONITOR: `+OK`, then one line per command processed by any client.

use super::{wrong_arity, Flow};
use crate::resp::frame::Frame;
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], out: &mut BytesMut) -> Flow {
    if !params.is_empty() {
        return wrong_arity(out, "monitor");
    }
    Frame::Simple("OK".into()).encode(out);
    Flow::Monitor
}
