//! AUTH [default] <password>: required before other commands when the proxy runs with
//! `--requirepass`.

use super::{reply_error, wrong_arity, Flow};
use crate::resp::frame::Frame;
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};

pub(super) fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let (user, password) = match params {
        [password] => (None, password),
        [user, password] => (Some(user), password),
        _ => return wrong_arity(out, "auth"),
    };
    let Some(expected) = session.shared().options.requirepass.clone() else {
        return reply_error(
            out,
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    };
    let user_ok = user.is_none_or(|u| u.as_ref() == b"default");
    if user_ok && constant_time_eq(password, expected.as_bytes()) {
        session.authenticated = true;
        Frame::Simple("OK".into()).encode(out);
        Flow::Continue
    } else {
        reply_error(
            out,
            "WRONGPASS invalid username-password pair or user is disabled.",
        )
    }
}

/// Compares without an early exit, so response timing does not reveal the password.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
