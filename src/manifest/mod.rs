//! The consumer manifest (`config/kafka_consumers.yml`): which consumers run, how many
//! instances of each on every host, and how.
//!
//! Pure logic: reading a file is the only I/O. [`Manifest::load`] / [`Manifest::parse`] read
//! the YAML, apply defaults and check everything before anything acts on it; every problem is
//! reported at once as `FILE:LINE:COLUMN: what is wrong, what is expected` (see
//! [`ManifestError`]). `docs/manifest.md` describes the format for users.
//!
//! Two forms are accepted:
//! - the seed form, a list of consumers: `- name: "price_drops"` / `  scale: 2`;
//! - the extended form, a mapping of settings (`app`, `brokers`, `statsd`, `run_as`, `defaults`,
//!   `hosts`, `roles`) with the list under `consumers:`.
//!
//! Inside, where each rule lives:
//! - `yaml`: the text to a tree of positioned nodes (saphyr-parser events); syntax, duplicate
//!   keys, anchors, one document;
//! - `build`: the walk over that tree (the two forms, top-level settings, each consumer's
//!   name and topics), collecting problems;
//! - `keys`: the keys each mapping accepts, and the librdkafka properties kafkactl reserves;
//! - `rules`: every rule for a single value (consumer, role and topic names, addresses,
//!   `host:port`, ...), for the commands and the worker too;
//! - `hosts`: [`Host`], [`Placement`], the fleet, `hosts:` / `roles:` / `role:`;
//! - `resolve`: the settings `defaults:` and a consumer share, and how they are layered;
//! - `error`: [`ManifestError`] and its `FILE:LINE:COLUMN` lines.

mod build;
mod error;
mod hosts;
pub(crate) mod keys;
mod resolve;
pub(crate) mod rules;
mod yaml;

pub use error::{ManifestError, Pos, Problem};
pub use hosts::{Host, Placement};

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the manifest is looked for when neither `-f/--manifest` nor `KAFKACTL_MANIFEST` says.
pub const DEFAULT_PATH: &str = "config/kafka_consumers.yml";
/// The app name when the manifest has no `app:`; consumer group ids are `<app>-<name>`.
pub const DEFAULT_APP: &str = "kafkactl";
/// Most instances of one consumer on one host.
pub const MAX_SCALE: u32 = 64;
/// Instances per host when neither the consumer nor `defaults:` gives `scale`.
pub const DEFAULT_SCALE: u32 = 1;
/// Longest consumer, role or app name.
pub use crate::units::MAX_NAME_LEN;
/// Largest `batch.max_size` (the proxy's `BLMPOP` takes at most as many).
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// Default `batch.max_size`: one message at a time.
pub const DEFAULT_BATCH_MAX_SIZE: u32 = 1;
/// Largest `batch.max_wait_ms` (5 minutes).
pub const MAX_BATCH_WAIT_MS: u64 = 300_000;
/// Default `batch.max_wait_ms`.
pub const DEFAULT_BATCH_MAX_WAIT_MS: u64 = 1_000;
/// Largest `batch.in_flight`.
pub const MAX_BATCH_IN_FLIGHT: u32 = 1_000;
/// Default `batch.in_flight`: batches sent to the handler before the first is answered. Past
/// a few, a handler never waits for the worker; more only hold more messages and re-send
/// more behind a failure (docs/benchmarks.md has the measurements that chose it).
pub const DEFAULT_BATCH_IN_FLIGHT: u32 = 8;
/// Most messages a worker holds in flight, `batch.in_flight` x `batch.max_size`: what it may
/// have to re-send behind a failed batch, and what it keeps in memory meanwhile. The defaults
/// stay within it for every `max_size` (`DEFAULT_BATCH_IN_FLIGHT` x `MAX_BATCH_SIZE`).
pub const MAX_MESSAGES_IN_FLIGHT: u64 = 100_000;
/// Largest `retry.max_attempts`.
pub const MAX_RETRY_ATTEMPTS: u32 = 1_000;
/// Default `retry.max_attempts` (the first try included).
pub const DEFAULT_RETRY_MAX_ATTEMPTS: u32 = 3;
/// Largest `retry.backoff_ms` and `retry.max_backoff_ms` (1 hour).
pub const MAX_RETRY_BACKOFF_MS: u64 = 3_600_000;
/// Default `retry.backoff_ms`, the wait before the first retry (it doubles after each).
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 1_000;
/// Default `retry.max_backoff_ms`, the cap on the doubling wait.
pub const DEFAULT_RETRY_MAX_BACKOFF_MS: u64 = 60_000;
/// SSH port of a host that does not give one.
pub const DEFAULT_SSH_PORT: u16 = 22;

/// A loaded and checked manifest, with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// The path it was loaded from, as given (also the prefix of error messages).
    pub path: PathBuf,
    /// The application's name; consumer group ids are `<app>-<name>`. Default [`DEFAULT_APP`].
    pub app: String,
    /// Kafka bootstrap servers (`host:port`); empty when the manifest does not say.
    pub brokers: Vec<String>,
    /// Where workers send statsd metrics (`host:port`), if anywhere.
    pub statsd: Option<String>,
    /// Who consumers run as in the system scope (`run_as: USER[:GROUP]`); `install-units`
    /// writes it into the template as `User=`/`Group=`.
    pub run_as: Option<crate::units::RunAs>,
    /// Hosts of the fleet that belong to no particular role.
    pub hosts: Vec<Host>,
    /// Role name -> its hosts. Empty when the manifest has no `roles:`.
    pub roles: BTreeMap<String, Vec<Host>>,
    /// The consumers, in file order; names are unique.
    pub consumers: Vec<ConsumerSpec>,
}

/// One consumer, with `defaults:` and the built-in defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerSpec {
    /// `[a-z0-9_]+`, unique in the manifest; units are `kafka-consumer@<name>:<n>.service`.
    pub name: String,
    /// Topics to consume (`topic:` or `topics:`); empty when the manifest does not say, as in
    /// the seed form, where the handler chose its topic.
    pub topics: Vec<String>,
    /// The handler the worker starts; `None` when the manifest does not say (seed form).
    pub command: Option<Command>,
    /// Instances on each host it runs on, 0..=[`MAX_SCALE`]; 0 keeps it known but stopped.
    pub scale: u32,
    /// Which hosts it runs on.
    pub placement: Placement,
    /// How messages are handed to the handler.
    pub batch: Batch,
    /// What happens when the handler fails a message.
    pub retry: Retry,
    /// librdkafka property overrides (values as written: `5`, `true`, `earliest`).
    pub kafka: BTreeMap<String, String>,
    /// Environment variables for the handler.
    pub env: BTreeMap<String, String>,
    /// A file of more environment variables for the handler, read on the host at each handler
    /// start (secrets that stay out of the manifest); they win over `env`.
    pub env_file: Option<EnvFile>,
    /// Where the consumer's entry starts in the file.
    pub pos: Pos,
}

/// The handler process a worker starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// A string: run with `/bin/sh -c`.
    Shell(String),
    /// A list: the program and its arguments, run without a shell.
    Argv(Vec<String>),
}

impl Command {
    /// The argv to execute: `["/bin/sh", "-c", s]` for [`Command::Shell`].
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Shell(s) => vec!["/bin/sh".to_string(), "-c".to_string(), s.clone()],
            Command::Argv(argv) => argv.clone(),
        }
    }
}

/// `env_file:`: a file of `KEY=VALUE` lines in systemd's `EnvironmentFile=` format, which the
/// worker reads each time it starts the handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvFile {
    /// As written, less a leading `-`: absolute, or relative to the app's root (the worker's
    /// working directory, which the unit sets to the app).
    pub path: PathBuf,
    /// Written with a leading `-`, as systemd's `EnvironmentFile=-/path`: a missing file is
    /// not an error.
    pub optional: bool,
}

impl EnvFile {
    /// Where the file is for an app rooted at `root` (an absolute `path` stays as it is).
    pub fn resolve(&self, root: &Path) -> PathBuf {
        root.join(&self.path)
    }
}

/// How many messages a handler gets at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// At most this many messages per batch, 1..=[`MAX_BATCH_SIZE`]; default 1.
    pub max_size: u32,
    /// Wait at most this long (ms) to fill a batch once it has one message; default 1000.
    pub max_wait_ms: u64,
    /// Batches sent to the handler before the first is answered, 1..=[`MAX_BATCH_IN_FLIGHT`];
    /// default [`DEFAULT_BATCH_IN_FLIGHT`]. 1 is lockstep: one round trip per batch.
    pub in_flight: u32,
}

/// What a worker does when the handler fails a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retry {
    /// Tries per message, the first included, 1..=[`MAX_RETRY_ATTEMPTS`]; default 3.
    pub max_attempts: u32,
    /// Wait before the first retry (ms), doubling after each; default 1000.
    pub backoff_ms: u64,
    /// Cap on that wait (ms), at least `backoff_ms`; default 60000.
    pub max_backoff_ms: u64,
    /// After the last attempt fails.
    pub on_exhausted: OnExhausted,
}

/// What happens to a message whose attempts ran out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// The worker stops without acking it (systemd restarts it and alerts): the default, as
    /// nothing is lost.
    Stop,
    /// The message is produced to this topic and acked, and the worker goes on.
    DeadLetter {
        /// The dead-letter topic (never one the consumer consumes).
        topic: String,
    },
}

impl ConsumerSpec {
    /// The Kafka consumer group of every instance: `<app>-<name>`, as the seed's rake task
    /// made it (`myapp-price_drops`).
    pub fn group_id(&self, app: &str) -> String {
        format!("{app}-{}", self.name)
    }
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    ///
    /// # Errors
    /// [`ManifestError::Read`] if the file cannot be read, else [`ManifestError::Invalid`]
    /// with every problem found (messages start with `path` as given).
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| ManifestError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Manifest::parse(&text, path),
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                let valid = std::str::from_utf8(valid).unwrap_or_default();
                let line = valid.matches('\n').count() + 1;
                let column = valid.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                Err(ManifestError::invalid(
                    path.to_path_buf(),
                    vec![Problem::new(
                        Pos { line, column },
                        "the manifest must be UTF-8 text; this byte is not",
                    )],
                ))
            }
        }
    }

    /// Checks the manifest `text`; `path` is only used in messages and [`Manifest::path`].
    ///
    /// # Errors
    /// [`ManifestError::Invalid`] with every problem found, sorted by position.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        let path = path.as_ref();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut problems = Vec::new();
        let manifest = match yaml::parse(text, &mut problems) {
            Ok(root) => Some(build::build(root.as_ref(), path, &mut problems)),
            Err(()) => None,
        };
        match manifest {
            Some(manifest) if problems.is_empty() => Ok(manifest),
            _ => {
                // The YAML parser places "end of input" on the line after the last one when
                // the file does not end with a newline: point at the end of the text instead.
                let end = end_of(text);
                for problem in &mut problems {
                    if problem.pos > end {
                        problem.pos = end;
                    }
                }
                Err(ManifestError::invalid(path.to_path_buf(), problems))
            }
        }
    }

    /// The consumer called `name`.
    pub fn consumer(&self, name: &str) -> Option<&ConsumerSpec> {
        self.consumers.iter().find(|c| c.name == name)
    }

    /// `brokers` as librdkafka's `bootstrap.servers` (`a:9092,b:9092`); `None` when unset.
    pub fn bootstrap_servers(&self) -> Option<String> {
        (!self.brokers.is_empty()).then(|| self.brokers.join(","))
    }

    /// Checks that every consumer with `scale` above 0 can be started by a worker: it has a
    /// topic and a command. (The seed form has neither, and is still a valid manifest for
    /// `status` and `stop`.)
    ///
    /// # Errors
    /// [`ManifestError::Invalid`] naming each consumer that cannot run and what it lacks.
    pub fn check_runnable(&self) -> Result<(), ManifestError> {
        let mut problems = Vec::new();
        for c in self.consumers.iter().filter(|c| c.scale > 0) {
            let mut missing = Vec::new();
            if c.topics.is_empty() {
                missing.push("`topic:` (or `topics:`)");
            }
            if c.command.is_none() {
                missing.push("`command:` (here or in `defaults:`)");
            }
            if !missing.is_empty() {
                problems.push(Problem::new(
                    c.pos,
                    format!(
                        "consumer `{}` cannot be started: it needs {}",
                        c.name,
                        missing.join(" and ")
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::invalid(self.path.clone(), problems))
        }
    }
}

/// The position just after the last character of `text`, with lines broken as YAML breaks
/// them (`\n`, `\r\n`, or a lone `\r`).
fn end_of(text: &str) -> Pos {
    let mut pos = Pos::START;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                pos = Pos {
                    line: pos.line + 1,
                    column: 1,
                }
            }
            _ => pos.column += 1,
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_a_line_break_is_reported_on_one_line() {
        let text = "consumers:\n  - name: price_drops\n    retry: {\"on_\\nhausted\": stop}\n";
        let err = Manifest::parse(text, "m.yml").unwrap_err().to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(r"on_\nhausted"), "{err}");
    }

    #[test]
    fn an_error_at_the_end_of_a_file_without_a_final_newline_points_inside_it() {
        let err = Manifest::parse("- name: s\n  =sca- n 2 ", "m.yml").unwrap_err();
        let last = err.problems().last().unwrap().pos;
        assert_eq!(last.line, 2, "{err}");
        assert_eq!(end_of("a\r\nb\rc\n"), Pos { line: 4, column: 1 });
        assert_eq!(end_of("ab"), Pos { line: 1, column: 3 });
    }

    const PATH: &str = "config/kafka_consumers.yml";

    fn ok(text: &str) -> Manifest {
        match Manifest::parse(text, PATH) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(text: &str) -> String {
        match Manifest::parse(text, PATH) {
            Ok(m) => panic!("parsed: {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn seed_form() {
        let m = ok("# comment\n- name: \"price_drops\"\n  scale: 2\n");
        assert_eq!(m.app, DEFAULT_APP);
        assert_eq!(m.consumers.len(), 1);
        let c = m.consumer("price_drops").unwrap();
        assert_eq!(c.scale, 2);
        assert_eq!(c.topics, Vec::<String>::new());
        assert_eq!(c.command, None);
        assert_eq!(c.placement, Placement::Everywhere);
        assert_eq!(c.pos, Pos { line: 2, column: 3 });
        assert_eq!(c.group_id("myapp"), "myapp-price_drops");
        assert_eq!(
            c.batch,
            Batch {
                max_size: 1,
                max_wait_ms: 1000,
                in_flight: DEFAULT_BATCH_IN_FLIGHT,
            }
        );
        assert_eq!(c.retry.on_exhausted, OnExhausted::Stop);
        assert!(m.consumer("nope").is_none());
        assert!(m.fleet().is_empty());
        assert!(m.check_runnable().unwrap_err().to_string().contains(
            "config/kafka_consumers.yml:2:3: consumer `price_drops` cannot be started: it needs \
             `topic:` (or `topics:`) and `command:`"
        ));
    }

    #[test]
    fn empty_lists_are_valid() {
        assert!(ok("[]\n").consumers.is_empty());
        assert!(ok("consumers: []\n").consumers.is_empty());
    }

    #[test]
    fn scale_defaults_to_one_and_is_bounded() {
        assert_eq!(ok("- name: a\n").consumers[0].scale, 1);
        assert_eq!(ok("- name: a\n  scale: 0\n").consumers[0].scale, 0);
        assert_eq!(ok("- name: a\n  scale: 64\n").consumers[0].scale, 64);
        assert_eq!(
            err("- name: a\n  scale: 65\n"),
            "config/kafka_consumers.yml:2:10: scale must be an integer 0..=64, got 65"
        );
        assert_eq!(
            err("- name: a\n  scale: \"2\"\n"),
            "config/kafka_consumers.yml:2:10: scale must be an integer 0..=64, got the quoted \
             string \"2\""
        );
        assert_eq!(
            err("- name: a\n  scale:\n"),
            "config/kafka_consumers.yml:2:3: scale must be an integer 0..=64, got nothing (null)"
        );
    }

    #[test]
    fn the_issue_example_message() {
        assert_eq!(
            err("# consumers\n- name: \"price_drops\"\n  topic: product_changes\n  scale: two\n"),
            "config/kafka_consumers.yml:4:10: scale must be an integer 0..=64, got \"two\""
        );
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = "\
- name: Bad
  scale: 100
- name: ok
  topic: a b
  extra: 1
- 7
";
        let msg = err(text);
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.len(), 5, "{msg}");
        assert!(lines[0].starts_with("config/kafka_consumers.yml:1:9: name must be"));
        assert!(lines[1].starts_with("config/kafka_consumers.yml:2:10: scale must be"));
        assert!(lines[2].starts_with("config/kafka_consumers.yml:4:10: topic must be"));
        assert!(lines[3].starts_with("config/kafka_consumers.yml:5:3: unknown key `extra`"));
        assert!(lines[4].starts_with("config/kafka_consumers.yml:6:3: each consumer must be"));
    }

    #[test]
    fn extended_form_with_defaults() {
        let m = ok("\
app: myapp
brokers: k1:9092, k2:9092
statsd: 127.0.0.1:8125
run_as: app:www-data
hosts: [deploy@h0]
roles:
  consumers: [deploy@h1, {address: h2, port: 2222, user: ops, identity_file: /k}]
  web: []
defaults:
  command: bin/consume
  scale: 2
  role: consumers
  batch: {max_size: 10, in_flight: 4}
  retry: {on_exhausted: dead_letter, dead_letter_topic: dlq, backoff_ms: 5}
  kafka: {fetch.max.bytes: 1048576, enable.partition.eof: false}
  env: {RAILS_ENV: production}
consumers:
  - name: price_drops
    topic: product_changes
  - name: orders
    topics: [orders, refunds]
    command: [bin/orders, --fast]
    scale: 0
    hosts: [h3:2200]
    batch: {max_wait_ms: 50, in_flight: 1}
    retry: {on_exhausted: stop, max_backoff_ms: 5}
    kafka: {fetch.max.bytes: 1}
    env: {RAILS_ENV: staging, X: 1}
");
        assert_eq!(m.app, "myapp");
        assert_eq!(m.bootstrap_servers().as_deref(), Some("k1:9092,k2:9092"));
        assert_eq!(m.statsd.as_deref(), Some("127.0.0.1:8125"));
        let run_as = m.run_as.as_ref().unwrap();
        assert_eq!(
            (run_as.user.as_str(), run_as.group.as_deref()),
            ("app", Some("www-data"))
        );
        let p = m.consumer("price_drops").unwrap();
        assert_eq!(p.group_id(&m.app), "myapp-price_drops");
        assert_eq!(p.topics, ["product_changes"]);
        assert_eq!(p.command, Some(Command::Shell("bin/consume".into())));
        assert_eq!(p.scale, 2);
        assert_eq!(p.placement, Placement::Role("consumers".into()));
        assert_eq!(
            p.batch,
            Batch {
                max_size: 10,
                max_wait_ms: DEFAULT_BATCH_MAX_WAIT_MS,
                in_flight: 4,
            }
        );
        assert_eq!(p.retry.backoff_ms, 5);
        assert_eq!(
            p.retry.on_exhausted,
            OnExhausted::DeadLetter {
                topic: "dlq".into()
            }
        );
        assert_eq!(p.kafka["enable.partition.eof"], "false");
        assert_eq!(p.env["RAILS_ENV"], "production");
        let hosts: Vec<String> = m.hosts_for(p).iter().map(ToString::to_string).collect();
        assert_eq!(hosts, ["deploy@h1:22", "ops@h2:2222"]);
        assert_eq!(
            m.roles["consumers"][1].identity_file.as_deref(),
            Some(Path::new("/k"))
        );

        let o = m.consumer("orders").unwrap();
        assert_eq!(o.topics, ["orders", "refunds"]);
        assert_eq!(o.command.as_ref().unwrap().argv(), ["bin/orders", "--fast"]);
        assert_eq!(o.scale, 0);
        assert_eq!(
            m.hosts_for(o)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["h3:2200"]
        );
        assert_eq!(o.batch.max_size, 10);
        assert_eq!(o.batch.max_wait_ms, 50);
        assert_eq!(o.batch.in_flight, 1);
        assert_eq!(o.retry.on_exhausted, OnExhausted::Stop);
        assert_eq!((o.retry.backoff_ms, o.retry.max_backoff_ms), (5, 5));
        assert_eq!(o.kafka["fetch.max.bytes"], "1");
        assert_eq!(o.kafka["enable.partition.eof"], "false");
        assert_eq!(o.env["RAILS_ENV"], "staging");
        assert_eq!(o.env["X"], "1");
        assert_eq!(m.fleet().len(), 3);
        assert!(m.check_runnable().is_ok());
    }

    #[test]
    fn placement_everywhere_uses_the_whole_fleet() {
        let m = ok("hosts: [a, b]\nroles: {r: [b, c]}\nconsumers: [{name: x}]\n");
        let hosts: Vec<String> = m
            .hosts_for(&m.consumers[0])
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(hosts, ["a:22", "b:22", "c:22"]);
    }

    #[test]
    fn duplicate_names_point_at_the_second() {
        assert_eq!(
            err("- name: a\n- name: b\n- name: a\n"),
            "config/kafka_consumers.yml:3:9: duplicate consumer name `a` (first at line 1); \
             names must be unique"
        );
    }

    #[test]
    fn roles_must_exist() {
        let msg =
            err("roles: {workers: [h1], web: [h2]}\nconsumers:\n  - name: a\n    role: worker\n");
        assert_eq!(
            msg,
            "config/kafka_consumers.yml:4:11: unknown role `worker` (consumer `a`); known roles: \
             web, workers (did you mean `workers`?)"
        );
        let msg = err("consumers:\n  - name: a\n    role: workers\n");
        assert!(
            msg.contains("3:11: role `workers` (consumer `a`) is not defined"),
            "{msg}"
        );
        // A bad default is reported once, not once per consumer.
        let msg = err("roles: {r: []}\ndefaults: {role: x}\nconsumers: [{name: a}, {name: b}]\n");
        assert_eq!(
            msg,
            "config/kafka_consumers.yml:2:18: unknown role `x`; known roles: r"
        );
        let msg = err("roles: {r: []}\ndefaults: {role: x}\nconsumers: []\n");
        assert_eq!(
            msg,
            "config/kafka_consumers.yml:2:18: unknown role `x`; known roles: r"
        );
    }

    #[test]
    fn retry_rules() {
        let msg = err("consumers:\n- name: a\n  topic: t\n  retry: {on_exhausted: dead_letter}\n");
        assert!(
            msg.contains("4:25: on_exhausted: dead_letter needs retry.dead_letter_topic"),
            "{msg}"
        );
        let msg = err("consumers:\n- name: a\n  topic: t\n  retry: {on_exhausted: dead_letter, dead_letter_topic: t}\n");
        assert!(
            msg.contains("dead_letter_topic `t` is a topic that consumer `a` consumes"),
            "{msg}"
        );
        let msg = err("- name: a\n  retry: {dead_letter_topic: d}\n");
        assert!(
            msg.contains("dead_letter_topic is set but on_exhausted is not"),
            "{msg}"
        );
        let msg = err("- name: a\n  retry: {backoff_ms: 10, max_backoff_ms: 5}\n");
        assert!(
            msg.contains("2:43: retry.max_backoff_ms (5) must be at least retry.backoff_ms (10)"),
            "{msg}"
        );
        let msg = err("- name: a\n  retry: {on_exhausted: drop}\n");
        assert!(
            msg.contains("retry.on_exhausted must be `dead_letter` or `stop`, got \"drop\""),
            "{msg}"
        );
    }

    #[test]
    fn commands() {
        let m = ok("- name: a\n  command: ruby x.rb --y\n- name: b\n  command: [ruby, x.rb]\n");
        assert_eq!(
            m.consumers[0].command.as_ref().unwrap().argv(),
            ["/bin/sh", "-c", "ruby x.rb --y"]
        );
        assert_eq!(
            m.consumers[1].command,
            Some(Command::Argv(vec!["ruby".into(), "x.rb".into()]))
        );
        assert!(err("- name: a\n  command: []\n").contains("got an empty list"));
        assert!(err("- name: a\n  command: \"\"\n").contains("got an empty string"));
        assert!(err("- name: a\n  command: {x: 1}\n").contains("got a mapping"));
        assert!(err("- name: a\n  command: [ruby, [x]]\n")
            .contains("2:19: each item of a command list"));
    }

    #[test]
    fn kafka_and_env_values() {
        let msg = err("- name: a\n  kafka: {group.id: x, Bad: 1, fetch.max.bytes: {a: 1}}\n");
        assert!(
            msg.contains("2:11: kafka property `group.id` cannot be set here"),
            "{msg}"
        );
        assert!(
            msg.contains("2:24: kafka property names are librdkafka's"),
            "{msg}"
        );
        assert!(msg.contains("2:49: kafka property `fetch.max.bytes` must be a string, number or boolean, got a mapping"), "{msg}");
        let msg = err("- name: a\n  env: {1X: a, OK: [1]}\n");
        assert!(
            msg.contains("2:9: environment variable names must match"),
            "{msg}"
        );
        assert!(msg.contains("2:20: env `OK` must be a string"), "{msg}");
    }

    #[test]
    fn env_file_values() {
        let m = ok("\
defaults:
  env_file: -/etc/kafkactl/shared.env
consumers:
  - name: a
  - name: b
    env_file: config/b.env
");
        assert_eq!(
            m.consumers[0].env_file,
            Some(EnvFile {
                path: "/etc/kafkactl/shared.env".into(),
                optional: true
            })
        );
        let b = m.consumers[1].env_file.as_ref().unwrap();
        assert_eq!(
            (b.path.as_path(), b.optional),
            (Path::new("config/b.env"), false)
        );
        assert_eq!(
            b.resolve(Path::new("/srv/app")),
            Path::new("/srv/app/config/b.env")
        );
        assert_eq!(
            m.consumers[0]
                .env_file
                .as_ref()
                .unwrap()
                .resolve(Path::new("/srv/app")),
            Path::new("/etc/kafkactl/shared.env")
        );
        assert_eq!(ok("- name: a\n").consumers[0].env_file, None);

        let msg = err("- name: a\n  env_file: \"\"\n");
        assert!(
            msg.contains("2:13: env_file must be a path, absolute or relative to the app's root"),
            "{msg}"
        );
        assert!(msg.ends_with("got \"\": the path is empty"), "{msg}");
        let msg = err("- name: a\n  env_file: \"/etc/a\\tb.env\"\n");
        assert!(msg.contains("2:13: env_file must be a path"), "{msg}");
        assert!(msg.contains("no control characters"), "{msg}");
        let msg = err("- name: a\n  env_file: [a.env]\n");
        assert!(msg.contains("2:13: env_file must be a path"), "{msg}");
        assert!(msg.ends_with("got a list"), "{msg}");
    }

    #[test]
    fn hosts_are_checked() {
        let msg = err("hosts: [a, a:22]\nconsumers: []\n");
        assert!(
            msg.contains("1:12: host `a:22` is listed twice in hosts (first at line 1)"),
            "{msg}"
        );
        let msg = err("hosts: [{port: 2}]\nconsumers: []\n");
        assert!(msg.contains("a host mapping needs `address:`"), "{msg}");
    }

    #[test]
    fn settings_are_checked() {
        let msg = err("app: my app\nbrokers: []\nstatsd: localhost\nconsumers: []\n");
        assert!(msg.contains("1:6: app must be"), "{msg}");
        assert!(msg.contains("2:10: brokers must be"), "{msg}");
        assert!(msg.contains("3:9: statsd must be \"host:port\""), "{msg}");
        assert_eq!(
            ok("brokers: [a:1, b]\nconsumers: []\n").brokers,
            ["a:1", "b"]
        );
    }

    #[test]
    fn top_level_shape() {
        assert!(err("").starts_with("config/kafka_consumers.yml:1:1: the manifest is empty"));
        assert!(err("# nothing\n").contains("1:1: the manifest is empty"));
        assert!(err("price_drops\n").contains("1:1: expected a list of consumers"));
        assert!(err("app: x\n").contains("1:1: missing `consumers:`"));
        assert!(err("consumers: {a: 1}\n").contains("1:12: consumers must be a list"));
        let msg = err("consumer: []\n");
        assert!(msg.contains("1:1: unknown key `consumer` at the top level (did you mean `consumers`?); accepted keys: app, brokers, statsd, run_as, defaults, hosts, roles, consumers"), "{msg}");
        let msg = err("defaults: {name: x}\nconsumers: []\n");
        assert!(
            msg.contains("1:12: unknown key `name` in defaults"),
            "{msg}"
        );
        let msg = err("name: price_drops\nscale: 2\n");
        assert!(
            msg.contains("1:1: unknown key `name` at the top level (a consumer? in the seed form"),
            "{msg}"
        );
        let msg = err("- name: a\n  <<: {scale: 1}\n");
        assert!(
            msg.contains("2:3: YAML merge keys (`<<`) are not supported"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_and_encoding() {
        let msg = err("- name: a\n  scale: 1\n bad: x\n");
        assert!(msg.starts_with("config/kafka_consumers.yml:3:"), "{msg}");
        assert!(msg.contains("YAML syntax error"), "{msg}");

        let dir = std::env::temp_dir().join(format!("kafkactl-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latin1.yml");
        std::fs::write(&file, b"- name: a\n  env: {X: caf\xe9}\n").unwrap();
        let msg = Manifest::load(&file).unwrap_err().to_string();
        assert!(
            msg.ends_with(":2:15: the manifest must be UTF-8 text; this byte is not"),
            "{msg}"
        );
        let missing = Manifest::load(dir.join("missing.yml")).unwrap_err();
        assert!(matches!(missing, ManifestError::Read { .. }));
        assert!(missing
            .to_string()
            .contains("missing.yml: cannot read the manifest"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
