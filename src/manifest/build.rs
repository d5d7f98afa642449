//! The tree walk: from a positioned YAML tree to a [`Manifest`]. It follows the schema's
//! shape (the two forms, the top-level settings, each consumer's name and topics) and hands
//! each part to where its rules live: [`super::keys`] (accepted keys), [`super::rules`] (one
//! value), [`super::hosts`] (hosts, roles, placement) and [`super::resolve`] (a consumer's
//! settings and `defaults:`). Those add their `impl Checker` blocks beside their rules.
//!
//! Problems are collected, never returned early, so one run reports them all.

use super::error::{Pos, Problem};
use super::hosts::PlacementSrc;
use super::keys::{CONSUMER_KEYS, DEFAULTS_KEYS, TOP_KEYS};
use super::resolve::Layer;
use super::rules::{
    check_broker, check_statsd, consumer_name_hint, is_app_name, is_consumer_name, is_topic_name,
    parse_run_as,
};
use super::yaml::{Entry, Node, Value};
use super::{ConsumerSpec, Host, Manifest, DEFAULT_APP, MAX_NAME_LEN};
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

    /// The extended form: top-level settings into `m`, then `defaults:` (a default `role:`
    /// is checked here, once, not once per consumer), then the consumers.
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

    /// A list of consumers (the seed form's root, or `consumers:`), each resolved over
    /// `defaults`; a repeated name is reported at the second, naming the first's line.
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

    // ----- a consumer's own keys -----

    /// A consumer's `name:`; a bad one gets the closest valid name as a hint.
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

    /// `topic:` or `topics:` (at most one of them); empty when neither is given.
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

    /// A topic name (`topic:`, an item of `topics:`, `retry.dead_letter_topic`).
    pub(super) fn topic(&mut self, node: &Node, field: &str) -> Option<String> {
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

    // ----- top-level settings -----

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

    /// `brokers:`: `"h:p,h:p"` or a list of `"h:p"`; every item is checked, not only the first
    /// bad one.
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
