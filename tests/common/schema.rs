//! Checks kafkactl's JSON output against its documented schemas (docs/schemas/*.json), so a
//! renamed or added field fails a test instead of a user's script.
//!
//! A validator for the part of JSON Schema those files use (`type`, `enum`, `properties`,
//! `required`, `additionalProperties: false`, `items`): a few dozen lines, where a full
//! validator crate would add a large dependency tree to every test build. A schema using
//! any other keyword is refused, so the subset cannot silently skip a rule.

use serde_json::Value;
use std::path::Path;

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
];

/// Loads docs/schemas/NAME.
pub fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panics with every place `value` departs from docs/schemas/`name`.
pub fn assert_valid(name: &str, value: &Value) {
    let mut problems = Vec::new();
    check(&load(name), value, "$", &mut problems);
    assert!(
        problems.is_empty(),
        "output does not match docs/schemas/{name}:\n  {}\n{value:#}",
        problems.join("\n  ")
    );
}

/// Every place `value` departs from `schema`.
pub fn problems(schema: &Value, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check(schema, value, "$", &mut problems);
    problems
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        problems.push(format!("{at}: the schema is not an object"));
        return;
    };
    for key in schema.keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "schema keyword {key} at {at} is not one this validator checks"
        );
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = type_name(value);
        let fits =
            allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !fits {
            problems.push(format!("{at}: {actual}, expected {}", allowed.join(" or ")));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(value) {
            problems.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    problems.push(format!("{at}: missing {name}"));
                }
            }
        }
        for (name, field) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => check(sub, field, &format!("{at}.{name}"), problems),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{at}: {name} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

#[test]
fn the_validator_catches_what_the_schemas_forbid() {
    let schema = load("plan.json");
    let good = serde_json::json!({
        "command": "stop", "dry_run": true, "exit_code": 4, "changes_pending": true,
        "hosts": [{"host": "localhost", "result": "planned", "error": null,
                   "actions": [{"step": "stop", "unit": "kafka-consumer@a:1.service", "instance": "a:1"}],
                   "orphans": [], "failures": []}]
    });
    assert_eq!(problems(&schema, &good), Vec::<String>::new());
    let mut renamed = good.clone();
    renamed["hosts"][0]["actions"][0]["verb"] = renamed["hosts"][0]["actions"][0]["step"].take();
    renamed["hosts"][0]["actions"][0]
        .as_object_mut()
        .unwrap()
        .remove("step");
    let found = problems(&schema, &renamed);
    assert!(
        found.iter().any(|p| p.contains("missing step")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("verb is not in the schema")),
        "{found:?}"
    );
    let mut dashed = good.clone();
    dashed["hosts"][0]["error"] = Value::from(1);
    dashed["command"] = Value::from("frobnicate");
    let found = problems(&schema, &dashed);
    assert_eq!(found.len(), 2, "{found:?}");
    for name in [
        "plan.json",
        "status.json",
        "lag.json",
        "manifest-check.json",
    ] {
        known_keywords_only(&load(name), name);
    }
}

/// Every keyword of `schema`, nested ones included, is one [`check`] applies.
fn known_keywords_only(schema: &Value, at: &str) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for (key, sub) in map {
        assert!(
            KNOWN.contains(&key.as_str()),
            "{at}: unchecked keyword {key}"
        );
        match key.as_str() {
            "properties" => {
                for (name, field) in sub.as_object().into_iter().flatten() {
                    known_keywords_only(field, &format!("{at}.{name}"));
                }
            }
            "items" => known_keywords_only(sub, &format!("{at}[]")),
            _ => {}
        }
    }
}
