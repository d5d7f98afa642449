//! Rafka's commands, one file each, and the dispatch between them.
//!
//! A command writes its reply into the connection's output buffer and says whether the
//! connection goes on, closes, or turns into a MONITOR stream.

mod auth;
mod blmpop;
mod blpop;
mod client;
mod del;
mod dump;
mod hgetall;
mod keys;
mod monitor;
mod ping;
mod quit;
mod rpush;
mod rpushx;

use super::frame::Frame;
use super::session::Session;
use bytes::{Bytes, BytesMut};

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Flush the replies and close the connection.
    Close,
    /// Flush the replies and stream MONITOR lines from now on.
    Monitor,
}

/// Whether a command can wait (for a message, a delivery): replies buffered before it are
/// flushed first so pipelined clients see them without delay.
pub fn may_block(name: &[u8]) -> bool {
    [&b"BLPOP"[..], b"BLMPOP", b"DUMP"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// Runs one request (`args[0]` is the command name, `args` is non-empty).
pub async fn execute(args: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let name = args[0].to_ascii_uppercase();
    if !session.authenticated && name != b"AUTH" && name != b"QUIT" {
        // Not published to MONITOR: a client that has not authenticated is not shown there.
        Frame::error("NOAUTH Authentication required.").encode(out);
        return Flow::Continue;
    }
    // Every command pays only this check when nobody runs MONITOR.
    let monitor = &session.shared().monitor;
    if monitor.active() {
        monitor.publish(&session.id(), args);
    }
    let params = &args[1..];
    match name.as_slice() {
        b"BLPOP" => blpop::run(params, session, out).await,
        b"BLMPOP" => blmpop::run(params, session, out).await,
        b"RPUSH" => rpush::run(params, session, out),
        b"RPUSHX" => rpushx::run(params, session, out).await,
        b"DUMP" => dump::run(params, session, out).await,
        b"CLIENT" => client::run(params, session, out),
        b"KEYS" => keys::run(params, session, out).await,
        b"HGETALL" => hgetall::run(params, session, out),
        b"DEL" => del::run(params, session, out),
        b"MONITOR" => monitor::run(params, out),
        b"PING" => ping::run(params, out),
        b"QUIT" => quit::run(out),
        b"AUTH" => auth::run(params, session, out),
        _ => {
            Frame::error(format!(
                "Command not supported: {}",
                String::from_utf8_lossy(&name)
            ))
            .encode(out);
            Flow::Continue
        }
    }
}

/// Writes an error reply and continues.
fn reply_error(out: &mut BytesMut, text: impl Into<String>) -> Flow {
    Frame::error(text).encode(out);
    Flow::Continue
}

/// The Redis-style arity error.
fn wrong_arity(out: &mut BytesMut, command: &str) -> Flow {
    reply_error(
        out,
        format!("ERR wrong number of arguments for '{command}' command"),
    )
}

/// An argument as text for error messages (lossy, shortened).
fn show(arg: &[u8]) -> String {
    let text = String::from_utf8_lossy(arg);
    // Control characters are escaped: an error reply is one line, and a client's bytes must
    // not end it early or reach an operator's terminal raw.
    let mut shown = String::new();
    for c in text.chars().take(64) {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if text.chars().count() > 64 {
        shown.push_str("...");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_arguments_are_one_line_and_short() {
        assert_eq!(show(b"greet"), "greet");
        assert_eq!(show(b"a\r\nb\0"), "a\\r\\nb\\u{0}");
        let long = show(&[b'x'; 100]);
        assert_eq!(long.len(), 67);
        assert!(long.ends_with("..."));
    }
}
