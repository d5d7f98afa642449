//! CLIENT SETNAME <group.id>:<name> and CLIENT GETNAME.

use super::{reply_error, show, wrong_arity, Flow};
use crate::resp::frame::Frame;
use crate::resp::session::{Session, SetNameError};
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let Some(sub) = params.first() else {
        return wrong_arity(out, "client");
    };
    let sub = sub.to_ascii_uppercase();
    match (sub.as_slice(), &params[1..]) {
        (b"SETNAME", [name]) => {
            let Ok(name) = std::str::from_utf8(name) else {
                return reply_error(out, "CONS Client name must be UTF-8");
            };
            match session.set_name(name) {
                Ok(()) => Frame::bulk_str("OK").encode(out),
                Err(SetNameError::AlreadySet) => {
                    return reply_error(
                        out,
                        format!(
                            "CONS Client name already set to {} (it cannot change on a connection)",
                            session.id()
                        ),
                    )
                }
                Err(SetNameError::NoGroup) => {
                    return reply_error(out, "CONS Cannot parse group.id")
                }
                Err(SetNameError::Taken) => {
                    return reply_error(out, format!("CONS id {name} is already taken"))
                }
            }
        }
        (b"GETNAME", []) => Frame::bulk_str(&session.id()).encode(out),
        (b"SETNAME", _) => return wrong_arity(out, "client|setname"),
        (b"GETNAME", _) => return wrong_arity(out, "client|getname"),
        _ => {
            return reply_error(
                out,
                format!("ERR Command not supported: CLIENT {}", show(&sub)),
            )
        }
    }
    Flow::Continue
}
