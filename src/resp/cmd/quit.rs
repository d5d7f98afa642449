//! QUIT: `+OK`, then the server closes the connection.

use super::Flow;
use crate::resp::frame::Frame;
use bytes::BytesMut;

pub(super) fn run(out: &mut BytesMut) -> Flow {
    Frame::Simple("OK".into()).encode(out);
    Flow::Close
}
