//! Where consumers run: [`Host`] (an SSH target, `[user@]address[:port]` or a mapping),
//! [`Placement`], a manifest's fleet, and the checks of `hosts:`, `roles:` and a consumer's
//! `role:` / `hosts:`.

use super::build::{describe, get, Checker};
use super::error::Pos;
use super::keys::HOST_KEYS;
use super::rules::{check_address, check_ssh_user, is_role_name, split_host_port};
use super::yaml::{Entry, Node, Value};
use super::{ConsumerSpec, Manifest, DEFAULT_SSH_PORT};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Which hosts a consumer runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// No `role` or `hosts`: every host of the fleet ([`Manifest::fleet`]); the local machine
    /// when the manifest has no fleet.
    Everywhere,
    /// The hosts of this role (which exists in [`Manifest::roles`]).
    Role(String),
    /// These hosts.
    Hosts(Vec<Host>),
}

/// A server reached over SSH: `user@address:port`, or a mapping with an identity file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// Host name or IP address (IPv6 without brackets).
    pub address: String,
    /// SSH port, default [`DEFAULT_SSH_PORT`].
    pub port: u16,
    /// SSH user; `None`: ssh's default.
    pub user: Option<String>,
    /// SSH private key; `None`: ssh's default.
    pub identity_file: Option<PathBuf>,
}

impl Host {
    /// Parses `[user@]address[:port]`, IPv6 in brackets (`[::1]:22`).
    ///
    /// # Errors
    /// Why the text is not a host, without the text itself.
    pub fn parse(text: &str) -> Result<Host, String> {
        let (user, rest) = match text.split_once('@') {
            Some((user, rest)) => {
                check_ssh_user(user)?;
                (Some(user.to_string()), rest)
            }
            None => (None, text),
        };
        let (address, port) = split_host_port(rest)?;
        Ok(Host {
            address,
            port: port.unwrap_or(DEFAULT_SSH_PORT),
            user,
            identity_file: None,
        })
    }

    /// Whether both name the same SSH target (user, address and port).
    pub fn same_target(&self, other: &Host) -> bool {
        self.address == other.address && self.port == other.port && self.user == other.user
    }
}

/// `[user@]address:port`, IPv6 in brackets.
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.address.contains(':') {
            write!(f, "[{}]:{}", self.address, self.port)
        } else {
            write!(f, "{}:{}", self.address, self.port)
        }
    }
}

impl Manifest {
    /// Every host of the fleet: `hosts:`, then each role's in role-name order, without repeats.
    /// Empty when the manifest names no host (everything runs on the local machine).
    pub fn fleet(&self) -> Vec<&Host> {
        let mut out: Vec<&Host> = Vec::new();
        for host in self.hosts.iter().chain(self.roles.values().flatten()) {
            if !out.iter().any(|h| h.same_target(host)) {
                out.push(host);
            }
        }
        out
    }

    /// The hosts `consumer` runs on. Empty for [`Placement::Everywhere`] in a manifest without
    /// hosts, meaning the local machine.
    pub fn hosts_for<'a>(&'a self, consumer: &'a ConsumerSpec) -> Vec<&'a Host> {
        match &consumer.placement {
            Placement::Everywhere => self.fleet(),
            Placement::Role(role) => self.roles.get(role).into_iter().flatten().collect(),
            Placement::Hosts(hosts) => hosts.iter().collect(),
        }
    }
}

/// A placement as written in `defaults:` or a consumer, before `roles:` is known to define
/// the role (`role:` is checked against `roles:` once both are read).
#[derive(Debug, Clone)]
pub(super) enum PlacementSrc {
    Role(String),
    Hosts(Vec<Host>),
}

impl Checker<'_> {
    /// `roles:`: role name -> list of hosts.
    pub(super) fn roles(&mut self, node: &Node) -> BTreeMap<String, Vec<Host>> {
        let mut out = BTreeMap::new();
        let Some(entries) = self.map(
            node,
            "roles",
            "a mapping of role name -> list of hosts, such as `consumers: [deploy@10.0.0.5]`",
        ) else {
            return out;
        };
        for e in entries {
            if !is_role_name(&e.key) {
                self.err(
                    e.key_pos,
                    format!("role names must be a-z, 0-9, `_` and `-`, got {:?}", e.key),
                );
            }
            // A bad name does not stop its hosts being checked: every problem in one run.
            let hosts = self
                .host_list(&e.value, &format!("role `{}`", e.key))
                .unwrap_or_default();
            out.insert(e.key.clone(), hosts);
        }
        out
    }

    /// The `role:` / `hosts:` of `defaults:` or a consumer; giving both is an error, reported
    /// at the later of the two.
    pub(super) fn placement(&mut self, entries: &[Entry]) -> Option<(PlacementSrc, Pos)> {
        let role = get(entries, "role");
        let hosts = get(entries, "hosts");
        if let (Some(r), Some(h)) = (role, hosts) {
            let later = if r.key_pos > h.key_pos { r } else { h };
            self.err(
                later.key_pos,
                "give either `role` (hosts of a role) or `hosts` (a list of hosts), not both",
            );
        } else if let Some(e) = role {
            if let Some(role) = self.role_name(&e.value) {
                return Some((PlacementSrc::Role(role), e.value.pos));
            }
        } else if let Some(e) = hosts {
            if let Some(hosts) = self.host_list(&e.value, "hosts") {
                if hosts.is_empty() {
                    self.err(
                        e.value.pos,
                        "hosts must list at least one host; to run nothing use `scale: 0`",
                    );
                }
                return Some((PlacementSrc::Hosts(hosts), e.value.pos));
            }
        }
        None
    }

    fn role_name(&mut self, node: &Node) -> Option<String> {
        let role = self.string(node, "role")?;
        if !is_role_name(&role) {
            self.err(
                node.pos,
                format!("role must be a role name of a-z, 0-9, `_` and `-`, got {role:?}"),
            );
            return None;
        }
        Some(role)
    }

    /// Reports a `role` that `roles:` does not define (`who`: which consumer, or empty).
    pub(super) fn check_role(
        &mut self,
        role: &str,
        at: Pos,
        roles: Option<&BTreeMap<String, Vec<Host>>>,
        who: &str,
    ) {
        match roles {
            Some(roles) if roles.contains_key(role) => {}
            Some(roles) => {
                let known: Vec<&str> = roles.keys().map(String::as_str).collect();
                let mut msg = format!("unknown role `{role}`{who}");
                if known.is_empty() {
                    msg.push_str("; `roles:` defines no role");
                } else {
                    msg.push_str(&format!("; known roles: {}", known.join(", ")));
                }
                if let Some(s) = super::keys::suggest(role, &known) {
                    msg.push_str(&format!(" (did you mean `{s}`?)"));
                }
                self.err(at, msg);
            }
            None => self.err(
                at,
                format!(
                    "role `{role}`{who} is not defined: the manifest has no `roles:` mapping \
                     (role name -> list of hosts)"
                ),
            ),
        }
    }

    /// A list of hosts (`hosts:`, a role's); a host listed twice is reported at the second.
    /// `None` when `node` is not a list.
    pub(super) fn host_list(&mut self, node: &Node, field: &str) -> Option<Vec<Host>> {
        let Value::Seq(items) = &node.value else {
            self.err(
                node.pos,
                format!(
                    "{field} must be a list of hosts (\"user@address:port\" or \
                     {{address, port, user, identity_file}}), got {}",
                    describe(node)
                ),
            );
            return None;
        };
        let mut out: Vec<Host> = Vec::new();
        let mut seen: Vec<(Host, Pos)> = Vec::new();
        for item in items {
            let Some(host) = self.host(item) else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(h, _)| h.same_target(&host)) {
                self.err(
                    item.pos,
                    format!(
                        "host `{host}` is listed twice in {field} (first at line {})",
                        first.line
                    ),
                );
                continue;
            }
            seen.push((host.clone(), item.pos));
            out.push(host);
        }
        Some(out)
    }

    /// One host: a `[user@]address[:port]` string or an `{address, port, user,
    /// identity_file}` mapping.
    fn host(&mut self, node: &Node) -> Option<Host> {
        match &node.value {
            Value::Scalar { text, .. } => match Host::parse(text) {
                Ok(host) => Some(host),
                Err(why) => {
                    self.err(
                        node.pos,
                        format!(
                            "a host must be \"[user@]address[:port]\" such as \
                             \"deploy@10.0.0.5:22\", got {text:?}: {why}"
                        ),
                    );
                    None
                }
            },
            Value::Map(entries) => self.host_mapping(node.pos, entries),
            _ => {
                self.err(
                    node.pos,
                    format!(
                        "a host must be \"[user@]address[:port]\" or a mapping {{address, port, \
                         user, identity_file}}, got {}",
                        describe(node)
                    ),
                );
                None
            }
        }
    }

    fn host_mapping(&mut self, pos: Pos, entries: &[Entry]) -> Option<Host> {
        self.keys(entries, HOST_KEYS, "in host");
        let Some(address) = get(entries, "address") else {
            self.err(
                pos,
                "a host mapping needs `address:` (and may have port, user, identity_file)",
            );
            return None;
        };
        let address_pos = address.value.pos;
        let address = self.string(&address.value, "address")?;
        // Bare IPv6 is fine here: no port follows it in the same string.
        if let Err(why) = check_address(&address, true) {
            self.err(
                address_pos,
                format!("address must be a host name or IP address, got {address:?}: {why}"),
            );
            return None;
        }
        let port = match get(entries, "port") {
            Some(e) => self.int(&e.value, "port", 1, 65535)? as u16,
            None => DEFAULT_SSH_PORT,
        };
        let user = match get(entries, "user") {
            Some(e) => {
                let user = self.string(&e.value, "user")?;
                if let Err(why) = check_ssh_user(&user) {
                    self.err(e.value.pos, format!("user {user:?}: {why}"));
                    return None;
                }
                Some(user)
            }
            None => None,
        };
        let identity_file = match get(entries, "identity_file") {
            Some(e) => {
                let file = self.string(&e.value, "identity_file")?;
                if file.is_empty() {
                    self.err(e.value.pos, "identity_file must be a path, got \"\"");
                    return None;
                }
                Some(PathBuf::from(file))
            }
            None => None,
        };
        Some(Host {
            address,
            port,
            user,
            identity_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for bad in ["-oProxyCommand=x", "u@", "@h", "h:0", "::1", "a b", "h:ssh"] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
        let h = Host::parse("deploy@[::1]:2222").unwrap();
        assert_eq!(
            (h.user.as_deref(), h.address.as_str(), h.port),
            (Some("deploy"), "::1", 2222)
        );
        assert_eq!(h.to_string(), "deploy@[::1]:2222");
        assert_eq!(Host::parse("10.0.0.5").unwrap().to_string(), "10.0.0.5:22");
    }

    #[test]
    fn same_target_ignores_the_identity_file() {
        let a = Host::parse("u@h:22").unwrap();
        let b = Host {
            identity_file: Some(PathBuf::from("/k")),
            ..Host::parse("u@h").unwrap()
        };
        assert!(a.same_target(&b));
        assert!(!a.same_target(&Host::parse("h:22").unwrap()));
        assert!(!a.same_target(&Host::parse("u@h:2222").unwrap()));
    }
}
