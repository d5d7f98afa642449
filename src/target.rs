//! Where a command acts: this machine's own systemd manager, or one host over SSH.
//!
//! Every control command takes its hosts as [`Target`]s and runs one code path for both;
//! only connecting (local bus or SSH + `systemd-stdio-bridge`), writing unit files (the file
//! system or SFTP) and running a program (a child process or an SSH channel) differ, and they
//! differ here.

use crate::manifest::Host;
use crate::systemd::{DbusSystemd, Scope, SystemdManager};
use crate::transport::{self, SshOptions};
use std::path::{Path, PathBuf};

/// One place a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// This machine, through its own system or user bus (no SSH).
    Local,
    /// A host reached over SSH.
    Ssh(Host),
}

impl Target {
    /// The name in output: `localhost`, or the host as `user@address:port`.
    pub(crate) fn label(&self) -> String {
        match self {
            Target::Local => "localhost".to_string(),
            Target::Ssh(host) => host.to_string(),
        }
    }

    /// Connects to the target's `scope` manager and checks that it answers.
    pub(crate) async fn connect(
        &self,
        scope: Scope,
        ssh: &SshOptions,
    ) -> Result<DbusSystemd, String> {
        match self {
            Target::Local => {
                let systemd = match scope {
                    Scope::User => DbusSystemd::connect_user().await,
                    Scope::System => DbusSystemd::connect_system().await,
                }
                .map_err(|e| e.to_string())?;
                systemd.check_manager().await.map_err(|e| e.to_string())?;
                Ok(systemd)
            }
            Target::Ssh(host) => transport::connect(host, ssh, scope)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Connects like [`Target::connect`], first checking that the host runs this version of
    /// kafkactl (see [`version_verdict`]): the instances run the host's binary. This machine
    /// runs this binary, so it needs no check.
    pub(crate) async fn connect_checked(
        &self,
        scope: Scope,
        ssh: &SshOptions,
        allow_version_skew: bool,
    ) -> Result<DbusSystemd, String> {
        let Target::Ssh(host) = self else {
            return self.connect(scope, ssh).await;
        };
        let link = transport::connect_link(host, ssh)
            .await
            .map_err(|e| e.to_string())?;
        let (link, theirs) = transport::remote_version(link, ssh.connect_timeout * 3).await;
        let theirs = theirs.map_err(|e| e.to_string())?;
        let ours = env!("CARGO_PKG_VERSION");
        if let Some(warning) = version_verdict(ours, theirs.as_deref(), allow_version_skew)? {
            eprintln!("{}: warning: {warning}", self.label());
        }
        transport::systemd_over(link, host, scope, ssh.connect_timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// The command that installs the consumer template on this target, for hints.
    pub(crate) fn install_hint(&self, scope: Scope) -> String {
        let command = match scope {
            Scope::User => "kafkactl --user install-units",
            Scope::System => "kafkactl install-units",
        };
        match self {
            Target::Local => command.to_string(),
            Target::Ssh(host) => format!("{command} --hosts {host}"),
        }
    }

    /// Whether a client's host name (from its client id) is this target: this machine's own
    /// name (`local_hostname`) for [`Target::Local`]; for a host, its address or the
    /// address's first label (`web1` for `web1.example.com`), or the other way round.
    pub(crate) fn is_named(&self, client_hostname: &str, local_hostname: &str) -> bool {
        match self {
            Target::Local => client_hostname == local_hostname,
            Target::Ssh(host) => {
                let address = host.address.as_str();
                address == client_hostname
                    || address.split('.').next() == Some(client_hostname)
                    || client_hostname.split('.').next() == Some(address)
            }
        }
    }

    /// Writes `files` (name, contents) into the `scope` manager's unit directory on the
    /// target, each atomically (a temporary name, then a rename), and reloads the manager.
    /// Before anything is written, `vet` sees the unit files already there (name, contents)
    /// and may refuse. Returns the directory.
    pub(crate) async fn install_unit_files(
        &self,
        scope: Scope,
        ssh: &SshOptions,
        files: &[(&'static str, String)],
        vet: &(dyn Fn(&str, &str) -> Result<(), String> + Sync),
    ) -> Result<PathBuf, String> {
        let owned: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(name, text)| (name.to_string(), text.clone().into_bytes()))
            .collect();
        let (dir, systemd) = match self {
            Target::Local => {
                let dir = scope.unit_dir();
                for (name, _) in &owned {
                    if let Ok(existing) = std::fs::read_to_string(dir.join(name)) {
                        vet(name, &existing)?;
                    }
                }
                write_local(&dir, &owned)?;
                (dir, self.connect(scope, ssh).await?)
            }
            Target::Ssh(host) => {
                let link = transport::connect_link(host, ssh)
                    .await
                    .map_err(|e| e.to_string())?;
                // Read what is there first; the vetting runs on this thread (the closure is
                // not 'static), and nothing is written when it refuses.
                let names: Vec<String> = owned.iter().map(|(n, _)| n.clone()).collect();
                let (link, dir, existing) = tokio::task::spawn_blocking(move || {
                    let dir = remote_unit_dir(&link, scope)?;
                    let mut found = Vec::new();
                    for name in names {
                        if let Some(bytes) = link
                            .read_file(&dir.join(&name))
                            .map_err(|e| e.to_string())?
                        {
                            found.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                        }
                    }
                    Ok::<_, String>((link, dir, found))
                })
                .await
                .map_err(|e| e.to_string())??;
                for (name, text) in &existing {
                    vet(name, text)?;
                }
                let (link, dir) = tokio::task::spawn_blocking(move || {
                    for (name, bytes) in &owned {
                        link.write_file(&dir.join(name), bytes)
                            .map_err(|e| e.to_string())?;
                    }
                    Ok::<_, String>((link, dir))
                })
                .await
                .map_err(|e| e.to_string())??;
                let systemd = transport::systemd_over(link, host, scope, ssh.connect_timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                (dir, systemd)
            }
        };
        systemd.reload().await.map_err(|e| e.to_string())?;
        Ok(dir)
    }
}

/// The `scope` manager's unit directory on a host.
fn remote_unit_dir(link: &transport::ssh::SshLink, scope: Scope) -> Result<PathBuf, String> {
    Ok(match scope {
        Scope::System => PathBuf::from("/etc/systemd/system"),
        Scope::User => link
            .home_dir()
            .map_err(|e| e.to_string())?
            .join(".config/systemd/user"),
    })
}

/// Writes files into `dir` on this machine, each through a temporary name and a rename.
fn write_local(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Whether a host running kafkactl `theirs` (`None`: not installed) may be acted on by this
/// controller, version `ours`: the same version, or any with `--allow-version-skew` (then with
/// a warning). The instances run the host's binary, so a skewed host would run code other than
/// what was tested with this controller's manifest rules.
pub(crate) fn version_verdict(
    ours: &str,
    theirs: Option<&str>,
    allow_skew: bool,
) -> Result<Option<String>, String> {
    let problem = match theirs {
        Some(v) if v == ours => return Ok(None),
        Some(v) => format!("the host runs kafkactl {v}, this controller is kafkactl {ours}"),
        None => format!(
            "kafkactl is not installed on the host (no `kafkactl` in the login PATH); this \
             controller is kafkactl {ours}"
        ),
    };
    if allow_skew {
        Ok(Some(format!("{problem}; going on (--allow-version-skew)")))
    } else {
        Err(format!(
            "{problem}. Refusing to deploy: install kafkactl {ours} on the host (the same \
             package as the controller), or rerun with --allow-version-skew"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(text: &str) -> Target {
        Target::Ssh(Host::parse(text).unwrap())
    }

    #[test]
    fn labels_name_the_machine_or_the_host() {
        assert_eq!(Target::Local.label(), "localhost");
        assert_eq!(ssh("deploy@web1").label(), "deploy@web1:22");
    }

    #[test]
    fn install_hints_name_the_host() {
        assert_eq!(
            Target::Local.install_hint(Scope::User),
            "kafkactl --user install-units"
        );
        assert_eq!(
            ssh("10.0.0.5:2222").install_hint(Scope::System),
            "kafkactl install-units --hosts 10.0.0.5:2222"
        );
    }

    #[test]
    fn client_host_names_match_their_target() {
        assert!(Target::Local.is_named("server1", "server1"));
        assert!(!Target::Local.is_named("server2", "server1"));
        assert!(ssh("deploy@web1:22").is_named("web1", "x"));
        assert!(ssh("deploy@web1.example.com:22").is_named("web1", "x"));
        assert!(ssh("10.0.0.5:2222").is_named("10.0.0.5", "x"));
        assert!(ssh("[fd00::7]:22").is_named("fd00::7", "x"));
        assert!(!ssh("deploy@web2:22").is_named("web1", "x"));
    }

    #[test]
    fn the_same_version_deploys_silently() {
        assert_eq!(version_verdict("0.1.0", Some("0.1.0"), false), Ok(None));
    }

    #[test]
    fn skew_is_refused_naming_both_versions() {
        let err = version_verdict("0.1.0", Some("0.0.9"), false).unwrap_err();
        assert!(
            err.contains("kafkactl 0.0.9") && err.contains("kafkactl 0.1.0"),
            "{err}"
        );
        assert!(err.contains("--allow-version-skew"), "{err}");
        let missing = version_verdict("0.1.0", None, false).unwrap_err();
        assert!(missing.contains("not installed"), "{missing}");
    }

    #[test]
    fn allowed_skew_is_a_warning() {
        let warning = version_verdict("0.1.0", Some("0.2.0"), true)
            .unwrap()
            .unwrap();
        assert!(warning.contains("kafkactl 0.2.0") && warning.contains("--allow-version-skew"));
    }
}
