//! librdkafka settings: Rafka's JSON config file (`general`, `consumer`, `producer`), overrides,
//! and the settings the proxy insists on.

use rdkafka::ClientConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A set of librdkafka properties, kept as strings like librdkafka itself does.
pub type Properties = BTreeMap<String, String>;

/// Errors in a config file or in per-consumer overrides.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("config file {path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        source: serde_json::Error,
    },
    /// The JSON is valid but not shaped as expected.
    #[error("{0}")]
    Shape(String),
}

/// What a client may give one consumer property it sets through BLPOP's JSON.
#[derive(Debug, Clone, Copy)]
enum Allowed {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A comma-separated list of these words.
    ListOf(&'static [&'static str]),
    /// An integer in this range.
    Range(i64, i64),
    /// `true` or `false`.
    Bool,
    /// A short label: letters, digits, `.`, `_`, `-`, `:`, at most 64 bytes.
    Label,
}

/// Largest fetch or prefetch a client may ask for: the proxy's own prefetch cap
/// (`queued.max.messages.kbytes` 2048), so one connection cannot make the proxy buffer more.
const PREFETCH_CAP_BYTES: i64 = 2048 * 1024;

/// The consumer properties a client may set for its own consumer (BLPOP's JSON), with their
/// bounds: where to start, how it joins its group, how much it fetches within the proxy's
/// caps, and what Rafka's documented uses set. Everything else (brokers, security, SASL, SSL,
/// plugins, ...) is the operator's, in the proxy's config file: a client that could set
/// `bootstrap.servers` would point the proxy (and its credentials) elsewhere, and
/// `plugin.library.paths` makes librdkafka dlopen() a path.
const CLIENT_SETTABLE: &[(&str, Allowed)] = &[
    (
        "auto.offset.reset",
        Allowed::OneOf(&[
            "earliest",
            "latest",
            "smallest",
            "largest",
            "beginning",
            "end",
            "error",
        ]),
    ),
    ("group.protocol", Allowed::OneOf(&["classic", "consumer"])),
    (
        "group.remote.assignor",
        Allowed::OneOf(&["uniform", "range"]),
    ),
    (
        "partition.assignment.strategy",
        Allowed::ListOf(&["range", "roundrobin", "cooperative-sticky"]),
    ),
    ("session.timeout.ms", Allowed::Range(1_000, 300_000)),
    ("heartbeat.interval.ms", Allowed::Range(100, 60_000)),
    ("max.poll.interval.ms", Allowed::Range(1_000, 3_600_000)),
    ("auto.commit.interval.ms", Allowed::Range(100, 60_000)),
    ("fetch.wait.max.ms", Allowed::Range(0, 10_000)),
    ("fetch.min.bytes", Allowed::Range(1, PREFETCH_CAP_BYTES)),
    ("fetch.max.bytes", Allowed::Range(1_024, PREFETCH_CAP_BYTES)),
    (
        "max.partition.fetch.bytes",
        Allowed::Range(1_024, PREFETCH_CAP_BYTES),
    ),
    (
        "fetch.message.max.bytes",
        Allowed::Range(1_024, PREFETCH_CAP_BYTES),
    ),
    (
        "queued.max.messages.kbytes",
        Allowed::Range(1, PREFETCH_CAP_BYTES / 1024),
    ),
    ("queued.min.messages", Allowed::Range(1, 100_000)),
    (
        "isolation.level",
        Allowed::OneOf(&["read_committed", "read_uncommitted"]),
    ),
    ("check.crcs", Allowed::Bool),
    ("client.rack", Allowed::Label),
];

/// Checks one property a client asked for against [`CLIENT_SETTABLE`]; the error names the
/// key and what would be accepted.
fn check_client_property(key: &str, value: &str) -> Result<(), String> {
    let Some((_, allowed)) = CLIENT_SETTABLE.iter().find(|(k, _)| *k == key) else {
        let keys: Vec<&str> = CLIENT_SETTABLE.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "{key} cannot be set per consumer; a client may set {}. Other settings belong in \
             the proxy's config file",
            keys.join(", ")
        ));
    };
    let ok = match *allowed {
        Allowed::OneOf(words) => words.contains(&value),
        Allowed::ListOf(words) => value.split(',').all(|w| words.contains(&w.trim())),
        Allowed::Range(low, high) => value
            .parse::<i64>()
            .is_ok_and(|n| (low..=high).contains(&n)),
        Allowed::Bool => value == "true" || value == "false",
        Allowed::Label => {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        }
    };
    if ok {
        return Ok(());
    }
    let expected = match *allowed {
        Allowed::OneOf(words) => format!("one of {}", words.join(", ")),
        Allowed::ListOf(words) => format!("a comma-separated list of {}", words.join(", ")),
        Allowed::Range(low, high) => format!("an integer from {low} to {high}"),
        Allowed::Bool => "true or false".to_string(),
        Allowed::Label => "a label of at most 64 letters, digits, '.', '_', '-' or ':'".to_string(),
    };
    Err(format!(
        "{key} {value:?} is not accepted per consumer: expected {expected}"
    ))
}

/// The librdkafka settings of a Rafka config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Applies to consumers and producers.
    pub general: Properties,
    /// Consumers only.
    pub consumer: Properties,
    /// The producer only.
    pub producer: Properties,
}

/// Classic-protocol group settings that librdkafka refuses under `group.protocol=consumer`
/// (KIP-848 moves them to the broker). Shared Rafka configs often set them in `general`.
pub const CLASSIC_ONLY: [&str; 4] = [
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "group.protocol.type",
];

/// Settings every proxy consumer must have: offsets are stored only when a client acks, and
/// librdkafka commits the stored offsets periodically and on close.
pub const REQUIRED_CONSUMER: [(&str, &str); 2] = [
    ("enable.auto.commit", "true"),
    ("enable.auto.offset.store", "false"),
];

impl KafkaSettings {
    /// Reads a Rafka JSON config file.
    pub fn from_file(path: &Path) -> Result<KafkaSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ConfigError::Json { source, .. } => ConfigError::Json {
                path: path.display().to_string(),
                source,
            },
            ConfigError::Shape(msg) => ConfigError::Shape(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parses a Rafka JSON config. A top-level `librdkafka` object (an older Rafka layout) is
    /// looked into; keys starting with `go.` are Go-client settings and are skipped.
    pub fn from_json(text: &str) -> Result<KafkaSettings, ConfigError> {
        let root: Value = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            path: String::new(),
            source,
        })?;
        let root = match root.get("librdkafka") {
            Some(inner) if inner.is_object() => inner.clone(),
            _ => root,
        };
        let Value::Object(map) = root else {
            return Err(ConfigError::Shape(
                "expected a JSON object with \"general\", \"consumer\" and \"producer\" objects"
                    .into(),
            ));
        };
        let mut settings = KafkaSettings::default();
        for (section, value) in map {
            let target = match section.as_str() {
                "general" => &mut settings.general,
                "consumer" => &mut settings.consumer,
                "producer" => &mut settings.producer,
                other => {
                    return Err(ConfigError::Shape(format!(
                        "unknown section \"{other}\" (expected \"general\", \"consumer\" or \"producer\")"
                    )))
                }
            };
            *target = properties_from_json(&value, &section)?;
        }
        Ok(settings)
    }

    /// Checks that the consumer section does not contradict [`REQUIRED_CONSUMER`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, required) in REQUIRED_CONSUMER {
            for section in [&self.general, &self.consumer] {
                if let Some(value) = section.get(key) {
                    if value != required {
                        return Err(ConfigError::Shape(format!(
                            "\"{key}\" must be {required} for the proxy's consumers (offsets are stored only when a client acks), got {value}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The producer's librdkafka config: proxy defaults, then `general`, then `producer`.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        // Bounded memory: librdkafka's default queue is 1 GB; ours is far smaller, and a
        // full queue applies backpressure to clients instead of growing.
        config.set("queue.buffering.max.kbytes", "65536");
        config.set("queue.buffering.max.messages", "200000");
        config.set("linger.ms", "5");
        apply(&mut config, &self.general);
        apply(&mut config, &self.producer);
        config
    }

    /// A consumer's librdkafka config: proxy defaults, `general`, `consumer`, the client's own
    /// overrides, then the required settings and identity.
    pub fn consumer_config(
        &self,
        group_id: &str,
        client_id: &str,
        overrides: &Properties,
    ) -> Result<ClientConfig, String> {
        for (key, required) in REQUIRED_CONSUMER {
            if let Some(value) = overrides.get(key) {
                if value != required {
                    return Err(format!(
                        "{key} cannot be overridden (it must be {required})"
                    ));
                }
            }
        }
        for key in ["group.id", "client.id"] {
            if overrides.contains_key(key) {
                return Err(format!(
                    "{key} is set by CLIENT SETNAME and cannot be overridden"
                ));
            }
        }
        for (key, value) in overrides {
            if REQUIRED_CONSUMER.iter().any(|(k, _)| k == key) {
                continue; // checked above: only the value the proxy sets anyway
            }
            check_client_property(key, value)?;
        }
        let mut config = ClientConfig::new();
        // A librdkafka consumer prefetches up to 64 MB (and 100k messages) by default; with one consumer per
        // connection that would make the proxy's memory grow with its client count.
        config.set("queued.max.messages.kbytes", "2048");
        config.set("queued.min.messages", "20000");
        // Once that queue is full librdkafka waits fetch.queue.backoff.ms before fetching again;
        // its default of 1 s left a client faster than ~20k msgs/s (BLMPOP batches) idle for
        // most of each second: 22-25k against 74k msgs/s for one Ruby client in
        // scripts/bench-proxy.sh. The worker sets the same. The operator's file may override it.
        config.set("fetch.queue.backoff.ms", "10");
        config.set("auto.offset.reset", "earliest");
        config.set("enable.partition.eof", "false");
        config.set("auto.commit.interval.ms", "1000");
        apply(&mut config, &self.general);
        apply(&mut config, &self.consumer);
        if config.get("group.protocol") == Some("consumer") {
            for key in CLASSIC_ONLY {
                if config.get(key).is_some() {
                    tracing::debug!(key, "ignored under group.protocol=consumer");
                    config.remove(key);
                }
            }
        }
        apply(&mut config, overrides);
        for (key, value) in REQUIRED_CONSUMER {
            config.set(key, value);
        }
        config.set("group.id", group_id);
        config.set("client.id", client_id);
        Ok(config)
    }

    /// Replaces `bootstrap.servers` (the `--brokers` flag).
    pub fn set_brokers(&mut self, brokers: &str) {
        self.general
            .insert("bootstrap.servers".into(), brokers.to_string());
        self.consumer.remove("bootstrap.servers");
        self.producer.remove("bootstrap.servers");
    }
}

fn apply(config: &mut ClientConfig, props: &Properties) {
    for (key, value) in props {
        config.set(key, value);
    }
}

/// Converts a JSON object of librdkafka properties into strings, skipping Go-only `go.*`
/// keys. `context` names the object in error messages.
pub fn properties_from_json(value: &Value, context: &str) -> Result<Properties, ConfigError> {
    let Value::Object(map) = value else {
        return Err(ConfigError::Shape(format!(
            "\"{context}\" must be a JSON object of librdkafka properties"
        )));
    };
    let mut props = Properties::new();
    for (key, value) in map {
        if key.starts_with("go.") {
            tracing::debug!(key, section = context, "skipping Go-client-only setting");
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(ConfigError::Shape(format!(
                    "\"{context}\".\"{key}\" must be a string, number or boolean, got {other}"
                )))
            }
        };
        props.insert(key.clone(), text);
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAFKA_TEST_CONFIG: &str = r#"{
 "general": {"bootstrap.servers": "kc1:9092", "session.timeout.ms": 2000, "log_level": 0,
             "api.version.request": true},
 "consumer": {"go.events.channel.enable": false, "enable.auto.commit": true,
              "enable.auto.offset.store": false, "auto.offset.reset": "earliest"},
 "producer": {"go.delivery.reports": true, "queue.buffering.max.ms": 0}
}"#;

    #[test]
    fn reads_rafkas_format_and_skips_go_keys() {
        let s = KafkaSettings::from_json(RAFKA_TEST_CONFIG).unwrap();
        assert_eq!(s.general["session.timeout.ms"], "2000");
        assert_eq!(s.general["api.version.request"], "true");
        assert!(!s.consumer.contains_key("go.events.channel.enable"));
        assert!(!s.producer.contains_key("go.delivery.reports"));
        assert_eq!(s.producer["queue.buffering.max.ms"], "0");
        s.validate().unwrap();
    }

    #[test]
    fn accepts_the_nested_librdkafka_layout() {
        let s = KafkaSettings::from_json(r#"{"librdkafka": {"general": {"a.b": "c"}}}"#).unwrap();
        assert_eq!(s.general["a.b"], "c");
    }

    #[test]
    fn rejects_unknown_sections_and_nested_values() {
        let e = KafkaSettings::from_json(r#"{"generl": {}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown section \"generl\""), "{e}");
        let e = KafkaSettings::from_json(r#"{"general": {"x": [1]}}"#).unwrap_err();
        assert!(e.to_string().contains("\"general\".\"x\""), "{e}");
        let e = KafkaSettings::from_json("[1]").unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
    }

    #[test]
    fn refuses_auto_offset_store() {
        let s = KafkaSettings::from_json(r#"{"consumer": {"enable.auto.offset.store": true}}"#)
            .unwrap();
        assert!(s.validate().is_err());
    }

    #[test]
    fn consumer_overrides_cannot_touch_required_or_identity() {
        let s = KafkaSettings::default();
        let mut o = Properties::new();
        o.insert("enable.auto.commit".into(), "false".into());
        assert!(s.consumer_config("g", "c", &o).is_err());
        let mut o = Properties::new();
        o.insert("group.id".into(), "x".into());
        assert!(s.consumer_config("g", "c", &o).is_err());
        let mut o = Properties::new();
        o.insert("auto.offset.reset".into(), "latest".into());
        let c = s.consumer_config("g", "c", &o).unwrap();
        assert_eq!(c.get("auto.offset.reset"), Some("latest"));
        assert_eq!(c.get("group.id"), Some("g"));
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
    }

    #[test]
    fn clients_may_set_only_allowlisted_consumer_properties_within_bounds() {
        let s = KafkaSettings::default();
        let with = |key: &str, value: &str| {
            let mut o = Properties::new();
            o.insert(key.into(), value.into());
            s.consumer_config("g", "c", &o).map(|_| ())
        };
        for (key, value) in [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("plugin.library.paths", "/nonexistent/libx.so"),
            ("security.protocol", "plaintext"),
            ("sasl.username", "x"),
            ("ssl.ca.location", "/etc/passwd"),
            ("enable.partition.eof", "true"),
            ("no.such.setting", "1"),
        ] {
            let err = with(key, value).unwrap_err();
            assert!(
                err.starts_with(&format!("{key} cannot be set per consumer")),
                "{err}"
            );
        }
        let err = with("fetch.max.bytes", "104857600").unwrap_err();
        assert!(err.contains("from 1024 to 2097152"), "{err}");
        let err = with("queued.max.messages.kbytes", "65536").unwrap_err();
        assert!(err.contains("queued.max.messages.kbytes"), "{err}");
        assert!(with("auto.offset.reset", "sideways").is_err());
        assert!(with("session.timeout.ms", "2000").is_ok());
        assert!(with("session.timeout.ms", "1e9").is_err());
        assert!(with("partition.assignment.strategy", "range, cooperative-sticky").is_ok());
        assert!(with("client.rack", "rack:1").is_ok());
        assert!(with("client.rack", "rack\n1").is_err());
        assert!(with("auto.offset.reset", "latest").is_ok());
    }

    #[test]
    fn the_consumer_protocol_drops_inherited_classic_settings() {
        let s = KafkaSettings::from_json(
            r#"{"general": {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500},
                "consumer": {"group.protocol": "consumer"}}"#,
        )
        .unwrap();
        let c = s.consumer_config("g", "c", &Properties::new()).unwrap();
        assert_eq!(c.get("session.timeout.ms"), None);
        assert_eq!(c.get("heartbeat.interval.ms"), None);
        let classic = KafkaSettings::from_json(r#"{"general": {"session.timeout.ms": 2000}}"#)
            .unwrap()
            .consumer_config("g", "c", &Properties::new())
            .unwrap();
        assert_eq!(classic.get("session.timeout.ms"), Some("2000"));
    }

    #[test]
    fn a_full_prefetch_queue_is_refilled_within_10_ms_unless_the_operator_says_otherwise() {
        let c = KafkaSettings::default()
            .consumer_config("g", "c", &Properties::new())
            .unwrap();
        assert_eq!(c.get("queued.max.messages.kbytes"), Some("2048"));
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("10"));
        let operator = KafkaSettings::from_json(r#"{"consumer": {"fetch.queue.backoff.ms": 500}}"#)
            .unwrap()
            .consumer_config("g", "c", &Properties::new())
            .unwrap();
        assert_eq!(operator.get("fetch.queue.backoff.ms"), Some("500"));
    }

    #[test]
    fn brokers_flag_wins_over_every_section() {
        let mut s = KafkaSettings::from_json(
            r#"{"general": {"bootstrap.servers": "a"}, "producer": {"bootstrap.servers": "b"}}"#,
        )
        .unwrap();
        s.set_brokers("127.0.0.1:1");
        assert_eq!(
            s.producer_config().get("bootstrap.servers"),
            Some("127.0.0.1:1")
        );
    }
}
