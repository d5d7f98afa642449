//! HGETALL stats: the counters as a flat array of names and decimal-string values.

use super::{reply_error, show, wrong_arity, Flow};
use crate::resp::frame::{encode_array_header, encode_bulk};
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let [key] = params else {
        return wrong_arity(out, "hgetall");
    };
    if !key.eq_ignore_ascii_case(b"stats") {
        return reply_error(
            out,
            format!("ERR Expected key to be 'stats', got '{}'", show(key)),
        );
    }
    let snapshot = session.shared().stats.snapshot();
    encode_array_header(out, snapshot.len() * 2);
    for (name, value) in snapshot {
        encode_bulk(out, name.as_bytes());
        encode_bulk(out, value.to_string().as_bytes());
    }
    Flow::Continue
}
