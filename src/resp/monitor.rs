//! MONITOR: every processed command, broadcast as one line to the connections that asked.

use bytes::Bytes;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Lines waiting for a slow MONITOR client before it starts missing some.
const BACKLOG: usize = 4096;

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
/// AUTH passwords are not shown.
pub fn format_line(now: SystemTime, client_id: &str, args: &[Bytes]) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut line = format!(
        "{}.{:06} [0 {}]",
        since.as_secs(),
        since.subsec_micros(),
        client_id
    );
    let redact = args
        .first()
        .is_some_and(|cmd| cmd.eq_ignore_ascii_case(b"auth"));
    for (i, arg) in args.iter().enumerate() {
        line.push(' ');
        if redact && i > 0 {
            line.push_str("\"(redacted)\"");
        } else {
            quote_into(&mut line, arg);
        }
    }
    line
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
    }
}
