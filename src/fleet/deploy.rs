//! `kafkactl deploy`: read every host, plan, print the plan, then converge the fleet.
//!
//! 1. Read (in parallel, `--parallel` hosts at once): connect over SSH, list the consumer
//!    instances, plan against what the manifest places on the host ([`crate::plan::reconcile`],
//!    restarting running instances unless `--no-restart`, removing orphans with `--prune`).
//! 2. Print the plan of every host as a diff. `--dry-run` ends here.
//! 3. Converge (in parallel): starts, enables, stops, disables through
//!    [`crate::control::apply`], the same code `spawn` runs locally.
//! 4. Rolling restarts across the fleet ([`super::rolling`]): one batch after another, each
//!    batch's hosts in parallel; a batch is done when its restart jobs are (for `Type=notify`
//!    units: when the instances said READY) and its instances are active. A consumer whose
//!    restart failed is not restarted further; a host lost mid-deploy has its members skipped
//!    while the other hosts roll on.
//! 5. A summary table per host; exit 1 when any host failed.
//!
//! A host that cannot be reached or fails is reported and never holds up the others.

use super::report::{self, Counts, FleetProgress, HostPlan, HostSummary};
use super::rolling::{self, Member};
use super::{fan_out, FleetHost};
use crate::control::{self, apply, observe, ApplyReport};
use crate::plan::{self, Action, Plan, PlanOptions, Step};
use crate::systemd::{DbusSystemd, Scope, SystemdManager};
use crate::transport::{self, SshOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// Exit code of `deploy --dry-run` when the fleet has drifted from the manifest.
pub const EXIT_CHANGES_PENDING: u8 = 2;

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// System or user managers on the hosts.
    pub scope: Scope,
    /// How to reach the hosts.
    pub ssh: SshOptions,
    /// Hosts worked on at once.
    pub parallel: usize,
    /// Most members of one consumer restarted at once, fleet-wide.
    pub batch_size: usize,
    /// Print the plan only.
    pub dry_run: bool,
    /// Stop and disable instances of consumers the manifest does not list.
    pub prune: bool,
    /// Restart running instances (to pick up new code).
    pub restart: bool,
    /// Act on hosts whose kafkactl version differs from this one's.
    pub allow_version_skew: bool,
}

/// What became of each action of one host's share of a batch.
type Outcomes = Vec<(Action, Result<(), String>)>;

/// A host after reading it.
struct Read {
    target: FleetHost,
    systemd: Option<DbusSystemd>,
    plan: Result<Plan, String>,
}

/// A host's progress through the deploy.
#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    failed_actions: usize,
}

/// Deploys to `targets`; returns the exit code (the plan and summary are printed).
pub async fn deploy(targets: Vec<FleetHost>, options: &DeployOptions) -> u8 {
    let progress = FleetProgress::new();
    let install_hint = match options.scope {
        Scope::User => "kafkactl --user install-units --hosts",
        Scope::System => "kafkactl install-units --hosts",
    };
    let hosts: Vec<Read> = fan_out(targets, options.parallel, |target| {
        let progress = &progress;
        async move {
            let label = target.label();
            progress.line(&format!("{label}: connecting"));
            let (systemd, plan) = match read_host(&target, options, install_hint).await {
                Ok((systemd, plan)) => (Some(systemd), Ok(plan)),
                Err(why) => {
                    progress.line(&format!("{label}: {why}"));
                    (None, Err(why))
                }
            };
            Read {
                target,
                systemd,
                plan,
            }
        }
    })
    .await;

    let listing: Vec<(String, HostPlan<'_>)> = hosts
        .iter()
        .map(|h| {
            let plan = match &h.plan {
                Ok(plan) => HostPlan::Planned(plan),
                Err(why) => HostPlan::Failed(why),
            };
            (h.target.label(), plan)
        })
        .collect();
    print!("{}", report::plan_text(&listing));
    let _ = std::io::stdout().flush();

    if options.dry_run {
        if hosts.iter().any(|h| h.plan.is_err()) {
            return 1;
        }
        let drifted = hosts
            .iter()
            .filter_map(|h| h.plan.as_ref().ok())
            .any(|p| Counts::of(p).drifted());
        return if drifted { EXIT_CHANGES_PENDING } else { 0 };
    }

    let mut tallies: Vec<Tally> = hosts.iter().map(|_| Tally::default()).collect();

    // Converge every reachable host in parallel.
    let converged: Vec<Option<ApplyReport>> =
        fan_out(hosts.iter().collect(), options.parallel, |h: &Read| {
            let progress = &progress;
            async move {
                let (Some(systemd), Ok(plan)) = (&h.systemd, &h.plan) else {
                    return None;
                };
                let converge = Plan {
                    actions: plan
                        .actions
                        .iter()
                        .filter(|a| a.step != Step::Restart)
                        .cloned()
                        .collect(),
                    orphans: plan.orphans.clone(),
                };
                if converge.is_empty() {
                    return Some(ApplyReport::default());
                }
                let sink = progress.host(&h.target.label(), "converge");
                Some(apply(systemd, &converge, &sink).await)
            }
        })
        .await;
    for (tally, report) in tallies.iter_mut().zip(&converged) {
        if let Some(report) = report {
            for failure in report.failures() {
                tally.failed_actions += 1;
                tally.failures.push(format!(
                    "{}: {}",
                    failure.action,
                    failure.outcome.as_ref().err().map_or("", String::as_str)
                ));
            }
        }
    }

    // Rolling restarts across the fleet, on hosts that converged cleanly.
    let members: Vec<Member> = hosts
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(&converged[*i], Some(r) if r.succeeded()))
        .flat_map(|(i, h)| {
            h.plan
                .iter()
                .flat_map(|p| p.instances(Step::Restart))
                .map(move |inst| (i, inst.clone()))
        })
        .collect();
    let batches = rolling::batches(&members, options.batch_size);
    // A consumer whose restart failed is not restarted further (a bad release stops rolling).
    // A host lost mid-deploy is not the consumer's fault: its members are skipped and the
    // others roll on.
    let mut halted: BTreeSet<String> = BTreeSet::new();
    let mut lost: BTreeSet<usize> = BTreeSet::new();
    for (k, batch) in batches.iter().enumerate() {
        let (run, skipped): (Vec<&Member>, Vec<&Member>) = batch
            .iter()
            .partition(|(h, i)| !halted.contains(&i.name) && !lost.contains(h));
        for (host, instance) in skipped {
            tallies[*host].failed_actions += 1;
            tallies[*host].failures.push(if lost.contains(host) {
                format!(
                    "restart {}: skipped, the host was lost earlier in this deploy",
                    instance.unit()
                )
            } else {
                format!(
                    "restart {}: skipped, an earlier restart of {} failed",
                    instance.unit(),
                    instance.name
                )
            });
        }
        if run.is_empty() {
            continue;
        }
        progress.line(&format!(
            "rolling restart {}/{}: {}",
            k + 1,
            batches.len(),
            run.iter()
                .map(|(h, i)| format!("{} on {}", i, hosts[*h].target.host))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut per_host: BTreeMap<usize, Vec<Action>> = BTreeMap::new();
        for (h, instance) in run {
            per_host.entry(*h).or_default().push(Action {
                step: Step::Restart,
                instance: instance.clone(),
            });
        }
        let outcomes: Vec<(usize, Outcomes, bool)> = fan_out(
            per_host.into_iter().collect(),
            options.parallel,
            |(h, actions)| {
                let host = &hosts[h];
                let progress = &progress;
                async move {
                    let systemd = host
                        .systemd
                        .as_ref()
                        .expect("converged hosts are connected");
                    let sink = progress.host(&host.target.label(), &format!("restart {}", k + 1));
                    let results = restart_batch(systemd, actions, &sink).await;
                    let failed = results.iter().any(|(_, outcome)| outcome.is_err());
                    let gone = failed && !manager_answers(systemd, options).await;
                    (h, results, gone)
                }
            },
        )
        .await;
        for (h, results, gone) in outcomes {
            if gone {
                lost.insert(h);
            }
            for (action, outcome) in results {
                if let Err(why) = outcome {
                    if !gone {
                        halted.insert(action.instance.name.clone());
                    }
                    tallies[h].failed_actions += 1;
                    tallies[h].failures.push(format!("{action}: {why}"));
                }
            }
        }
    }

    let rows: Vec<HostSummary> = hosts
        .iter()
        .zip(&tallies)
        .map(|(h, tally)| {
            let (result, counts, detail) = match &h.plan {
                Err(why) => ("unreachable".to_string(), Counts::default(), why.clone()),
                Ok(plan) => {
                    let ok = tally.failures.is_empty();
                    (
                        if ok { "ok" } else { "failed" }.to_string(),
                        Counts::of(plan),
                        tally.failures.first().cloned().unwrap_or_default(),
                    )
                }
            };
            HostSummary {
                host: h.target.label(),
                result,
                counts,
                failed_actions: tally.failed_actions,
                detail,
            }
        })
        .collect();
    drop(hosts);
    println!(
        "{}",
        report::summary_table(&rows, control::output::color_enabled())
    );
    for (row, tally) in rows.iter().zip(&tallies) {
        for failure in tally.failures.iter().skip(1) {
            eprintln!("{}: {failure}", row.host);
        }
    }
    let failed = rows.iter().filter(|r| !r.ok()).count();
    if failed == 0 {
        println!("deploy: {} host(s) converged", rows.len());
        0
    } else {
        println!(
            "deploy: {failed} of {} host(s) failed; run deploy again once they are back",
            rows.len()
        );
        1
    }
}

/// Connects to a host, reads its instances and plans.
async fn read_host(
    target: &FleetHost,
    options: &DeployOptions,
    install_hint: &str,
) -> Result<(DbusSystemd, Plan), String> {
    let systemd = if target.is_local() {
        control::commands::connect(options.scope)
            .await
            .map_err(|e| format!("{e:#}"))?
    } else {
        let link = transport::connect_link(&target.host, &options.ssh)
            .await
            .map_err(|e| e.to_string())?;
        let (link, theirs) = transport::remote_version(link, options.ssh.connect_timeout * 3).await;
        let theirs = theirs.map_err(|e| e.to_string())?;
        let ours = env!("CARGO_PKG_VERSION");
        if let Some(warning) = version_verdict(ours, theirs.as_deref(), options.allow_version_skew)?
        {
            eprintln!("{}: warning: {warning}", target.label());
        }
        transport::systemd_over(
            link,
            &target.host,
            options.scope,
            options.ssh.connect_timeout,
        )
        .await
        .map_err(|e| e.to_string())?
    };
    let observed = observe(&systemd).await.map_err(|e| e.to_string())?;
    let plan = plan::reconcile(
        &target.desired,
        &observed,
        PlanOptions {
            restart_running: options.restart,
            prune: options.prune,
        },
    );
    if !plan.instances(Step::Enable).is_empty() || !plan.instances(Step::Start).is_empty() {
        let hint = if target.is_local() {
            install_hint.trim_end_matches(" --hosts").to_string()
        } else {
            format!("{install_hint} {}", target.host)
        };
        control::require_template(&systemd, &hint).await?;
    }
    Ok((systemd, plan))
}

/// Whether a host running kafkactl `theirs` (`None`: not installed) may be deployed to by
/// this controller, version `ours`: the same version, or any with `--allow-version-skew`
/// (then with a warning). The instances run the host's binary, so a skewed host would run
/// code other than what was tested with this controller's manifest rules.
fn version_verdict(
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

/// Whether a host's manager still answers (after a failed restart: was it the host or the
/// instance?).
async fn manager_answers(systemd: &DbusSystemd, options: &DeployOptions) -> bool {
    matches!(
        tokio::time::timeout(options.ssh.connect_timeout, systemd.check_manager()).await,
        Ok(Ok(()))
    )
}

/// Restarts one host's share of a batch and checks that each instance is active afterwards.
async fn restart_batch<S: SystemdManager>(
    systemd: &S,
    actions: Vec<Action>,
    progress: &dyn control::Progress,
) -> Outcomes {
    let plan = Plan {
        actions,
        orphans: Vec::new(),
    };
    let report = apply(systemd, &plan, progress).await;
    let mut out = Vec::new();
    for result in report.results {
        let outcome = match result.outcome {
            Err(why) => Err(why),
            Ok(()) => match systemd.unit_status(&result.action.instance.unit()).await {
                Ok(status) if status.is_active() => Ok(()),
                Ok(status) => Err(format!(
                    "restarted but {}/{} (result {})",
                    status.active_state,
                    status.sub_state,
                    status.result.as_deref().unwrap_or("-")
                )),
                Err(err) => Err(err.to_string()),
            },
        };
        out.push((result.action, outcome));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
