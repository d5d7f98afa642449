//! Consumer instance names: `kafka-consumer@NAME:N.service` <-> (NAME, N), and the unit files
//! kafkactl ships.

use crate::manifest::rules::check_consumer_name;
pub use crate::systemd::Scope;
use std::fmt;
use std::path::{Path, PathBuf};

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
        check_consumer_name(name)?;
        // Canonical digits only: `a:01` and `a:+1` would name other units than `a:1`.
        let canonical = !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
            && !index.starts_with('0');
        let index: u32 = index
            .parse()
            .ok()
            .filter(|n| canonical && (1..=MAX_INDEX).contains(n))
            .ok_or_else(|| {
                format!("instance number in '{arg}' must be 1..={MAX_INDEX}, without leading zeros")
            })?;
        Ok(Instance::new(name, index))
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.index)
    }
}

/// Longest consumer name accepted.
pub const MAX_NAME_LEN: usize = 100;

/// Which instances a `-c` argument means: a whole consumer (`NAME`) or one instance (`NAME:K`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceSelector {
    /// Every instance of the consumer.
    Consumer(String),
    /// One instance.
    Instance(Instance),
}

impl InstanceSelector {
    /// Parses `NAME` or `NAME:K`.
    pub fn parse(arg: &str) -> Result<InstanceSelector, String> {
        if arg.contains(':') {
            Instance::parse(arg).map(InstanceSelector::Instance)
        } else {
            check_consumer_name(arg)?;
            Ok(InstanceSelector::Consumer(arg.to_string()))
        }
    }

    /// Whether `instance` is one of those selected.
    pub fn matches(&self, instance: &Instance) -> bool {
        match self {
            InstanceSelector::Consumer(name) => &instance.name == name,
            InstanceSelector::Instance(one) => one == instance,
        }
    }
}

impl fmt::Display for InstanceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceSelector::Consumer(name) => f.write_str(name),
            InstanceSelector::Instance(one) => write!(f, "{one}"),
        }
    }
}

/// Why an installed consumer template (`existing`) belongs to another app than the one about
/// to be written (`rendered`): its manifest or working directory differs. One template per
/// systemd manager serves one app, so replacing it would repoint another app's instances at
/// this app's manifest. `None` when they are the same app (or the old file names neither).
pub fn other_app(existing: &str, rendered: &str) -> Option<String> {
    // The values as written by render_units: quoted when they hold a space.
    let value = |text: &str, key: &str| -> Option<String> {
        text.lines().find_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            let v = v.trim_matches('"');
            match key.split_once('=') {
                Some((outer, inner)) if k == outer => v
                    .split_once('=')
                    .filter(|(name, _)| *name == inner)
                    .map(|(_, v)| v.to_string()),
                None if k == key => Some(v.to_string()),
                _ => None,
            }
        })
    };
    let mut differences = Vec::new();
    for (key, what) in [
        ("Environment=KAFKACTL_MANIFEST", "manifest"),
        ("WorkingDirectory", "app directory"),
    ] {
        if let (Some(old), Some(new)) = (value(existing, key), value(rendered, key)) {
            if old != new {
                differences.push(format!("{what} {old} (this install: {new})"));
            }
        }
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// The consumer template as shipped in units/, with placeholders.
pub const CONSUMER_UNIT_TEMPLATE: &str = include_str!("../units/kafka-consumer@.service");
/// The proxy unit as shipped in units/, with placeholders.
pub const PROXY_UNIT_TEMPLATE: &str = include_str!("../units/kafkactl-proxy.service");
/// The proxy's unit name.
pub const PROXY_UNIT: &str = "kafkactl-proxy.service";

impl Scope {
    /// The target instances are wanted by when enabled.
    pub fn wanted_by(self) -> &'static str {
        match self {
            Scope::System => "multi-user.target",
            Scope::User => "default.target",
        }
    }

    /// Where this scope's administrator unit files live.
    pub fn unit_dir(self) -> PathBuf {
        match self {
            Scope::System => PathBuf::from("/etc/systemd/system"),
            Scope::User => {
                let config = std::env::var_os("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                    .unwrap_or_else(|| PathBuf::from("/root/.config"));
                config.join("systemd/user")
            }
        }
    }
}

/// What `install-units` fills into the shipped unit files.
#[derive(Debug, Clone)]
pub struct UnitSettings {
    /// The kafkactl binary systemd runs.
    pub kafkactl: PathBuf,
    /// The manifest the workers read.
    pub manifest: PathBuf,
    /// The workers' working directory (the app's root: handler commands are relative to it).
    pub workdir: PathBuf,
    /// The proxy's Rafka JSON config.
    pub proxy_config: PathBuf,
    /// System or user manager.
    pub scope: Scope,
    /// Who the consumers (and their handlers) run as, in the system scope. A user manager
    /// runs everything as its own user, so there it is left out.
    pub run_as: Option<RunAs>,
}

/// The user (and group) consumer instances run as: `User=`/`Group=` in the template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunAs {
    /// The user name.
    pub user: String,
    /// The group name; the user's primary group when absent.
    pub group: Option<String>,
}

impl RunAs {
    /// Parses `USER` or `USER:GROUP`, names as `useradd` accepts them.
    pub fn parse(text: &str) -> Result<RunAs, String> {
        let (user, group) = match text.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (text, None),
        };
        for (what, name) in [("user", Some(user)), ("group", group)] {
            let Some(name) = name else { continue };
            if !valid_account_name(name) {
                let whole = if group.is_some() {
                    format!(" in {text:?}")
                } else {
                    String::new()
                };
                return Err(format!(
                    "{what} name {name:?}{whole} is not a valid account name (letters, digits, \
                     '_', '-' and '.', not starting with '-' or a digit, at most 32 \
                     characters); expected USER or USER:GROUP such as \"app\" or \"app:app\""
                ));
            }
        }
        Ok(RunAs {
            user: user.to_string(),
            group: group.map(str::to_string),
        })
    }

    /// Whether the consumers would run as root.
    pub fn is_root(&self) -> bool {
        self.user == "root" || self.user == "0"
    }
}

impl fmt::Display for RunAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            Some(group) => write!(f, "{}:{group}", self.user),
            None => f.write_str(&self.user),
        }
    }
}

/// A user or group name systemd and `useradd` both accept (no quoting needed in a unit).
fn valid_account_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && !bytes[0].is_ascii_digit()
        && bytes[0] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b))
        || name == "0"
}

/// Sandboxing settings a user manager cannot apply (they need mount namespaces or privileges
/// it lacks: the unit then fails with status 226/NAMESPACE); user-scope units go without.
pub const SYSTEM_ONLY_SETTINGS: [&str; 16] = [
    "DynamicUser",
    "PrivateTmp",
    "PrivateDevices",
    "PrivateMounts",
    "ProtectProc",
    "ProtectSystem",
    "ProtectHome",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectClock",
    "ProtectHostname",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "LimitNOFILE",
];

/// The unit files kafkactl installs, as (file name, contents).
///
/// # Errors
/// A path systemd would misread: a control character (a newline would start a setting of
/// its own), a trailing backslash (a continuation line), or leading or trailing whitespace
/// (trimmed by systemd's parser). Nothing is written then.
pub fn render_units(settings: &UnitSettings) -> Result<Vec<(&'static str, String)>, String> {
    for (what, path) in [
        ("the kafkactl binary", &settings.kafkactl),
        ("the manifest", &settings.manifest),
        ("the working directory", &settings.workdir),
        ("the proxy config", &settings.proxy_config),
    ] {
        check_unit_value(what, &path.display().to_string())?;
    }
    let scope = settings.scope;
    let fill = |template: &str| {
        let kept: String = template
            .lines()
            .filter(|line| {
                scope == Scope::System
                    || !SYSTEM_ONLY_SETTINGS
                        .iter()
                        .any(|key| line.split_once('=').is_some_and(|(k, _)| k == *key))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        kept.replace("@KAFKACTL@", &quote_exec_word(&settings.kafkactl))
            .replace(
                "KAFKACTL_MANIFEST=@MANIFEST@",
                &quote_word(&format!(
                    "KAFKACTL_MANIFEST={}",
                    settings.manifest.display()
                )),
            )
            .replace(
                "@WORKDIR@",
                &escape_specifiers(&settings.workdir.display().to_string()),
            )
            .replace("@PROXY_CONFIG@", &quote_exec_word(&settings.proxy_config))
            .replace("@WANTED_BY@", settings.scope.wanted_by())
            .replace("@RUN_AS@\n", &run_as_lines(settings))
    };
    Ok(vec![
        (CONSUMER_TEMPLATE, fill(CONSUMER_UNIT_TEMPLATE)),
        (PROXY_UNIT, fill(PROXY_UNIT_TEMPLATE)),
    ])
}

/// Refuses a value that systemd's unit parser would not read back as written.
fn check_unit_value(what: &str, value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{what} {value:?} contains a control character: it cannot be written into a unit \
             file (a newline would start a setting of its own)"
        ));
    }
    if value.ends_with('\\') {
        return Err(format!(
            "{what} {value:?} ends with a backslash: systemd would join the next line to it"
        ));
    }
    if value.trim() != value {
        return Err(format!(
            "{what} {value:?} starts or ends with whitespace, which systemd trims"
        ));
    }
    Ok(())
}

/// The `User=`/`Group=` lines of the consumer template (none in the user scope, where the
/// manager runs everything as its own user).
fn run_as_lines(settings: &UnitSettings) -> String {
    match (&settings.run_as, settings.scope) {
        (Some(run_as), Scope::System) => {
            let mut lines = format!("User={}\n", run_as.user);
            if let Some(group) = &run_as.group {
                lines.push_str(&format!("Group={group}\n"));
            }
            lines
        }
        _ => String::new(),
    }
}

/// Escapes systemd's `%` specifiers.
fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// Quotes one word of a command line or environment assignment for systemd.
fn quote_word(word: &str) -> String {
    let escaped = escape_specifiers(word);
    if escaped
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-=:+,@%".contains(&b))
    {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Quotes one word of `ExecStart=`, where systemd also expands `$VAR`: `$` is written `$$`.
fn quote_exec_word(path: &Path) -> String {
    quote_word(&path.display().to_string()).replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_of_another_manifest_or_directory_is_another_apps() {
        let unit = |manifest: &str, dir: &str| {
            format!(
                "[Service]\nExecStart=/usr/bin/kafkactl worker %i\n\
                 Environment=KAFKACTL_MANIFEST={manifest}\nWorkingDirectory={dir}\n"
            )
        };
        let ours = unit("/srv/a/current/config/k.yml", "/srv/a/current");
        assert_eq!(other_app(&ours, &ours), None);
        let theirs = unit("/srv/b/current/config/k.yml", "/srv/b/current");
        let why = other_app(&theirs, &ours).expect("another app");
        assert!(
            why.contains("manifest /srv/b/current/config/k.yml"),
            "{why}"
        );
        assert!(why.contains("app directory /srv/b/current"), "{why}");
        // A quoted setting (a path with spaces) is compared unquoted.
        let quoted = "Environment=\"KAFKACTL_MANIFEST=/srv/a/current/config/k.yml\"\n\
                      WorkingDirectory=/srv/a/current\n";
        assert_eq!(other_app(quoted, &ours), None);
        assert_eq!(other_app("[Unit]\n", &ours), None);
    }

    fn settings(scope: Scope) -> UnitSettings {
        UnitSettings {
            kafkactl: "/opt/my app/kafkactl".into(),
            manifest: "/srv/app/config/kafka_consumers.yml".into(),
            workdir: "/srv/app".into(),
            proxy_config: "/etc/kafkactl/proxy.json".into(),
            scope,
            run_as: Some(RunAs::parse("app:www-data").unwrap()),
        }
    }

    #[test]
    fn consumers_run_as_the_app_user_in_the_system_scope_only() {
        let system = &render_units(&settings(Scope::System)).unwrap()[0].1;
        assert!(system.contains("\nUser=app\nGroup=www-data\n"), "{system}");
        let user = &render_units(&settings(Scope::User)).unwrap()[0].1;
        assert!(
            !user.contains("User=") && !user.contains("Group="),
            "{user}"
        );
        let mut no_group = settings(Scope::System);
        no_group.run_as = Some(RunAs::parse("app").unwrap());
        let text = &render_units(&no_group).unwrap()[0].1;
        assert!(
            text.contains("\nUser=app\n") && !text.contains("Group="),
            "{text}"
        );
        let proxy = &render_units(&no_group).unwrap()[1].1;
        assert!(
            !proxy.contains("User=app"),
            "the proxy keeps DynamicUser: {proxy}"
        );
    }

    #[test]
    fn run_as_names_are_checked() {
        assert_eq!(RunAs::parse("app").unwrap().to_string(), "app");
        assert_eq!(
            RunAs::parse("app:web").unwrap().group.as_deref(),
            Some("web")
        );
        assert!(RunAs::parse("root").unwrap().is_root());
        for bad in [
            "",
            "app:",
            ":app",
            "-x",
            "1app",
            "a b",
            "app\nUser=root",
            "a:b:c",
        ] {
            let err = RunAs::parse(bad).unwrap_err();
            assert!(err.contains("not a valid account name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        for scope in [Scope::System, Scope::User] {
            for (name, text) in render_units(&settings(scope)).unwrap() {
                for placeholder in [
                    "@KAFKACTL@",
                    "@MANIFEST@",
                    "@WORKDIR@",
                    "@PROXY_CONFIG@",
                    "@WANTED_BY@",
                    "@RUN_AS@",
                ] {
                    assert!(!text.contains(placeholder), "{name}: {placeholder} left");
                }
                assert!(
                    text.contains(&format!("WantedBy={}", scope.wanted_by())),
                    "{name}"
                );
            }
        }
        let system = &render_units(&settings(Scope::System)).unwrap()[0].1;
        assert!(system.contains("ProtectSystem=full"));
        let consumer = &render_units(&settings(Scope::User)).unwrap()[0].1;
        assert!(!consumer.contains("ProtectSystem=") && !consumer.contains("PrivateTmp="));
        assert!(consumer.contains("NoNewPrivileges=yes"));
        assert!(
            consumer.contains("ExecStart=\"/opt/my app/kafkactl\" worker %i"),
            "{consumer}"
        );
        assert!(
            consumer.contains("Environment=KAFKACTL_MANIFEST=/srv/app/config/kafka_consumers.yml")
        );
        assert!(consumer.contains("WorkingDirectory=/srv/app\n"));
    }

    #[test]
    fn percent_signs_in_paths_are_not_specifiers() {
        assert_eq!(quote_word("/a%b"), "/a%%b");
        assert_eq!(quote_word("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn paths_systemd_would_misread_are_refused_and_dollars_doubled() {
        for (field, bad) in [
            ("workdir", "/srv/app\nExecStartPre=/bin/evil"),
            ("manifest", "/srv/app/config\\"),
            ("kafkactl", "/usr/bin/kafkactl "),
        ] {
            let mut s = settings(Scope::System);
            match field {
                "workdir" => s.workdir = bad.into(),
                "manifest" => s.manifest = bad.into(),
                _ => s.kafkactl = bad.into(),
            }
            let err = render_units(&s).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        let mut s = settings(Scope::System);
        s.kafkactl = "/opt/$HOME/kafkactl".into();
        let consumer = &render_units(&s).unwrap()[0].1;
        assert!(
            consumer.contains("ExecStart=\"/opt/$$HOME/kafkactl\" worker %i"),
            "{consumer}"
        );
    }

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
            "kafka-consumer@a:01.service",
            "kafka-consumer@a:+1.service",
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
        let all = InstanceSelector::parse("price_drops").unwrap();
        let one = InstanceSelector::parse("price_drops:2").unwrap();
        let i1 = Instance::new("price_drops", 1);
        let i2 = Instance::new("price_drops", 2);
        assert!(all.matches(&i1) && all.matches(&i2));
        assert!(!one.matches(&i1) && one.matches(&i2));
        assert!(!all.matches(&Instance::new("other", 1)));
        assert!(InstanceSelector::parse("Bad-Name").is_err());
    }
}
