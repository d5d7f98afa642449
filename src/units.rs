//! Consumer instance names: `kafka-consumer@NAME:N.service` <-> (NAME, N), and the unit files
//! kafkactl ships.

use std::fmt;

/// The template unit every consumer instance is made from.
pub const CONSUMER_TEMPLATE: &str = "kafka-consumer@.service";
/// The prefix of every consumer instance unit.
pub const CONSUMER_PREFIX: &str = "kafka-consumer@";
/// A pattern matching every consumer instance, for systemd's *ByPatterns calls.
pub const CONSUMER_PATTERN: &str = "kafka-consumer@*.service";

/// Largest instance number accepted anywhere (the manifest caps scale lower).
pub const MAX_INDEX: u32 = 10_000;

/// One consumer instance: consumer `name`, instance number `index` (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
    /// The consumer's name from the manifest.
    pub name: String,
    /// The instance number, 1..=scale.
    pub index: u32,
}

impl Instance {
    /// An instance of `name`.
    pub fn new(name: &str, index: u32) -> Instance {
        Instance {
            name: name.to_string(),
            index,
        }
    }

    /// The systemd unit name, e.g. `kafka-consumer@price_drops:1.service`.
    pub fn unit(&self) -> String {
        format!("{CONSUMER_PREFIX}{}:{}.service", self.name, self.index)
    }

    /// Parses a unit name; `None` for units that are not consumer instances.
    pub fn from_unit(unit: &str) -> Option<Instance> {
        let arg = unit
            .strip_prefix(CONSUMER_PREFIX)?
            .strip_suffix(".service")?;
        Instance::parse(arg).ok()
    }

    /// Parses the `NAME:N` instance argument (what `%i` expands to).
    pub fn parse(arg: &str) -> Result<Instance, String> {
        let (name, index) = arg
            .split_once(':')
            .ok_or_else(|| format!("'{arg}' is not NAME:N (for example price_drops:1)"))?;
        if !valid_name(name) {
            return Err(format!(
                "'{name}' is not a valid consumer name (lowercase letters, digits and '_')"
            ));
        }
        let index: u32 = index
            .parse()
            .ok()
            .filter(|n| (1..=MAX_INDEX).contains(n))
            .ok_or_else(|| format!("instance number in '{arg}' must be 1..={MAX_INDEX}"))?;
        Ok(Instance::new(name, index))
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.index)
    }
}

/// Whether `name` is a valid consumer name: `[a-z0-9_]+`, safe in unit names and shells.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A target given on the command line: a whole consumer (`NAME`) or one instance (`NAME:K`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every instance of the consumer.
    Consumer(String),
    /// One instance.
    Instance(Instance),
}

impl Target {
    /// Parses `NAME` or `NAME:K`.
    pub fn parse(arg: &str) -> Result<Target, String> {
        if arg.contains(':') {
            Instance::parse(arg).map(Target::Instance)
        } else if valid_name(arg) {
            Ok(Target::Consumer(arg.to_string()))
        } else {
            Err(format!(
                "'{arg}' is not a valid consumer name (lowercase letters, digits and '_')"
            ))
        }
    }

    /// Whether `instance` is covered by this target.
    pub fn matches(&self, instance: &Instance) -> bool {
        match self {
            Target::Consumer(name) => &instance.name == name,
            Target::Instance(one) => one == instance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_roundtrip() {
        let i = Instance::new("price_drops", 2);
        assert_eq!(i.unit(), "kafka-consumer@price_drops:2.service");
        assert_eq!(Instance::from_unit(&i.unit()), Some(i.clone()));
        assert_eq!(i.to_string(), "price_drops:2");
    }

    #[test]
    fn foreign_and_malformed_units_are_not_instances() {
        for unit in [
            "kafkactl-proxy.service",
            "kafka-consumer@.service",
            "kafka-consumer@price_drops.service",
            "kafka-consumer@Price:1.service",
            "kafka-consumer@a:0.service",
            "kafka-consumer@a:1.timer",
            "kafka-consumer@a:-1.service",
            "kafka-consumer@a b:1.service",
        ] {
            assert_eq!(Instance::from_unit(unit), None, "{unit}");
        }
    }

    #[test]
    fn instance_arguments_explain_what_is_wrong() {
        assert!(Instance::parse("price_drops")
            .unwrap_err()
            .contains("NAME:N"));
        assert!(Instance::parse("a:x").unwrap_err().contains("must be 1..="));
        assert!(Instance::parse("A:1")
            .unwrap_err()
            .contains("not a valid consumer name"));
    }

    #[test]
    fn targets_cover_a_consumer_or_one_instance() {
        let all = Target::parse("price_drops").unwrap();
        let one = Target::parse("price_drops:2").unwrap();
        let i1 = Instance::new("price_drops", 1);
        let i2 = Instance::new("price_drops", 2);
        assert!(all.matches(&i1) && all.matches(&i2));
        assert!(!one.matches(&i1) && one.matches(&i2));
        assert!(!all.matches(&Instance::new("other", 1)));
        assert!(Target::parse("Bad-Name").is_err());
    }
}
