//! From a positioned YAML tree to a [`Manifest`]: the schema, the defaults and every
//! validation rule. Problems are collected, never returned early, so one run reports them all.

use super::error::{Pos, Problem};
use super::hosts::PlacementSrc;
use super::keys::{BATCH_KEYS, CONSUMER_KEYS, DEFAULTS_KEYS, RETRY_KEYS, TOP_KEYS};
use super::rules::{
    check_broker, check_kafka_property, check_statsd, consumer_name_hint, is_app_name,
    is_consumer_name, is_env_name, is_topic_name, parse_run_as,
};
use super::yaml::{Entry, Node, Value};
use super::{
    Batch, Command, ConsumerSpec, Host, Manifest, OnExhausted, Placement, Retry, DEFAULT_APP,
    DEFAULT_BATCH_MAX_SIZE, DEFAULT_BATCH_MAX_WAIT_MS, DEFAULT_RETRY_BACKOFF_MS,
    DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_RETRY_MAX_BACKOFF_MS, DEFAULT_SCALE, MAX_BATCH_SIZE,
    MAX_BATCH_WAIT_MS, MAX_NAME_LEN, MAX_RETRY_ATTEMPTS, MAX_RETRY_BACKOFF_MS, MAX_SCALE,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const EMPTY: &str = "the manifest is empty; expected a list of consumers such as \
                     `- name: price_drops` (the seed form) or a mapping with a `consumers:` list \
                     (the extended form)";

/// Builds the manifest from the document's root (`None`: an empty document). The manifest is
/// meaningful only when `problems` is still empty afterwards.
pub(crate) fn build(root: Option<&Node>, path: &Path, problems: &mut Vec<Problem>) -> Manifest {
    let mut c = Checker { problems };
    let mut manifest = Manifest {
        path: path.to_path_buf(),
        app: DEFAULT_APP.to_string(),
        brokers: Vec::new(),
        statsd: None,
        run_as: None,
        hosts: Vec::new(),
        roles: BTreeMap::new(),
        consumers: Vec::new(),
    };
    let Some(root) = root else {
        c.err(Pos::START, EMPTY);
        return manifest;
    };
    match &root.value {
        Value::Seq(items) => {
            manifest.consumers = c.consumers(items, &Layer::default(), None);
        }
        Value::Map(entries) => c.extended(root.pos, entries, &mut manifest),
        Value::Null => c.err(root.pos, EMPTY),
        Value::Scalar { .. } => c.err(
            root.pos,
            format!(
                "expected a list of consumers (the seed form) or a mapping with a `consumers:` \
                 list (the extended form), got {}",
                describe(root)
            ),
        ),
    }
    manifest
}

/// Settings that `defaults:` or a consumer may give, each with where it was given when a
/// later check needs to point at it.
#[derive(Debug, Default, Clone)]
struct Layer {
    command: Option<Command>,
    scale: Option<u32>,
    placement: Option<(PlacementSrc, Pos)>,
    max_size: Option<u32>,
    max_wait_ms: Option<u64>,
    max_attempts: Option<u32>,
    backoff_ms: Option<(u64, Pos)>,
    max_backoff_ms: Option<(u64, Pos)>,
    on_exhausted: Option<(Exhausted, Pos)>,
    dead_letter_topic: Option<(String, Pos)>,
    kafka: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Exhausted {
    Stop,
    DeadLetter,
}

/// Walks the tree, collecting every problem in `problems` (the manifest is meaningful only
/// when none was found). Its methods are spread over the modules of the rules they apply.
pub(super) struct Checker<'p> {
    problems: &'p mut Vec<Problem>,
}

/// The entry for `key` in a mapping (the YAML reader has already refused duplicate keys).
pub(super) fn get<'e>(entries: &'e [Entry], key: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| e.key == key)
}

impl Checker<'_> {
    /// Records a problem at `pos`.
    pub(super) fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem::new(pos, message));
    }

    // ----- the two forms -----

    fn extended(&mut self, pos: Pos, entries: &[Entry], m: &mut Manifest) {
        self.keys(entries, TOP_KEYS, "at the top level");
        if let Some(e) = get(entries, "app") {
            if let Some(app) = self.app(&e.value) {
                m.app = app;
            }
        }
        if let Some(e) = get(entries, "brokers") {
            m.brokers = self.brokers(&e.value);
        }
        if let Some(e) = get(entries, "statsd") {
            m.statsd = self.statsd(&e.value);
        }
        if let Some(e) = get(entries, "run_as") {
            if let Some(text) = self.string(&e.value, "run_as") {
                match parse_run_as(&text) {
                    Ok(run_as) => m.run_as = Some(run_as),
                    Err(why) => self.err(e.value.pos, format!("run_as: {why}")),
                }
            }
        }
        if let Some(e) = get(entries, "hosts") {
            m.hosts = self.host_list(&e.value, "hosts").unwrap_or_default();
        }
        let roles = get(entries, "roles").map(|e| self.roles(&e.value));
        let defaults = match get(entries, "defaults") {
            Some(e) => match self.map(&e.value, "defaults", "a mapping of consumer settings") {
                Some(d) => {
                    self.keys(d, DEFAULTS_KEYS, "in defaults");
                    self.layer(d)
                }
                None => Layer::default(),
            },
            None => Layer::default(),
        };
        if let Some((PlacementSrc::Role(role), at)) = &defaults.placement {
            self.check_role(role, *at, roles.as_ref(), "");
        }
        match get(entries, "consumers") {
            None => self.err(
                pos,
                "missing `consumers:`; the extended form needs a `consumers:` list of \
                 consumers such as `- name: price_drops`",
            ),
            Some(e) => match &e.value.value {
                Value::Seq(items) => {
                    m.consumers = self.consumers(items, &defaults, roles.as_ref());
                }
                _ => self.err(
                    e.value.pos,
                    format!(
                        "consumers must be a list of consumers such as `- name: price_drops`, \
                         got {}",
                        describe(&e.value)
                    ),
                ),
            },
        }
        m.roles = roles.unwrap_or_default();
    }

    fn consumers(
        &mut self,
        items: &[Node],
        defaults: &Layer,
        roles: Option<&BTreeMap<String, Vec<Host>>>,
    ) -> Vec<ConsumerSpec> {
        let mut seen: HashMap<String, Pos> = HashMap::new();
        let mut out = Vec::new();
        for item in items {
            let Value::Map(entries) = &item.value else {
                self.err(
                    item.pos,
                    format!(
                        "each consumer must be a mapping such as `{{name: price_drops, scale: 2}}`, \
                         got {}",
                        describe(item)
                    ),
                );
                continue;
            };
            let name = match get(entries, "name") {
                None => {
                    self.err(
                        item.pos,
                        "consumer without `name:`; every consumer needs a name of a-z, 0-9 and _",
                    );
                    None
                }
                Some(e) => self.name(&e.value).map(|n| (n, e.value.pos)),
            };
            let place = match &name {
                Some((n, _)) => format!("in consumer `{n}`"),
                None => "in a consumer".to_string(),
            };
            self.keys(entries, CONSUMER_KEYS, &place);
            if let Some((n, pos)) = &name {
                if let Some(first) = seen.get(n) {
                    self.err(
                        *pos,
                        format!(
                            "duplicate consumer name `{n}` (first at line {}); names must be unique",
                            first.line
                        ),
                    );
                } else {
                    seen.insert(n.clone(), *pos);
                }
            }
            let topics = self.topics(entries);
            let own = self.layer(entries);
            let spec = self.resolve(
                name.map(|(n, _)| n).unwrap_or_default(),
                item.pos,
                topics,
                defaults,
                own,
                roles,
            );
            out.push(spec);
        }
        out
    }

    /// Applies defaults, then the checks that need both layers.
    fn resolve(
        &mut self,
        name: String,
        pos: Pos,
        topics: Vec<String>,
        defaults: &Layer,
        own: Layer,
        roles: Option<&BTreeMap<String, Vec<Host>>>,
    ) -> ConsumerSpec {
        // A problem that comes from `defaults:` alone is reported once: its message leaves
        // the consumer out, so the repeats for other consumers are identical and dropped.
        let who = |own_part: bool| {
            if own_part && !name.is_empty() {
                format!(" (consumer `{name}`)")
            } else {
                String::new()
            }
        };
        if let Some((PlacementSrc::Role(role), at)) = &own.placement {
            self.check_role(role, *at, roles, &who(true));
        }
        // (a role from `defaults:` was checked once, with the defaults)
        let placement = match own.placement.or_else(|| defaults.placement.clone()) {
            None => Placement::Everywhere,
            Some((PlacementSrc::Hosts(hosts), _)) => Placement::Hosts(hosts),
            Some((PlacementSrc::Role(role), _)) => Placement::Role(role),
        };

        let backoff = own.backoff_ms.or(defaults.backoff_ms);
        let max_backoff = own.max_backoff_ms.or(defaults.max_backoff_ms);
        let backoff_ms = backoff.map_or(DEFAULT_RETRY_BACKOFF_MS, |(v, _)| v);
        let max_backoff_ms = max_backoff.map_or(DEFAULT_RETRY_MAX_BACKOFF_MS, |(v, _)| v);
        if max_backoff_ms < backoff_ms {
            // Point at the consumer's own value when it has one, else at the default.
            let at = own
                .max_backoff_ms
                .or(own.backoff_ms)
                .or(max_backoff)
                .or(backoff)
                .map_or(pos, |(_, p)| p);
            self.err(
                at,
                format!(
                    "retry.max_backoff_ms ({max_backoff_ms}) must be at least retry.backoff_ms \
                     ({backoff_ms}){}",
                    who(own.backoff_ms.is_some() || own.max_backoff_ms.is_some())
                ),
            );
        }
        let dead_letter_topic = own
            .dead_letter_topic
            .clone()
            .or_else(|| defaults.dead_letter_topic.clone());
        let on_exhausted = match own.on_exhausted.or(defaults.on_exhausted) {
            Some((Exhausted::DeadLetter, at)) => match dead_letter_topic {
                None => {
                    self.err(
                        at,
                        format!(
                            "on_exhausted: dead_letter needs retry.dead_letter_topic, the topic \
                             that receives the messages whose attempts ran out (consumer `{name}`)"
                        ),
                    );
                    OnExhausted::Stop
                }
                Some((topic, topic_pos)) => {
                    if topics.contains(&topic) {
                        self.err(
                            topic_pos,
                            format!(
                                "dead_letter_topic `{topic}` is a topic that consumer `{name}` \
                                 consumes; it must be another topic"
                            ),
                        );
                    }
                    OnExhausted::DeadLetter { topic }
                }
            },
            Some((Exhausted::Stop, _)) => OnExhausted::Stop,
            None => {
                if let Some((_, at)) = dead_letter_topic {
                    self.err(
                        at,
                        format!(
                            "dead_letter_topic is set but on_exhausted is not; add \
                             `on_exhausted: dead_letter` to use it{}",
                            who(own.dead_letter_topic.is_some())
                        ),
                    );
                }
                OnExhausted::Stop
            }
        };

        let mut kafka: BTreeMap<String, String> = defaults.kafka.iter().cloned().collect();
        kafka.extend(own.kafka);
        let mut env: BTreeMap<String, String> = defaults.env.iter().cloned().collect();
        env.extend(own.env);

        ConsumerSpec {
            name,
            topics,
            command: own.command.or_else(|| defaults.command.clone()),
            scale: own.scale.or(defaults.scale).unwrap_or(DEFAULT_SCALE),
            placement,
            batch: Batch {
                max_size: own
                    .max_size
                    .or(defaults.max_size)
                    .unwrap_or(DEFAULT_BATCH_MAX_SIZE),
                max_wait_ms: own
                    .max_wait_ms
                    .or(defaults.max_wait_ms)
                    .unwrap_or(DEFAULT_BATCH_MAX_WAIT_MS),
            },
            retry: Retry {
                max_attempts: own
                    .max_attempts
                    .or(defaults.max_attempts)
                    .unwrap_or(DEFAULT_RETRY_MAX_ATTEMPTS),
                backoff_ms,
                max_backoff_ms,
                on_exhausted,
            },
            kafka,
            env,
            pos,
        }
    }

    // ----- consumer settings -----

    /// Reads the settings shared by `defaults:` and consumers (keys are checked by the caller).
    fn layer(&mut self, entries: &[Entry]) -> Layer {
        let mut layer = Layer::default();
        if let Some(e) = get(entries, "command") {
            layer.command = self.command(&e.value);
        }
        if let Some(e) = get(entries, "scale") {
            layer.scale = self
                .int(&e.value, "scale", 0, u64::from(MAX_SCALE))
                .map(|v| v as u32);
        }
        layer.placement = self.placement(entries);
        if let Some(e) = get(entries, "batch") {
            if let Some(b) = self.map(&e.value, "batch", "a mapping {max_size, max_wait_ms}") {
                self.keys(b, BATCH_KEYS, "in batch");
                if let Some(e) = get(b, "max_size") {
                    layer.max_size = self
                        .int(&e.value, "batch.max_size", 1, u64::from(MAX_BATCH_SIZE))
                        .map(|v| v as u32);
                }
                if let Some(e) = get(b, "max_wait_ms") {
                    layer.max_wait_ms =
                        self.int(&e.value, "batch.max_wait_ms", 0, MAX_BATCH_WAIT_MS);
                }
            }
        }
        if let Some(e) = get(entries, "retry") {
            if let Some(r) = self.map(
                &e.value,
                "retry",
                "a mapping {max_attempts, backoff_ms, max_backoff_ms, on_exhausted, dead_letter_topic}",
            ) {
                self.retry(r, &mut layer);
            }
        }
        if let Some(e) = get(entries, "kafka") {
            layer.kafka = self.kafka(&e.value);
        }
        if let Some(e) = get(entries, "env") {
            layer.env = self.env(&e.value);
        }
        layer
    }

    fn retry(&mut self, r: &[Entry], layer: &mut Layer) {
        self.keys(r, RETRY_KEYS, "in retry");
        if let Some(e) = get(r, "max_attempts") {
            layer.max_attempts = self
                .int(
                    &e.value,
                    "retry.max_attempts",
                    1,
                    u64::from(MAX_RETRY_ATTEMPTS),
                )
                .map(|v| v as u32);
        }
        for (key, slot) in [
            ("backoff_ms", &mut layer.backoff_ms),
            ("max_backoff_ms", &mut layer.max_backoff_ms),
        ] {
            if let Some(e) = get(r, key) {
                *slot = self
                    .int(&e.value, &format!("retry.{key}"), 0, MAX_RETRY_BACKOFF_MS)
                    .map(|v| (v, e.value.pos));
            }
        }
        if let Some(e) = get(r, "on_exhausted") {
            let what = "retry.on_exhausted must be `dead_letter` or `stop`";
            match &e.value.value {
                Value::Scalar { text, .. } if text == "dead_letter" => {
                    layer.on_exhausted = Some((Exhausted::DeadLetter, e.value.pos));
                }
                Value::Scalar { text, .. } if text == "stop" => {
                    layer.on_exhausted = Some((Exhausted::Stop, e.value.pos));
                }
                _ => self.err(e.value.pos, format!("{what}, got {}", describe(&e.value))),
            }
        }
        if let Some(e) = get(r, "dead_letter_topic") {
            if let Some(topic) = self.topic(&e.value, "retry.dead_letter_topic") {
                layer.dead_letter_topic = Some((topic, e.value.pos));
            }
        }
    }

    fn topics(&mut self, entries: &[Entry]) -> Vec<String> {
        let topic = get(entries, "topic");
        let topics = get(entries, "topics");
        if let (Some(a), Some(b)) = (topic, topics) {
            let later = if a.key_pos > b.key_pos { a } else { b };
            self.err(
                later.key_pos,
                "give either `topic` (one topic) or `topics` (a list), not both",
            );
            return Vec::new();
        }
        if let Some(e) = topic {
            return self.topic(&e.value, "topic").into_iter().collect();
        }
        let Some(e) = topics else {
            return Vec::new();
        };
        let Value::Seq(items) = &e.value.value else {
            self.err(
                e.value.pos,
                format!(
                    "topics must be a list of topic names such as `[product_changes, orders]`, \
                     got {}; for one topic write `topic:`",
                    describe(&e.value)
                ),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(e.value.pos, "topics must name at least one topic");
        }
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for item in items {
            if let Some(t) = self.topic(item, "topic") {
                if let Some(first) = seen.get(&t) {
                    self.err(
                        item.pos,
                        format!("topic `{t}` is listed twice (first at line {})", first.line),
                    );
                } else {
                    seen.insert(t.clone(), item.pos);
                    out.push(t);
                }
            }
        }
        out
    }

    fn command(&mut self, node: &Node) -> Option<Command> {
        let expected = "command must be a string (run with /bin/sh -c) or a list (program and \
                        arguments, run as is)";
        match &node.value {
            Value::Scalar { text, .. } => {
                if text.trim().is_empty() {
                    self.err(node.pos, format!("{expected}, got an empty string"));
                    return None;
                }
                Some(Command::Shell(text.clone()))
            }
            Value::Seq(items) => {
                if items.is_empty() {
                    self.err(node.pos, format!("{expected}, got an empty list"));
                    return None;
                }
                let mut argv = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Scalar { text, .. } if i > 0 || !text.trim().is_empty() => {
                            argv.push(text.clone());
                        }
                        _ => self.err(
                            item.pos,
                            format!(
                                "each item of a command list must be a string{}, got {}",
                                if i == 0 {
                                    " (the program: not empty)"
                                } else {
                                    ""
                                },
                                describe(item)
                            ),
                        ),
                    }
                }
                (argv.len() == items.len()).then_some(Command::Argv(argv))
            }
            _ => {
                self.err(node.pos, format!("{expected}, got {}", describe(node)));
                None
            }
        }
    }

    fn kafka(&mut self, node: &Node) -> Vec<(String, String)> {
        self.scalar_map(
            node,
            "kafka",
            "a mapping of librdkafka properties such as `fetch.max.bytes: 1048576`",
            |key| check_kafka_property(key).err(),
            |key| format!("kafka property `{key}` must be a string, number or boolean"),
        )
    }

    fn env(&mut self, node: &Node) -> Vec<(String, String)> {
        self.scalar_map(
            node,
            "env",
            "a mapping of environment variables such as `RAILS_ENV: production`",
            |key| {
                (!is_env_name(key)).then(|| {
                    format!(
                        "environment variable names must match [A-Za-z_][A-Za-z0-9_]*, got {key:?}"
                    )
                })
            },
            |key| {
                format!(
                    "env `{key}` must be a string, number or boolean (write \"\" for an \
                     empty value)"
                )
            },
        )
    }

    /// A mapping of names to scalar values (`kafka:`, `env:`): `bad_key` explains a name
    /// that is not allowed, `bad_value` starts the message for a value that is not a scalar.
    fn scalar_map(
        &mut self,
        node: &Node,
        field: &str,
        expected: &str,
        bad_key: impl Fn(&str) -> Option<String>,
        bad_value: impl Fn(&str) -> String,
    ) -> Vec<(String, String)> {
        let Some(entries) = self.map(node, field, expected) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries {
            if let Some(why) = bad_key(&e.key) {
                self.err(e.key_pos, why);
                continue;
            }
            match &e.value.value {
                Value::Scalar { text, .. } => out.push((e.key.clone(), text.clone())),
                _ => self.err(
                    e.value.pos,
                    format!("{}, got {}", bad_value(&e.key), describe(&e.value)),
                ),
            }
        }
        out
    }

    // ----- fleet and settings -----

    fn app(&mut self, node: &Node) -> Option<String> {
        let app = self.string(node, "app")?;
        if !is_app_name(&app) {
            self.err(
                node.pos,
                format!(
                    "app must be 1 to {MAX_NAME_LEN} characters of a-z, A-Z, 0-9, `.`, `_` and \
                     `-` (it prefixes consumer group ids), got {app:?}"
                ),
            );
            return None;
        }
        Some(app)
    }

    fn brokers(&mut self, node: &Node) -> Vec<String> {
        let expected = "brokers must be \"host:port[,host:port...]\" or a list of \"host:port\"";
        let items: Vec<(String, Pos)> = match &node.value {
            Value::Scalar { text, .. } => text
                .split(',')
                .map(|b| (b.trim().to_string(), node.pos))
                .collect(),
            Value::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match &item.value {
                        Value::Scalar { text, .. } => out.push((text.clone(), item.pos)),
                        _ => self.err(item.pos, format!("{expected}, got {}", describe(item))),
                    }
                }
                if items.is_empty() {
                    self.err(node.pos, format!("{expected}, got an empty list"));
                }
                out
            }
            _ => {
                self.err(node.pos, format!("{expected}, got {}", describe(node)));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (broker, pos) in items {
            match check_broker(&broker) {
                Ok(()) => out.push(broker),
                Err(why) => self.err(pos, format!("{expected}, got {broker:?}: {why}")),
            }
        }
        out
    }

    fn statsd(&mut self, node: &Node) -> Option<String> {
        let addr = self.string(node, "statsd")?;
        if let Err(why) = check_statsd(&addr) {
            self.err(
                node.pos,
                format!(
                    "statsd must be \"host:port\" such as \"127.0.0.1:8125\", got {addr:?}: {why}"
                ),
            );
            return None;
        }
        Some(addr)
    }

    // ----- names -----

    fn name(&mut self, node: &Node) -> Option<String> {
        let name = self.string(node, "name")?;
        if is_consumer_name(&name) {
            return Some(name);
        }
        let mut msg = format!(
            "name must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and `_` (it is used in \
             systemd unit names and shell commands), got {name:?}"
        );
        if let Some(fixed) = consumer_name_hint(&name) {
            msg.push_str(&format!("; did you mean {fixed:?}?"));
        }
        self.err(node.pos, msg);
        None
    }

    fn topic(&mut self, node: &Node, field: &str) -> Option<String> {
        let topic = self.string(node, field)?;
        if !is_topic_name(&topic) {
            self.err(
                node.pos,
                format!(
                    "{field} must be a Kafka topic name: 1 to 249 characters of a-z, A-Z, 0-9, \
                     `.`, `_` and `-`, got {topic:?}"
                ),
            );
            return None;
        }
        Some(topic)
    }

    // ----- generic readers -----

    /// A scalar as text; anything else is reported as not a string.
    pub(super) fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.err(
                    node.pos,
                    format!("{field} must be a string, got {}", describe(node)),
                );
                None
            }
        }
    }

    /// A plain (unquoted) integer in `min..=max`: `"2"` is refused, so that a quoted number
    /// is not silently taken for one.
    pub(super) fn int(&mut self, node: &Node, field: &str, min: u64, max: u64) -> Option<u64> {
        if let Value::Scalar { text, plain: true } = &node.value {
            let digits = text.strip_prefix('+').unwrap_or(text);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(v) = digits.parse::<u64>() {
                    if (min..=max).contains(&v) {
                        return Some(v);
                    }
                }
            }
        }
        self.err(
            node.pos,
            format!(
                "{field} must be an integer {min}..={max}, got {}",
                describe(node)
            ),
        );
        None
    }

    /// A mapping's entries; anything else is reported as not `expected`.
    pub(super) fn map<'n>(
        &mut self,
        node: &'n Node,
        field: &str,
        expected: &str,
    ) -> Option<&'n [Entry]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => {
                self.err(
                    node.pos,
                    format!("{field} must be {expected}, got {}", describe(node)),
                );
                None
            }
        }
    }
}

/// How a node is shown after "got": numbers and booleans as written, strings quoted.
pub(super) fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "nothing (null)".to_string(),
        Value::Scalar { text, plain: true } if looks_like_number_or_bool(text) => text.clone(),
        Value::Scalar { text, plain: true } => format!("{text:?}"),
        Value::Scalar { text, plain: false } => format!("the quoted string {text:?}"),
        Value::Seq(_) => "a list".to_string(),
        Value::Map(_) => "a mapping".to_string(),
    }
}

fn looks_like_number_or_bool(text: &str) -> bool {
    matches!(
        text,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | ".inf" | "-.inf" | ".nan"
    ) || (text.bytes().any(|b| b.is_ascii_digit())
        && text.parse::<f64>().is_ok()
        && !text.contains(['i', 'I', 'n', 'N']))
        || text.starts_with("0x")
        || text.starts_with("0o")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_bare_and_strings_quoted() {
        let node = |text: &str, plain| Node {
            pos: Pos::START,
            value: Value::Scalar {
                text: text.to_string(),
                plain,
            },
        };
        assert_eq!(describe(&node("-1", true)), "-1");
        assert_eq!(describe(&node("2.5", true)), "2.5");
        assert_eq!(describe(&node("true", true)), "true");
        assert_eq!(describe(&node("two", true)), "\"two\"");
        assert_eq!(describe(&node("nan", true)), "\"nan\"");
        assert_eq!(describe(&node("2", false)), "the quoted string \"2\"");
    }
}
