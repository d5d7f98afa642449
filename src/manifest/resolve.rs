//! A consumer's settings: reading the keys that `defaults:` and a consumer share (a
//! [`Layer`]: `command`, `scale`, `role`/`hosts`, `batch`, `retry`, `kafka`, `env`,
//! `env_file`), then
//! putting the consumer's own layer over `defaults:` over the built-in defaults to make its
//! [`ConsumerSpec`], with the checks that need both layers (`retry` backoffs, dead letters,
//! `batch.in_flight` x `batch.max_size`).
//!
//! Layering, as `docs/manifest.md` says: a consumer's value replaces the default one; `batch`
//! and `retry` merge key by key; `kafka` and `env` merge name by name (the consumer's wins);
//! a consumer's `role` or `hosts` replaces the default placement, and its `env_file` the
//! default one.

use super::build::{describe, get, Checker};
use super::error::Pos;
use super::hosts::PlacementSrc;
use super::keys::{BATCH_KEYS, RETRY_KEYS};
use super::rules::{check_kafka_property, check_messages_in_flight, is_env_name, parse_env_file};
use super::yaml::{Entry, Node, Value};
use super::{
    Batch, Command, ConsumerSpec, EnvFile, Host, OnExhausted, Placement, Retry,
    DEFAULT_BATCH_IN_FLIGHT, DEFAULT_BATCH_MAX_SIZE, DEFAULT_BATCH_MAX_WAIT_MS,
    DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_RETRY_MAX_BACKOFF_MS,
    DEFAULT_SCALE, MAX_BATCH_IN_FLIGHT, MAX_BATCH_SIZE, MAX_BATCH_WAIT_MS, MAX_RETRY_ATTEMPTS,
    MAX_RETRY_BACKOFF_MS, MAX_SCALE,
};
use std::collections::BTreeMap;

/// Settings that `defaults:` or a consumer may give (`None`/empty: not given), each with where
/// it was given when a check that needs both layers must point at it.
#[derive(Debug, Default, Clone)]
pub(super) struct Layer {
    command: Option<Command>,
    scale: Option<u32>,
    /// `role:` or `hosts:`.
    pub(super) placement: Option<(PlacementSrc, Pos)>,
    max_size: Option<(u32, Pos)>,
    max_wait_ms: Option<u64>,
    in_flight: Option<(u32, Pos)>,
    max_attempts: Option<u32>,
    backoff_ms: Option<(u64, Pos)>,
    max_backoff_ms: Option<(u64, Pos)>,
    on_exhausted: Option<(Exhausted, Pos)>,
    dead_letter_topic: Option<(String, Pos)>,
    kafka: Vec<(String, String)>,
    env: Vec<(String, String)>,
    env_file: Option<EnvFile>,
}

/// `retry.on_exhausted` as written; [`OnExhausted::DeadLetter`] also needs the topic, which
/// may come from the other layer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Exhausted {
    Stop,
    DeadLetter,
}

impl Checker<'_> {
    /// Reads the settings shared by `defaults:` and consumers (keys are checked by the caller).
    pub(super) fn layer(&mut self, entries: &[Entry]) -> Layer {
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
            if let Some(b) = self.map(
                &e.value,
                "batch",
                "a mapping {max_size, max_wait_ms, in_flight}",
            ) {
                self.keys(b, BATCH_KEYS, "in batch");
                if let Some(e) = get(b, "max_size") {
                    layer.max_size = self
                        .int(&e.value, "batch.max_size", 1, u64::from(MAX_BATCH_SIZE))
                        .map(|v| (v as u32, e.value.pos));
                }
                if let Some(e) = get(b, "in_flight") {
                    layer.in_flight = self
                        .int(
                            &e.value,
                            "batch.in_flight",
                            1,
                            u64::from(MAX_BATCH_IN_FLIGHT),
                        )
                        .map(|v| (v as u32, e.value.pos));
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
        if let Some(e) = get(entries, "env_file") {
            layer.env_file = self.env_file(&e.value);
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
                        // Arguments may be empty strings; the program may not.
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

    fn env_file(&mut self, node: &Node) -> Option<EnvFile> {
        let expected = "env_file must be a path, absolute or relative to the app's root (`-` \
                        first: the file may be missing)";
        let Value::Scalar { text, .. } = &node.value else {
            self.err(node.pos, format!("{expected}, got {}", describe(node)));
            return None;
        };
        match parse_env_file(text) {
            Ok((path, optional)) => Some(EnvFile {
                path: path.into(),
                optional,
            }),
            Err(why) => {
                self.err(node.pos, format!("{expected}, got {text:?}: {why}"));
                None
            }
        }
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

    /// Puts the consumer's `own` layer over `defaults` and the built-in defaults, then makes
    /// the checks that need both layers.
    pub(super) fn resolve(
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
        let max_size = own.max_size.or(defaults.max_size);
        let in_flight = own.in_flight.or(defaults.in_flight);
        let batch = Batch {
            max_size: max_size.map_or(DEFAULT_BATCH_MAX_SIZE, |(v, _)| v),
            max_wait_ms: own
                .max_wait_ms
                .or(defaults.max_wait_ms)
                .unwrap_or(DEFAULT_BATCH_MAX_WAIT_MS),
            in_flight: in_flight.map_or(DEFAULT_BATCH_IN_FLIGHT, |(v, _)| v),
        };
        if let Err(why) = check_messages_in_flight(batch.in_flight, batch.max_size) {
            // As for the backoffs: the consumer's own value when it has one, else the default.
            let at = own
                .in_flight
                .or(own.max_size)
                .or(in_flight)
                .or(max_size)
                .map_or(pos, |(_, p)| p);
            self.err(
                at,
                format!(
                    "{why}{}",
                    who(own.in_flight.is_some() || own.max_size.is_some())
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
                    // Dead-lettering into a consumed topic would hand the message back to
                    // the same handler, forever.
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
            batch,
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
            env_file: own.env_file.or_else(|| defaults.env_file.clone()),
            pos,
        }
    }
}
