//! Every rule for one value of the manifest (a name, a topic, an address, a port, ...) as a
//! plain function, so that the manifest checker, the commands and the worker apply the same
//! rule to the same value wherever it comes from (a file, a flag, an environment variable).
//!
//! These only say whether a value is acceptable (and, where the reason varies, why, without
//! repeating the value); the checker (`build` and friends) adds the position, the field and
//! the value to make the `FILE:LINE:COL` message. Ranges of numbers are the `MAX_*` constants
//! of [`crate::manifest`], checked by the checker's integer reader.

use super::keys::reserved_kafka;
use super::{MAX_MESSAGES_IN_FLIGHT, MAX_NAME_LEN};
use crate::units::RunAs;

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`. It lives in
/// [`crate::kafka`] because the proxy and the dev broker check topics too.
pub(crate) use crate::kafka::valid_topic_name as is_topic_name;

/// A consumer name: `[a-z0-9_]{1,MAX_NAME_LEN}`, safe in unit names
/// (`kafka-consumer@<name>:<n>.service`), file names and shells without quoting.
pub(crate) fn is_consumer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// [`is_consumer_name`] as a check for command-line arguments: the error says what is wrong.
pub(crate) fn check_consumer_name(name: &str) -> Result<(), String> {
    if is_consumer_name(name) {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid consumer name (lowercase letters, digits and '_')"
        ))
    }
}

/// A valid consumer name close to a bad one (`PriceDrops` -> `price_drops`), for "did you
/// mean"; `None` when there is none or `name` is already valid.
pub(crate) fn consumer_name_hint(name: &str) -> Option<String> {
    let fixed = snake_case(name);
    (fixed != name && is_consumer_name(&fixed)).then_some(fixed)
}

/// `PriceDrops` -> `price_drops`, `price-drops` -> `price_drops`; other characters dropped.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in name.trim().chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            out.push(ch);
            prev_lower = true;
        } else if "-_ .".contains(ch) {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A role name (the keys of `roles:`, the value of `role:`): `[a-z0-9_-]{1,MAX_NAME_LEN}`.
pub(crate) fn is_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The `app:` name, prefix of consumer group ids (`<app>-<name>`): 1 to MAX_NAME_LEN of
/// `[A-Za-z0-9._-]`, which Kafka accepts in a group id.
pub(crate) fn is_app_name(app: &str) -> bool {
    !app.is_empty()
        && app.len() <= MAX_NAME_LEN
        && app
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A property name a consumer may set in `kafka:`.
///
/// # Errors
/// The whole message: either why kafkactl keeps the property for itself
/// ([`super::keys::RESERVED_KAFKA`]) or that it is not a librdkafka property name.
pub(crate) fn check_kafka_property(key: &str) -> Result<(), String> {
    if let Some(why) = reserved_kafka(key) {
        return Err(format!("kafka property `{key}` cannot be set here: {why}"));
    }
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    if !valid {
        return Err(format!(
            "kafka property names are librdkafka's: a-z, 0-9, `.`, `_` and `-`, such as \
             `fetch.max.bytes`; got {key:?}"
        ));
    }
    Ok(())
}

/// An environment variable name for the handler (`env:`): `[A-Za-z_][A-Za-z0-9_]*`, what a
/// POSIX shell can expand.
pub(crate) fn is_env_name(key: &str) -> bool {
    key.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `env_file:`: a path, absolute or relative to the app's root, optionally after a `-` (a
/// missing file is then not an error, as systemd's `EnvironmentFile=-/path`). Returns the
/// path without the `-`, and whether there was one.
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn parse_env_file(text: &str) -> Result<(&str, bool), String> {
    let (path, optional) = match text.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    if path.is_empty() {
        return Err(if optional {
            "the path after `-` is empty".to_string()
        } else {
            "the path is empty".to_string()
        });
    }
    // A tab, newline or NUL in a path is a paste gone wrong, and NUL cannot reach open(2).
    if path.chars().any(char::is_control) {
        return Err("a path has no control characters (tab, newline, NUL, ...)".to_string());
    }
    // Quoted YAML keeps spaces that a plain scalar would drop: `" /etc/x"` is not `/etc/x`.
    if path.trim() != path {
        return Err("the path starts or ends with whitespace".to_string());
    }
    Ok((path, optional))
}

/// `batch.in_flight` with `batch.max_size`: a worker holds up to `in_flight` batches sent
/// but not yet answered, and re-sends those behind a failed one, so their messages together
/// are bounded by [`MAX_MESSAGES_IN_FLIGHT`] (each range alone is the checker's).
///
/// # Errors
/// The product and the bound, and what to lower.
pub(crate) fn check_messages_in_flight(in_flight: u32, max_size: u32) -> Result<(), String> {
    let held = u64::from(in_flight) * u64::from(max_size);
    if held > MAX_MESSAGES_IN_FLIGHT {
        return Err(format!(
            "batch.in_flight ({in_flight}) x batch.max_size ({max_size}) is {held} messages \
             in flight; at most {MAX_MESSAGES_IN_FLIGHT}: lower one of them"
        ));
    }
    Ok(())
}

/// `run_as:` (or `--run-as`): `USER` or `USER:GROUP`, account names as `useradd` accepts
/// them. The rule lives with [`RunAs`] in [`crate::units`], which writes it into the unit.
///
/// # Errors
/// Which name is not an account name, and the form expected.
pub(crate) fn parse_run_as(text: &str) -> Result<RunAs, String> {
    RunAs::parse(text)
}

/// The SSH user of a host (`user@address`, `user:`).
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn check_ssh_user(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("the user is empty".to_string());
    }
    // ssh would read `-oProxyCommand=...` as an option, not a user.
    if user.starts_with('-') {
        return Err("a user must not start with `-`".to_string());
    }
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err("a user has only letters, digits, `.`, `_` and `-`".to_string());
    }
    Ok(())
}

/// A host name, IPv4 or IPv6 address (`bare_ipv6`: IPv6 without brackets is accepted, as in
/// a host mapping's `address:`, where no port follows).
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn check_address(address: &str, bare_ipv6: bool) -> Result<(), String> {
    if address.is_empty() {
        return Err("the address is empty".to_string());
    }
    // ssh would read `-oProxyCommand=...` as an option, not a host.
    if address.starts_with('-') {
        return Err("it must not start with `-`".to_string());
    }
    let ipv6 = address.contains(':');
    if ipv6 && !bare_ipv6 {
        return Err("write an IPv6 address in brackets, such as [::1]:22".to_string());
    }
    let ok = address.chars().all(|c| {
        c.is_ascii_alphanumeric() || c == '.' || c == '-' || (ipv6 && (c == ':' || c == '%'))
    });
    if !ok {
        return Err("an address has only letters, digits, `.`, `-` (and `:` for IPv6)".to_string());
    }
    Ok(())
}

/// Splits `address[:port]` / `[ipv6][:port]` into the address (IPv6 without brackets) and the
/// port; the address must pass [`check_address`] and the port, when present, be 1..=65535.
///
/// # Errors
/// Why the text is not `address[:port]`, without the text itself.
pub(crate) fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (address, port) = if let Some(rest) = s.strip_prefix('[') {
        let (address, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing `]` after the IPv6 address".to_string())?;
        if address.is_empty() {
            return Err("the address is empty".to_string());
        }
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err("expected `:port` after `]`".to_string()),
            },
        }
    } else if s.matches(':').count() > 1 {
        // Bare IPv6: where the address ends and the port starts would be a guess.
        return Err("write an IPv6 address in brackets, such as [::1]:22".to_string());
    } else {
        match s.split_once(':') {
            Some((address, port)) => (address, Some(port)),
            None => (s, None),
        }
    };
    check_address(address, s.starts_with('['))?;
    let port = match port {
        None => None,
        // Digits only: u16::from_str would take `+22`.
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(format!("the port must be 1..=65535, got {p:?}")),
        },
    };
    Ok((address.to_string(), port))
}

/// A non-empty `host:port` ([`split_host_port`]), the port optional unless `port_required`.
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn check_host_port(s: &str, port_required: bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".to_string());
    }
    let (_, port) = split_host_port(s)?;
    if port_required && port.is_none() {
        return Err("the port is missing".to_string());
    }
    Ok(())
}

/// One Kafka bootstrap server (`brokers:`, one item of `--brokers`): `host[:port]`, as
/// librdkafka takes a broker without a port (it uses 9092).
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn check_broker(s: &str) -> Result<(), String> {
    check_host_port(s, false)
}

/// Where statsd metrics go (`statsd:`, `--statsd`): `host:port`, the port required, as
/// statsd has no port that everyone uses.
///
/// # Errors
/// Why it is not one, without the text itself.
pub(crate) fn check_statsd(s: &str) -> Result<(), String> {
    check_host_port(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_flight_are_bounded_and_the_defaults_always_fit() {
        use crate::manifest::{DEFAULT_BATCH_IN_FLIGHT, MAX_BATCH_IN_FLIGHT, MAX_BATCH_SIZE};
        assert_eq!(check_messages_in_flight(1, MAX_BATCH_SIZE), Ok(()));
        assert_eq!(check_messages_in_flight(MAX_BATCH_IN_FLIGHT, 100), Ok(()));
        // A consumer that only raises max_size never trips over the default in_flight.
        assert_eq!(
            check_messages_in_flight(DEFAULT_BATCH_IN_FLIGHT, MAX_BATCH_SIZE),
            Ok(())
        );
        assert_eq!(
            check_messages_in_flight(20, 10_000).unwrap_err(),
            "batch.in_flight (20) x batch.max_size (10000) is 200000 messages in flight; at \
             most 100000: lower one of them"
        );
    }

    #[test]
    fn consumer_names() {
        for ok in ["price_drops", "a", "x1", "_", "2024_orders"] {
            assert!(is_consumer_name(ok), "{ok}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "Price",
            "price-drops",
            "price drops",
            "a;rm",
            "ä",
            "a:1",
            &long,
        ] {
            assert!(!is_consumer_name(bad), "{bad}");
        }
        assert!(is_consumer_name(&"a".repeat(MAX_NAME_LEN)));
    }

    #[test]
    fn consumer_name_hints() {
        assert_eq!(snake_case("PriceDrops"), "price_drops");
        assert_eq!(snake_case("price-drops"), "price_drops");
        assert_eq!(snake_case("Price Drops!"), "price_drops");
        assert_eq!(
            consumer_name_hint("PriceDrops").as_deref(),
            Some("price_drops")
        );
        assert_eq!(consumer_name_hint("price_drops"), None);
        assert_eq!(consumer_name_hint("!!"), None);
    }

    #[test]
    fn role_names() {
        for ok in ["consumers", "web-1", "a_b"] {
            assert!(is_role_name(ok), "{ok}");
        }
        for bad in ["", "Web", "a b", "a.b", &"r".repeat(MAX_NAME_LEN + 1)] {
            assert!(!is_role_name(bad), "{bad}");
        }
    }

    #[test]
    fn app_names() {
        for ok in ["myapp", "My.App-2_x"] {
            assert!(is_app_name(ok), "{ok}");
        }
        for bad in ["", "my app", "a/b", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert!(!is_app_name(bad), "{bad}");
        }
    }

    #[test]
    fn topic_names() {
        for ok in ["product_changes", "a.b-C_9", &"t".repeat(249)] {
            assert!(is_topic_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "a,b", "a:b", &"t".repeat(250)] {
            assert!(!is_topic_name(bad), "{bad}");
        }
    }

    #[test]
    fn kafka_properties() {
        assert_eq!(check_kafka_property("fetch.max.bytes"), Ok(()));
        assert_eq!(
            check_kafka_property("group.id"),
            Err(
                "kafka property `group.id` cannot be set here: kafkactl sets it to \
                 <app>-<name>; change `app` or the consumer's name instead"
                    .to_string()
            )
        );
        for bad in ["", "Bad", "a b"] {
            let why = check_kafka_property(bad).unwrap_err();
            assert!(
                why.starts_with("kafka property names are librdkafka's"),
                "{why}"
            );
        }
    }

    #[test]
    fn env_names() {
        for ok in ["RAILS_ENV", "_x", "a1"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1X", "A-B", "A B"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn env_files() {
        assert_eq!(
            parse_env_file("/etc/kafkactl/app.env"),
            Ok(("/etc/kafkactl/app.env", false))
        );
        assert_eq!(
            parse_env_file("-config/secrets.env"),
            Ok(("config/secrets.env", true))
        );
        assert_eq!(parse_env_file(""), Err("the path is empty".to_string()));
        assert_eq!(
            parse_env_file("-"),
            Err("the path after `-` is empty".to_string())
        );
        for bad in ["a\0b", "a\nb", "\tx", "-x\u{7f}"] {
            assert!(
                parse_env_file(bad)
                    .unwrap_err()
                    .contains("control characters"),
                "{bad:?}"
            );
        }
        assert!(parse_env_file(" /x").unwrap_err().contains("whitespace"));
        assert!(parse_env_file("-/x ").unwrap_err().contains("whitespace"));
    }

    #[test]
    fn run_as() {
        let r = parse_run_as("app:www-data").unwrap();
        assert_eq!(
            (r.user.as_str(), r.group.as_deref()),
            ("app", Some("www-data"))
        );
        assert!(parse_run_as("-x").is_err());
    }

    #[test]
    fn ssh_users() {
        for ok in ["deploy", "ops.x-y_z"] {
            assert_eq!(check_ssh_user(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-oProxyCommand=x", "a b", "a@b"] {
            assert!(check_ssh_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(check_address("10.0.0.5", false), Ok(()));
        assert_eq!(check_address("kafka-1.example", false), Ok(()));
        assert_eq!(check_address("fe80::1%eth0", true), Ok(()));
        assert!(check_address("::1", false).is_err());
        assert!(check_address("", true).is_err());
        assert!(check_address("-h", true).is_err());
        assert!(check_address("a_b", true).is_err());
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            split_host_port("10.0.0.5:22"),
            Ok(("10.0.0.5".to_string(), Some(22)))
        );
        assert_eq!(
            split_host_port("[::1]:9092"),
            Ok(("::1".to_string(), Some(9092)))
        );
        assert_eq!(split_host_port("[::1]"), Ok(("::1".to_string(), None)));
        assert_eq!(split_host_port("kafka1"), Ok(("kafka1".to_string(), None)));
        for bad in [
            "::1",
            "h:0",
            "h:70000",
            "h:+22",
            "h:",
            "-oProxyCommand=x",
            "[::1",
            "[]:1",
            "[::1]x",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
        assert!(check_host_port("", false).is_err());
        assert!(check_host_port("h", true).is_err());
        assert!(check_host_port("h", false).is_ok());
    }

    #[test]
    fn brokers_and_statsd() {
        assert_eq!(check_broker("kafka1"), Ok(()));
        assert_eq!(check_broker("kafka1:9092"), Ok(()));
        assert_eq!(check_statsd("127.0.0.1:8125"), Ok(()));
        assert_eq!(
            check_statsd("localhost"),
            Err("the port is missing".to_string())
        );
        assert_eq!(check_broker(""), Err("it is empty".to_string()));
    }
}
