//! Which keys each mapping of the manifest accepts, the librdkafka properties kafkactl sets
//! itself (so `kafka:` may not), and the unknown-key report that lists the accepted keys.
//!
//! These lists are the schema's vocabulary: the checker, the error messages ("accepted keys:
//! ...") and `docs/manifest.md` all follow them, so a new key starts here.

use super::build::Checker;
use super::yaml::Entry;
use std::collections::BTreeMap;

/// Keys of the extended form's top-level mapping.
pub(crate) const TOP_KEYS: &[&str] = &[
    "app",
    "brokers",
    "statsd",
    "run_as",
    "defaults",
    "hosts",
    "roles",
    "consumers",
];
/// Keys of one consumer.
pub(crate) const CONSUMER_KEYS: &[&str] = &[
    "name", "topic", "topics", "command", "scale", "role", "hosts", "batch", "retry", "kafka",
    "env", "env_file",
];
/// Keys of `defaults:` (a consumer's, less what must be per consumer).
pub(crate) const DEFAULTS_KEYS: &[&str] = &[
    "command", "scale", "role", "hosts", "batch", "retry", "kafka", "env", "env_file",
];
/// Keys of `batch:`.
pub(crate) const BATCH_KEYS: &[&str] = &["max_size", "max_wait_ms", "in_flight"];
/// Keys of `retry:`.
pub(crate) const RETRY_KEYS: &[&str] = &[
    "max_attempts",
    "backoff_ms",
    "max_backoff_ms",
    "on_exhausted",
    "dead_letter_topic",
];
/// Keys of a host written as a mapping.
pub(crate) const HOST_KEYS: &[&str] = &["address", "port", "user", "identity_file"];

/// librdkafka properties that kafkactl sets itself, each with why: the one list of them,
/// enforced when the manifest loads (so `deploy --dry-run` says what the worker would refuse
/// at start). The worker sets them last regardless (`worker::settings`).
pub(crate) const RESERVED_KAFKA: &[(&str, &str)] = &[
    (
        "group.id",
        "kafkactl sets it to <app>-<name>; change `app` or the consumer's name instead",
    ),
    (
        "client.id",
        "kafkactl sets it to <host>-<name>-<n>, which names the instance in lag and logs",
    ),
    ("bootstrap.servers", "use the top-level `brokers:` instead"),
    (
        "enable.auto.offset.store",
        "the worker stores an offset only after the handler acked it (at least once)",
    ),
    (
        "enable.auto.commit",
        "the worker commits what the handler acked, periodically and on every rebalance",
    ),
];

/// Why `key` may not be set in `kafka:` (from [`RESERVED_KAFKA`]); `None` when it may.
pub(crate) fn reserved_kafka(key: &str) -> Option<&'static str> {
    RESERVED_KAFKA
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, why)| *why)
}

impl Checker<'_> {
    /// Reports every key that is not in `accepted`, with the accepted keys (`place` says
    /// where: "at the top level", "in consumer `x`", ...).
    pub(super) fn keys(&mut self, entries: &[Entry], accepted: &[&str], place: &str) {
        for e in entries {
            if accepted.contains(&e.key.as_str()) {
                continue;
            }
            // `<<` parses as a plain key here (the YAML reader does not expand merge keys),
            // so say what to use instead rather than "unknown key `<<`".
            let mut msg = if e.key == "<<" {
                format!(
                    "YAML merge keys (`<<`) are not supported {place}; put shared consumer \
                     settings under `defaults:`"
                )
            } else {
                format!("unknown key `{}` {place}", e.key)
            };
            // A typo gets the closest key; a right key in the wrong mapping gets where it goes.
            if let Some(s) = suggest(&e.key, accepted) {
                msg.push_str(&format!(" (did you mean `{s}`?)"));
            } else if accepted == DEFAULTS_KEYS && CONSUMER_KEYS.contains(&e.key.as_str()) {
                msg.push_str(&format!(
                    " (`{}` is set per consumer, it has no default)",
                    e.key
                ));
            } else if accepted == TOP_KEYS && CONSUMER_KEYS.contains(&e.key.as_str()) {
                msg.push_str(
                    " (a consumer? in the seed form each consumer starts with `- `; in the \
                     extended form consumers go under `consumers:`)",
                );
            }
            msg.push_str(&format!("; accepted keys: {}", accepted.join(", ")));
            self.err(e.key_pos, msg);
        }
    }
}

/// The accepted word closest to a mistyped one, when it is close (for keys and role names).
pub(super) fn suggest<'a>(word: &str, accepted: &[&'a str]) -> Option<&'a str> {
    accepted
        .iter()
        .map(|a| (edit_distance(word, a), *a))
        // Close enough to be a typo, and not so far that a short word matches anything.
        .filter(|(d, a)| *d < a.len() && *d <= 2.min(a.len() / 2).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// librdkafka properties of a consumer's `kafka:` that are about reaching the brokers, and so
/// apply to every other client kafkactl makes for the consumer too: the lag reader and the
/// worker's dead-letter producer.
pub(crate) fn connection_settings(kafka: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    const PREFIXES: [&str; 6] = [
        "security.",
        "ssl.",
        "sasl.",
        "socket.",
        "broker.address.",
        "client.dns.",
    ];
    kafka
        .iter()
        .filter(|(k, _)| PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("topicz", CONSUMER_KEYS), Some("topic"));
        assert_eq!(suggest("scael", CONSUMER_KEYS), Some("scale"));
        assert_eq!(suggest("consumer", TOP_KEYS), Some("consumers"));
        assert_eq!(suggest("zzzzzz", CONSUMER_KEYS), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn defaults_keys_are_consumer_keys() {
        for key in DEFAULTS_KEYS {
            assert!(CONSUMER_KEYS.contains(key), "{key}");
        }
    }

    #[test]
    fn reserved_kafka_properties() {
        assert!(reserved_kafka("group.id").unwrap().contains("<app>-<name>"));
        assert!(reserved_kafka("enable.auto.commit").is_some());
        assert_eq!(reserved_kafka("fetch.max.bytes"), None);
    }

    #[test]
    fn only_connection_settings_carry_over() {
        let kafka = BTreeMap::from([
            ("security.protocol".to_string(), "SSL".to_string()),
            ("ssl.ca.location".to_string(), "/etc/ca.pem".to_string()),
            ("group.protocol".to_string(), "consumer".to_string()),
            ("fetch.min.bytes".to_string(), "10".to_string()),
        ]);
        let kept: Vec<String> = connection_settings(&kafka).into_keys().collect();
        assert_eq!(kept, ["security.protocol", "ssl.ca.location"]);
    }
}
