//! The fleet: which hosts a command acts on and what each should run (from the manifest's
//! hosts and roles, or `--hosts`), fleet-wide rolling restart batches, bounded parallel
//! fan-out, and the engine every changing command runs ([`apply`]).
//!
//! Every host is a [`Target`], reached through [`crate::target`] and driven through the same
//! [`crate::control`] code as this machine.

pub(crate) mod apply;
pub(crate) mod report;
pub(crate) mod rolling;

use crate::manifest::{Host, Manifest};
use crate::plan::Desired;
use crate::target::Target;
use futures::StreamExt;
use std::future::Future;

/// One place a command acts on and the consumers the manifest places there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FleetHost {
    /// This machine or a host over SSH.
    pub target: Target,
    /// Every consumer placed on it, with its scale (scale 0 included: known but stopped).
    pub desired: Vec<Desired>,
}

impl FleetHost {
    /// The target's name in output.
    pub fn label(&self) -> String {
        self.target.label()
    }

    /// This machine with every consumer of the manifest: what `deploy` acts on when the
    /// manifest names no hosts and no `--hosts` are given (a manifest without a fleet runs
    /// everything locally, as `spawn` does).
    pub fn local(manifest: &Manifest) -> FleetHost {
        FleetHost {
            target: Target::Local,
            desired: Desired::every_consumer(manifest),
        }
    }
}

/// Parses `--hosts` entries (`[user@]address[:port]`).
pub(crate) fn parse_hosts(entries: &[String]) -> Result<Vec<Host>, String> {
    entries
        .iter()
        .map(|e| Host::parse(e.trim()).map_err(|why| format!("--hosts entry '{e}': {why}")))
        .collect()
}

/// Whether `wanted` (from `--hosts`) names `host`: same address and port, and the same user
/// when `wanted` gives one.
fn names(wanted: &Host, host: &Host) -> bool {
    wanted.address == host.address
        && wanted.port == host.port
        && (wanted.user.is_none() || wanted.user == host.user)
}

/// The hosts to act on and what each runs.
///
/// Without `--hosts` (`selected` empty): every host of the manifest's fleet, each with the
/// consumers placed on it. With `--hosts`: when the manifest names hosts, each entry must be
/// one of them (matched by address and port; its manifest entry supplies user and identity
/// file unless the entry gives a user) and gets what the manifest places there; when the
/// manifest names no host at all, every consumer goes to every listed host.
pub(crate) fn targets(manifest: &Manifest, selected: &[Host]) -> Result<Vec<FleetHost>, String> {
    let fleet = manifest.fleet();
    let desired_on = |host: &Host| placed_on(manifest, host);
    if selected.is_empty() {
        if fleet.is_empty() {
            return Err(format!(
                "{} names no hosts: add `hosts:` or `roles:` to it, or pass --hosts",
                manifest.path.display()
            ));
        }
        return Ok(fleet
            .iter()
            .map(|h| FleetHost {
                target: Target::Ssh((*h).clone()),
                desired: desired_on(h),
            })
            .collect());
    }
    let mut out: Vec<FleetHost> = Vec::new();
    for wanted in selected {
        let host = if fleet.is_empty() {
            wanted.clone()
        } else {
            let known = fleet.iter().find(|h| names(wanted, h)).ok_or_else(|| {
                format!(
                    "--hosts: {wanted} is not a host of {} (its hosts: {})",
                    manifest.path.display(),
                    fleet
                        .iter()
                        .map(|h| h.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let mut host = (*known).clone();
            if wanted.user.is_some() {
                host.user = wanted.user.clone();
            }
            host
        };
        if out
            .iter()
            .any(|t| matches!(&t.target, Target::Ssh(h) if h.same_target(&host)))
        {
            continue;
        }
        let desired = desired_on(&host);
        out.push(FleetHost {
            target: Target::Ssh(host),
            desired,
        });
    }
    Ok(out)
}

/// The consumers `manifest` places on `host`, with their scales (every consumer when the
/// manifest names no hosts).
fn placed_on(manifest: &Manifest, host: &Host) -> Vec<Desired> {
    let fleet_is_empty = manifest.fleet().is_empty();
    manifest
        .consumers
        .iter()
        .filter(|c| {
            fleet_is_empty
                || manifest
                    .hosts_for(c)
                    .iter()
                    .any(|h| h.same_target(host) || names(host, h))
        })
        .map(|c| Desired {
            name: c.name.clone(),
            scale: c.scale,
        })
        .collect()
}

/// This machine and what the manifest places on it: every consumer when the manifest names
/// no hosts; otherwise what it places on the hosts that are this machine (by `hostname`, its
/// first label, or a loopback address), and nothing when none is.
pub(crate) fn this_machine(manifest: &Manifest, hostname: &str) -> FleetHost {
    let fleet = manifest.fleet();
    if fleet.is_empty() {
        return FleetHost::local(manifest);
    }
    let mut desired: Vec<Desired> = Vec::new();
    for host in fleet {
        let loopback = host.address == "localhost"
            || host
                .address
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback || Target::Ssh(host.clone()).is_named(hostname, hostname) {
            for d in placed_on(manifest, host) {
                if !desired.iter().any(|w| w.name == d.name) {
                    desired.push(d);
                }
            }
        }
    }
    FleetHost {
        target: Target::Local,
        desired,
    }
}

/// Runs `work` for every item, at most `parallel` at once, and returns the results in input
/// order. One item's failure or slowness does not hold up the others beyond the bound.
pub(crate) async fn fan_out<T, R, F, Fut>(items: Vec<T>, parallel: usize, work: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures::stream::iter(items.into_iter().map(work))
        .buffered(parallel.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, Path::new("fleet.yml")).unwrap()
    }

    fn names_of(targets: &[FleetHost]) -> Vec<String> {
        targets.iter().map(FleetHost::label).collect()
    }

    fn desired(t: &FleetHost) -> Vec<String> {
        t.desired
            .iter()
            .map(|d| format!("{}={}", d.name, d.scale))
            .collect()
    }

    const ROLES: &str = "\
roles:
  consumers: [h1@127.0.0.11:2211, h2@127.0.0.12:2212]
  batch: [h3@127.0.0.13:2213]
consumers:
  - {name: orders, scale: 2, role: consumers}
  - {name: reports, role: batch}
  - {name: audit, scale: 0}
";

    #[test]
    fn every_fleet_host_gets_what_is_placed_on_it() {
        let t = targets(&manifest(ROLES), &[]).unwrap();
        assert_eq!(
            names_of(&t),
            [
                "h3@127.0.0.13:2213",
                "h1@127.0.0.11:2211",
                "h2@127.0.0.12:2212"
            ]
        );
        assert_eq!(desired(&t[0]), ["reports=1", "audit=0"]);
        assert_eq!(desired(&t[1]), ["orders=2", "audit=0"]);
    }

    #[test]
    fn hosts_select_from_the_manifest_by_address_and_port() {
        let m = manifest(ROLES);
        let t = targets(&m, &parse_hosts(&["127.0.0.12:2212".into()]).unwrap()).unwrap();
        assert_eq!(names_of(&t), ["h2@127.0.0.12:2212"]);
        assert_eq!(desired(&t[0]), ["orders=2", "audit=0"]);
        let err = targets(&m, &parse_hosts(&["10.9.9.9".into()]).unwrap()).unwrap_err();
        assert!(err.contains("is not a host of fleet.yml"), "{err}");
    }

    #[test]
    fn a_manifest_without_hosts_deploys_to_this_host() {
        let m = manifest("- name: a\n  scale: 2\n- name: b\n  scale: 0\n");
        let t = FleetHost::local(&m);
        assert_eq!(t.target, Target::Local);
        assert_eq!(t.label(), "localhost");
        assert_eq!(desired(&t), ["a=2", "b=0"]);
        assert_ne!(
            targets(&manifest(ROLES), &[]).unwrap()[0].target,
            Target::Local
        );
    }

    #[test]
    fn without_manifest_hosts_everything_goes_to_the_listed_hosts() {
        let m = manifest("- name: a\n  scale: 2\n");
        let hosts = parse_hosts(&[
            "x@10.0.0.1".into(),
            "x@10.0.0.1".into(),
            "10.0.0.2:2222".into(),
        ])
        .unwrap();
        let t = targets(&m, &hosts).unwrap();
        assert_eq!(names_of(&t), ["x@10.0.0.1:22", "10.0.0.2:2222"]);
        assert_eq!(desired(&t[1]), ["a=2"]);
        let err = targets(&m, &[]).unwrap_err();
        assert!(err.contains("names no hosts"), "{err}");
    }

    #[test]
    fn bad_host_entries_are_named() {
        let err = parse_hosts(&["a@b@c".into()]).unwrap_err();
        assert!(err.contains("'a@b@c'"), "{err}");
    }

    #[tokio::test]
    async fn fan_out_keeps_input_order() {
        let out = fan_out(vec![3u64, 1, 2], 2, |n| async move {
            tokio::time::sleep(std::time::Duration::from_millis(n)).await;
            n * 10
        })
        .await;
        assert_eq!(out, [30, 10, 20]);
    }
}
