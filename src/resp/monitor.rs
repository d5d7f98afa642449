//! MONITOR: every processed command, broadcast as one line to the connections that asked.

use bytes::Bytes;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Lines waiting for a slow MONITOR client; one that falls further behind is disconnected
/// (as Redis drops a client over its output buffer limit) rather than silently missing lines.
const BACKLOG: usize = 4096;

/// Most bytes of one argument shown; the rest is summarised, so a monitor's backlog costs at
/// most about BACKLOG lines of a few KiB, not BACKLOG copies of 32 MB values.
const MAX_ARG_SHOWN: usize = 256;

/// Most bytes of a client name shown.
const MAX_CLIENT_SHOWN: usize = 128;

/// The broadcast point for MONITOR lines.
pub struct MonitorHub {
    sender: broadcast::Sender<Bytes>,
}

impl Default for MonitorHub {
    fn default() -> Self {
        MonitorHub {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl MonitorHub {
    /// Whether anyone is listening; checked first so that formatting costs nothing otherwise.
    pub fn active(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Subscribes a MONITOR connection.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.sender.subscribe()
    }

    /// Publishes one processed command.
    pub fn publish(&self, client_id: &str, args: &[Bytes]) {
        if !self.active() {
            return;
        }
        let _ = self
            .sender
            .send(Bytes::from(format_line(SystemTime::now(), client_id, args)));
    }
}

/// Formats a MONITOR line: `<unix time with 6 decimals> [0 <client id>] "CMD" "arg" ...`.
///
/// Passwords are not shown (AUTH's arguments, and whatever follows `AUTH` in HELLO). A
/// client id that is not plain printable text without spaces or brackets is quoted, and long
/// ones cut, so a client cannot forge what looks like another line or another client. Long
/// arguments are cut at [`MAX_ARG_SHOWN`] bytes with their full length said.
pub fn format_line(now: SystemTime, client_id: &str, args: &[Bytes]) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut line = format!("{}.{:06} [0 ", since.as_secs(), since.subsec_micros());
    let plain = client_id
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"[]\"\\".contains(&b));
    if plain && client_id.len() <= MAX_CLIENT_SHOWN {
        line.push_str(client_id);
    } else {
        quote_into(&mut line, cut(client_id.as_bytes(), MAX_CLIENT_SHOWN));
    }
    line.push(']');
    let command = args.first();
    let is = |name: &[u8]| command.is_some_and(|c| c.eq_ignore_ascii_case(name));
    let mut redact_rest = is(b"auth");
    for (i, arg) in args.iter().enumerate() {
        line.push(' ');
        if redact_rest && i > 0 {
            line.push_str("\"(redacted)\"");
            continue;
        }
        quote_into(&mut line, cut(arg, MAX_ARG_SHOWN));
        if arg.len() > MAX_ARG_SHOWN {
            let _ = write!(line, "...({} bytes)", arg.len());
        }
        // HELLO <protover> AUTH <username> <password> [SETNAME <name>]
        if is(b"hello") && i > 0 && arg.eq_ignore_ascii_case(b"auth") {
            redact_rest = true;
        }
    }
    line
}

fn cut(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

/// Quotes like Redis does: printable ASCII as is, `\"`, `\\`, `\n`, `\r`, `\t`, else `\xHH`.
fn quote_into(out: &mut String, arg: &[u8]) {
    out.push('"');
    for &b in arg {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_redis_monitor() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_123);
        let args = [
            Bytes::from_static(b"RPUSHX"),
            Bytes::from_static(b"topics:t"),
            Bytes::from_static(b"a\"b\n\x01"),
        ];
        assert_eq!(
            format_line(t, "grp:c1", &args),
            r#"1700000000.000123 [0 grp:c1] "RPUSHX" "topics:t" "a\"b\n\x01""#
        );
    }

    #[test]
    fn hides_auth_passwords() {
        let args = [Bytes::from_static(b"auth"), Bytes::from_static(b"secret")];
        let line = format_line(UNIX_EPOCH, "127.0.0.1:5", &args);
        assert!(!line.contains("secret"), "{line}");
        let hello = [
            Bytes::from_static(b"HELLO"),
            Bytes::from_static(b"3"),
            Bytes::from_static(b"AUTH"),
            Bytes::from_static(b"default"),
            Bytes::from_static(b"secret"),
        ];
        let line = format_line(UNIX_EPOCH, "127.0.0.1:5", &hello);
        assert!(!line.contains("secret"), "{line}");
        assert!(
            line.contains(r#""HELLO" "3" "AUTH" "(redacted)""#),
            "{line}"
        );
    }

    #[test]
    fn client_names_cannot_forge_lines_or_clients() {
        let args = [Bytes::from_static(b"PING")];
        let forged = "g:x] \"FLUSHALL\"\r\n+1.0 [0 admin";
        let line = format_line(UNIX_EPOCH, forged, &args);
        assert_eq!(
            line,
            r#"0.000000 [0 "g:x] \"FLUSHALL\"\r\n+1.0 [0 admin"] "PING""#
        );
        assert!(!line.contains('\r') && !line.contains('\n'));
        let long = "g:".to_string() + &"n".repeat(1000);
        let line = format_line(UNIX_EPOCH, &long, &args);
        assert!(line.len() < 200, "{line}");
        assert!(format_line(UNIX_EPOCH, "grp:c1", &args).contains("[0 grp:c1]"));
    }

    #[test]
    fn long_arguments_are_cut_with_their_length() {
        let big = Bytes::from(vec![b'v'; 100_000]);
        let args = [
            Bytes::from_static(b"RPUSHX"),
            Bytes::from_static(b"topics:t"),
            big,
        ];
        let line = format_line(UNIX_EPOCH, "c", &args);
        assert!(line.len() < 400, "{}", line.len());
        assert!(
            line.ends_with(r#""...(100000 bytes)"#),
            "{}",
            &line[line.len() - 40..]
        );
    }
}
