//! PING [message]: `+PONG`, or the message back.

use super::{wrong_arity, Flow};
use crate::resp::frame::Frame;
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], out: &mut BytesMut) -> Flow {
    match params {
        [] => Frame::Simple("PONG".into()).encode(out),
        [message] => Frame::Bulk(message.clone()).encode(out),
        _ => return wrong_arity(out, "ping"),
    }
    Flow::Continue
}
