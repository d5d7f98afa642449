//! Everything one worker instance needs, resolved from the manifest, the instance argument,
//! flags and the host name before anything starts (pure).

use super::protocol::{ToHandler, VERSION};
use crate::kafka::config::REQUIRED_CONSUMER;
use crate::manifest::keys::connection_settings;
use crate::manifest::rules;
use crate::manifest::{ConsumerSpec, EnvFile, Manifest};
use crate::units::Instance;
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::path::Path;

/// A resolved worker instance.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Which instance (`price_drops:1`).
    pub instance: Instance,
    /// Its consumer, defaults applied.
    pub consumer: ConsumerSpec,
    /// Consumer group: `<app>-<name>`.
    pub group: String,
    /// Client id: `<hostname>-<name>-<n>`, as the seed's rake task made it.
    pub client_id: String,
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Where statsd metrics go, if anywhere.
    pub statsd: Option<String>,
}

/// Settings the worker sets unless the manifest's `kafka:` says otherwise.
const WORKER_DEFAULTS: [(&str, &str); 7] = [
    ("auto.offset.reset", "earliest"),
    ("auto.commit.interval.ms", "1000"),
    ("enable.partition.eof", "false"),
    // librdkafka prefetches up to 64 MB per consumer by default; a worker hands messages to
    // one handler at a time and needs far less to stay busy.
    ("queued.max.messages.kbytes", "1024"),
    ("queued.min.messages", "1000"),
    // Once the prefetch queue is full librdkafka waits this long before fetching again; its
    // default of 1 s left a fast handler idle for most of each second (22k vs 70k msgs/s in
    // scripts/bench-worker.sh).
    ("fetch.queue.backoff.ms", "10"),
    // Per-partition lag for the metrics, and the group state that tells an instance without
    // partitions that it has joined (READY=1).
    ("statistics.interval.ms", "1000"),
];

/// Resolves an instance. `brokers_flag` and `statsd_flag` come from `--brokers` /
/// `KAFKACTL_BROKERS` and `--statsd` / `KAFKACTL_STATSD`: a flag wins over the manifest.
///
/// # Errors
/// What is missing or wrong, naming the manifest and the consumer.
pub fn resolve(
    manifest: &Manifest,
    instance: &Instance,
    hostname: &str,
    brokers_flag: Option<&str>,
    statsd_flag: Option<&str>,
) -> Result<WorkerSettings, String> {
    let path = manifest.path.display();
    let consumer = manifest.consumer(&instance.name).ok_or_else(|| {
        let known: Vec<&str> = manifest.consumers.iter().map(|c| c.name.as_str()).collect();
        format!(
            "{path}: no consumer named `{}` (the manifest has: {})",
            instance.name,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )
    })?;
    let pos = consumer.pos;
    if consumer.topics.is_empty() {
        return Err(format!(
            "{path}:{}:{}: consumer `{}` has no `topic:` to consume",
            pos.line, pos.column, consumer.name
        ));
    }
    if consumer.command.is_none() {
        return Err(format!(
            "{path}:{}:{}: consumer `{}` has no `command:` (the handler the worker runs)",
            pos.line, pos.column, consumer.name
        ));
    }
    let brokers = match brokers_flag.filter(|b| !b.trim().is_empty()) {
        Some(b) => {
            // The same rule the manifest's `brokers:` is held to.
            for broker in b.split(',').map(str::trim) {
                rules::check_broker(broker)
                    .map_err(|why| format!("--brokers / KAFKACTL_BROKERS `{broker}`: {why}"))?;
            }
            b.trim().to_string()
        }
        None => manifest.bootstrap_servers().ok_or_else(|| {
            format!("{path}: no brokers: set `brokers:` in the manifest, or KAFKACTL_BROKERS")
        })?,
    };
    let statsd = statsd_flag
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            rules::check_statsd(s.trim())
                .map(|()| s.trim().to_string())
                .map_err(|why| format!("--statsd / KAFKACTL_STATSD `{s}`: {why}"))
        })
        .transpose()?
        .or_else(|| manifest.statsd.clone());
    Ok(WorkerSettings {
        instance: instance.clone(),
        group: consumer.group_id(&manifest.app),
        client_id: format!("{hostname}-{}-{}", consumer.name, instance.index),
        consumer: consumer.clone(),
        brokers,
        statsd,
    })
}

impl WorkerSettings {
    /// The consumer's librdkafka config: worker defaults, the manifest's `kafka:`, then what
    /// at-least-once requires (offsets stored only after an ack, committed periodically).
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in WORKER_DEFAULTS {
            config.set(key, value);
        }
        config.set("queued.min.messages", self.prefetch_messages().to_string());
        // The manifest refused every property kafkactl sets itself when it loaded
        // (manifest::RESERVED_KAFKA); the required ones are set again last regardless.
        for (key, value) in &self.consumer.kafka {
            config.set(key, value);
        }
        for (key, value) in REQUIRED_CONSUMER {
            config.set(key, value);
        }
        config.set("bootstrap.servers", &self.brokers);
        config.set("group.id", &self.group);
        config.set("client.id", &self.client_id);
        config
    }

    /// The dead-letter producer's configuration: the consumer's connection settings
    /// (`security.*`, `ssl.*`, `sasl.*`, ...: it must reach the same brokers the same way),
    /// then what dead-lettering needs (every replica acknowledges, no duplicates).
    pub fn dead_letter_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in connection_settings(&self.consumer.kafka) {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", format!("{}-dead-letters", self.client_id))
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0");
        config
    }

    /// Messages librdkafka keeps prefetched per partition: enough for a few batches.
    fn prefetch_messages(&self) -> u32 {
        (self.consumer.batch.max_size * 4).clamp(1_000, 100_000)
    }

    /// Who the handler works for, in its environment (over `env:` and `env_file:`).
    pub fn worker_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("KAFKACTL_CONSUMER".into(), self.consumer.name.clone());
        env.insert("KAFKACTL_INSTANCE".into(), self.instance.index.to_string());
        env.insert("KAFKACTL_GROUP".into(), self.group.clone());
        env.insert("KAFKACTL_CLIENT_ID".into(), self.client_id.clone());
        env.insert("KAFKACTL_TOPICS".into(), self.consumer.topics.join(","));
        env
    }

    /// The consumer's `env_file:`, a relative path taken from `root` (the app's root: the
    /// worker's working directory).
    pub fn env_file(&self, root: &Path) -> Option<EnvFile> {
        self.consumer.env_file.as_ref().map(|file| EnvFile {
            path: file.resolve(root),
            optional: file.optional,
        })
    }

    /// The `init` line.
    pub fn init_message(&self) -> ToHandler {
        ToHandler::Init {
            version: VERSION,
            consumer: self.consumer.name.clone(),
            instance: self.instance.index,
            group: self.group.clone(),
            topics: self.consumer.topics.clone(),
        }
    }
}

/// This machine's host name, as `hostname` prints it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, "kc.yml").unwrap()
    }

    const GOOD: &str = "app: myapp\nbrokers: [k1:9092, k2:9092]\nstatsd: 127.0.0.1:8125\nconsumers:\n  - name: price_drops\n    topic: product_changes\n    command: ruby handler.rb\n    kafka:\n      fetch.min.bytes: 10\n    env:\n      LOG_LEVEL: debug\n";

    #[test]
    fn resolves_group_client_id_and_brokers_like_the_seed() {
        let m = manifest(GOOD);
        let s = resolve(&m, &Instance::new("price_drops", 2), "server1", None, None).unwrap();
        assert_eq!(s.group, "myapp-price_drops");
        assert_eq!(s.client_id, "server1-price_drops-2");
        assert_eq!(s.brokers, "k1:9092,k2:9092");
        assert_eq!(s.statsd.as_deref(), Some("127.0.0.1:8125"));
        let config = s.consumer_config();
        assert_eq!(config.get("group.id"), Some("myapp-price_drops"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("fetch.min.bytes"), Some("10"));
        assert_eq!(s.consumer.env["LOG_LEVEL"], "debug");
        assert_eq!(s.worker_env()["KAFKACTL_INSTANCE"], "2");
        // Flags win over the manifest.
        let s = resolve(
            &m,
            &Instance::new("price_drops", 1),
            "h",
            Some("127.0.0.1:1"),
            Some("10.0.0.1:8125"),
        )
        .unwrap();
        assert_eq!(s.brokers, "127.0.0.1:1");
        assert_eq!(s.statsd.as_deref(), Some("10.0.0.1:8125"));
    }

    #[test]
    fn a_relative_env_file_starts_at_the_apps_root() {
        let m = manifest(&GOOD.replace("    env:\n", "    env_file: -config/app.env\n    env:\n"));
        let s = resolve(&m, &Instance::new("price_drops", 1), "h", None, None).unwrap();
        let file = s.env_file(Path::new("/srv/myapp/current")).unwrap();
        assert_eq!(file.path, Path::new("/srv/myapp/current/config/app.env"));
        assert!(file.optional);
        let m = manifest(&GOOD.replace("    env:\n", "    env_file: /etc/myapp.env\n    env:\n"));
        let s = resolve(&m, &Instance::new("price_drops", 1), "h", None, None).unwrap();
        let file = s.env_file(Path::new("/srv/myapp/current")).unwrap();
        assert_eq!(file.path, Path::new("/etc/myapp.env"));
        assert!(!file.optional);
        let s = resolve(
            &manifest(GOOD),
            &Instance::new("price_drops", 1),
            "h",
            None,
            None,
        );
        assert_eq!(s.unwrap().env_file(Path::new("/srv")), None);
    }

    #[test]
    fn refuses_what_cannot_run() {
        let m = manifest(GOOD);
        let err = resolve(&m, &Instance::new("nope", 1), "h", None, None).unwrap_err();
        assert_eq!(
            err,
            "kc.yml: no consumer named `nope` (the manifest has: price_drops)"
        );
        let seed = manifest("- name: price_drops\n  scale: 2\n");
        let err = resolve(&seed, &Instance::new("price_drops", 1), "h", None, None).unwrap_err();
        assert_eq!(
            err,
            "kc.yml:1:3: consumer `price_drops` has no `topic:` to consume"
        );
        // Flags are held to the manifest's rules.
        let one = Instance::new("price_drops", 1);
        let err = resolve(&m, &one, "h", Some("k1:9092,k2:99999"), None).unwrap_err();
        assert!(
            err.starts_with("--brokers / KAFKACTL_BROKERS `k2:99999`"),
            "{err}"
        );
        let err = resolve(&m, &one, "h", None, Some("localhost")).unwrap_err();
        assert!(
            err.starts_with("--statsd / KAFKACTL_STATSD `localhost`"),
            "{err}"
        );
        let no_brokers = manifest("consumers:\n  - name: a\n    topic: t\n    command: [./h]\n");
        let err = resolve(&no_brokers, &Instance::new("a", 1), "h", None, None).unwrap_err();
        assert!(err.contains("no brokers"), "{err}");
    }

    #[test]
    fn kafka_overrides_cannot_break_at_least_once() {
        let text = GOOD.replace("fetch.min.bytes: 10", "enable.auto.offset.store: true");
        let err = Manifest::parse(&text, "kc.yml").unwrap_err().to_string();
        assert!(
            err.contains("kafka property `enable.auto.offset.store` cannot be set here"),
            "{err}"
        );
        // What the worker sets last wins over anything a manifest could carry.
        let m = manifest(GOOD);
        let s = resolve(&m, &Instance::new("price_drops", 1), "h", None, None).unwrap();
        let config = s.consumer_config();
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("enable.auto.commit"), Some("true"));
    }

    #[test]
    fn the_dead_letter_producer_reaches_the_brokers_as_the_consumer_does() {
        let text = GOOD.replace(
            "fetch.min.bytes: 10",
            "security.protocol: SASL_SSL\n      sasl.mechanisms: PLAIN\n      \
             sasl.username: app\n      fetch.min.bytes: 10",
        );
        let m = manifest(&text);
        let s = resolve(&m, &Instance::new("price_drops", 1), "h", None, None).unwrap();
        let config = s.dead_letter_config();
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanisms"), Some("PLAIN"));
        assert_eq!(config.get("sasl.username"), Some("app"));
        assert_eq!(config.get("fetch.min.bytes"), None, "a consumer setting");
        assert_eq!(config.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(
            config.get("client.id"),
            Some("h-price_drops-1-dead-letters")
        );
    }
}
