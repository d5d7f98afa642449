//! Every command that changes consumer instances (`spawn`, `stop`, `restart`,
//! `disable-and-stop`, `deploy`) runs this one engine, on one host or a hundred:
//!
//! 1. Read (in parallel, `--parallel` hosts at once): connect (this machine's bus, or SSH),
//!    list the consumer instances, and plan with the command's [`Planner`] (a pure function of
//!    what the host should run and what it runs: [`crate::plan`]).
//! 2. Print the plan of every host as a diff (or JSON). `--dry-run` ends here; on a terminal a
//!    plan that stops, disables or restarts anything asks y/N first, unless `--yes`.
//! 3. Converge (in parallel): starts, enables, stops, disables through
//!    [`crate::control::apply`].
//! 4. Rolling restarts across the fleet ([`super::rolling`]): one batch after another, each
//!    batch's hosts in parallel; a batch is done when its restart jobs are (for `Type=notify`
//!    units: when the instances said READY) and its instances are active. A consumer whose
//!    restart failed is not restarted further; a host lost mid-run has its members skipped
//!    while the other hosts roll on.
//! 5. A summary per host (table or JSON); exit 1 when any host failed.
//!
//! A host that cannot be reached or fails is reported and never holds up the others.

use super::report::{self, Counts, FleetProgress, HostPlan, HostSummary};
use super::rolling::{self, Member};
use super::{fan_out, FleetHost};
use crate::control::{self, apply, observe, ApplyReport};
use crate::error::{EXIT_CHANGES_PENDING, EXIT_FAILED, EXIT_USAGE};
use crate::plan::{Action, Observed, Plan, Step};
use crate::systemd::{DbusSystemd, Scope, SystemdManager};
use crate::transport::SshOptions;
use crate::units::InstanceSelector;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write;
use std::time::Duration;

/// What a command plans on one host from what the host runs: pure, so the same planning
/// serves this machine and every host of a fleet.
pub(crate) type Planner<'a> = dyn Fn(&FleetHost, &[Observed]) -> Plan + Sync + 'a;

/// How to run a command across its hosts.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// The command's name, for messages and the JSON report (`deploy`, `stop`, ...).
    pub command: &'static str,
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
    /// Whether planned restarts count as changes for `--dry-run`'s exit code. `deploy`
    /// restarts every running instance to pick up new code, so for it only drift counts.
    pub restarts_are_changes: bool,
    /// Ask y/N before a plan that stops, disables or restarts anything (a terminal without
    /// `--yes`).
    pub ask: bool,
    /// One JSON document on stdout instead of the diff and the table.
    pub json: bool,
    /// Act on hosts whose kafkactl version differs from this one's.
    pub allow_version_skew: bool,
    /// When set, some reachable host must have an instance it matches: a name that matches
    /// nothing anywhere is a typo (exit 2), not "nothing to do".
    pub must_match: Option<InstanceSelector>,
}

/// Reaches the manager of one host: over the host's [`crate::target::Target`] for real, in
/// memory in tests.
pub(crate) trait Connector: Sync {
    /// The manager it hands back.
    type Manager: SystemdManager;
    /// Connects to `host`'s manager, or says why not.
    fn connect(
        &self,
        host: &FleetHost,
    ) -> impl Future<Output = Result<Self::Manager, String>> + Send;
}

/// Connects through each host's target, checking its kafkactl version.
struct TargetConnector<'a> {
    options: &'a RunOptions,
}

impl Connector for TargetConnector<'_> {
    type Manager = DbusSystemd;

    async fn connect(&self, host: &FleetHost) -> Result<DbusSystemd, String> {
        let o = self.options;
        host.target
            .connect_checked(o.scope, &o.ssh, o.allow_version_skew)
            .await
    }
}

/// One host's state through a run; each phase reads and updates it.
struct HostRun<S> {
    host: FleetHost,
    /// Its manager; `None` when it could not be reached or read.
    systemd: Option<S>,
    /// Its plan, or why it could not be read.
    plan: Result<Plan, String>,
    /// Whether [`RunOptions::must_match`] matched one of its instances.
    matched: bool,
    /// Whether every converge action succeeded (only then are its instances restarted).
    converged: bool,
    /// The manager stopped answering during the rolling restarts.
    lost: bool,
    /// What failed, for the summary.
    failures: Vec<String>,
    /// How many actions failed or were skipped.
    failed_actions: usize,
}

impl<S> HostRun<S> {
    fn fail(&mut self, why: String) {
        self.failed_actions += 1;
        self.failures.push(why);
    }
}

/// Plans `planner` on every target, then (unless `--dry-run`) carries the plans out; returns
/// the exit code (the plan and summary are printed).
pub(crate) async fn run(
    targets: Vec<FleetHost>,
    planner: &Planner<'_>,
    options: &RunOptions,
) -> u8 {
    run_with(targets, planner, options, &TargetConnector { options })
        .await
        .0
}

/// [`run`] through any [`Connector`]: the exit code, and each host's summary row.
async fn run_with<C: Connector>(
    targets: Vec<FleetHost>,
    planner: &Planner<'_>,
    options: &RunOptions,
    connector: &C,
) -> (u8, Vec<HostSummary>) {
    let progress = FleetProgress::new();
    let mut hosts = read(targets, planner, options, connector, &progress).await;
    if let Some(selector) = &options.must_match {
        let reachable = hosts.iter().any(|h| h.plan.is_ok());
        if reachable && !hosts.iter().any(|h| h.matched) {
            eprintln!(
                "kafkactl: no kafka-consumer instance matches '{selector}' on {} host(s); \
                 `kafkactl status` lists them",
                hosts.len()
            );
            return (EXIT_USAGE, Vec::new());
        }
    }
    if options.json {
        if options.dry_run {
            let code = dry_run_code(&hosts, options);
            print_json(options, code, &hosts, None);
            return (code, Vec::new());
        }
    } else {
        print_plans(&hosts);
        if options.dry_run {
            return (dry_run_code(&hosts, options), Vec::new());
        }
    }
    if options.ask {
        if let Some(question) = confirmation(&hosts) {
            if !ask_yes_no(&question).await {
                eprintln!("kafkactl: aborted; nothing was changed");
                return (EXIT_FAILED, Vec::new());
            }
        }
    }
    converge(&mut hosts, options, &progress).await;
    roll(&mut hosts, options, &progress).await;
    let (code, rows) = summarize(&hosts, options);
    if options.json {
        print_json(options, code, &hosts, Some(&rows));
    }
    (code, rows)
}

/// The y/N question to ask before a plan that takes instances down, even for a moment
/// (stop, disable, restart); `None` when the plan only brings instances up.
fn confirmation<S>(hosts: &[HostRun<S>]) -> Option<String> {
    let mut counts: BTreeMap<Step, usize> = BTreeMap::new();
    let mut on_hosts = 0;
    for plan in hosts.iter().filter_map(|h| h.plan.as_ref().ok()) {
        let mut touched = false;
        for action in &plan.actions {
            if matches!(action.step, Step::Stop | Step::Disable | Step::Restart) {
                *counts.entry(action.step).or_default() += 1;
                touched = true;
            }
        }
        on_hosts += usize::from(touched);
    }
    if counts.is_empty() {
        return None;
    }
    let what = counts
        .iter()
        .map(|(step, n)| format!("{step} {n} instance(s)"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!("{what} on {on_hosts} host(s). Proceed? [y/N] "))
}

/// Asks on stderr and reads the answer from stdin: only `y` or `yes` proceed.
async fn ask_yes_no(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).is_ok() && is_yes(&answer)
    })
    .await
    .unwrap_or(false)
}

/// Whether an answer to a y/N question is yes.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Phase 1: connect to every host, list its instances and plan (in parallel).
async fn read<C: Connector>(
    targets: Vec<FleetHost>,
    planner: &Planner<'_>,
    options: &RunOptions,
    connector: &C,
    progress: &FleetProgress,
) -> Vec<HostRun<C::Manager>> {
    fan_out(targets, options.parallel, |host| async move {
        let label = host.label();
        progress.line(&format!("{label}: connecting"));
        let (systemd, plan, matched) = match read_host(&host, planner, options, connector).await {
            Ok((systemd, plan, matched)) => (Some(systemd), Ok(plan), matched),
            Err(why) => {
                progress.line(&format!("{label}: {why}"));
                (None, Err(why), false)
            }
        };
        HostRun {
            host,
            systemd,
            plan,
            matched,
            converged: false,
            lost: false,
            failures: Vec::new(),
            failed_actions: 0,
        }
    })
    .await
}

/// Connects to a host, reads its instances and plans; says whether
/// [`RunOptions::must_match`] matched one of them.
async fn read_host<C: Connector>(
    host: &FleetHost,
    planner: &Planner<'_>,
    options: &RunOptions,
    connector: &C,
) -> Result<(C::Manager, Plan, bool), String> {
    let systemd = connector.connect(host).await?;
    let observed = observe(&systemd).await.map_err(|e| e.to_string())?;
    let matched = options
        .must_match
        .as_ref()
        .is_some_and(|s| observed.iter().any(|o| s.matches(&o.instance)));
    let plan = planner(host, &observed);
    if !plan.instances(Step::Enable).is_empty() || !plan.instances(Step::Start).is_empty() {
        control::require_template(&systemd, &host.target.install_hint(options.scope)).await?;
    }
    Ok((systemd, plan, matched))
}

/// Phase 2: the plan of every host, as a diff.
fn print_plans<S>(hosts: &[HostRun<S>]) {
    let listing: Vec<(String, HostPlan<'_>)> = hosts
        .iter()
        .map(|h| {
            let plan = match &h.plan {
                Ok(plan) => HostPlan::Planned(plan),
                Err(why) => HostPlan::Failed(why),
            };
            (h.host.label(), plan)
        })
        .collect();
    print!("{}", report::plan_text(&listing));
    let _ = std::io::stdout().flush();
}

/// `--dry-run`'s exit code: 1 when a host could not be read, [`EXIT_CHANGES_PENDING`] when
/// a host would change, else 0.
fn dry_run_code<S>(hosts: &[HostRun<S>], options: &RunOptions) -> u8 {
    if hosts.iter().any(|h| h.plan.is_err()) {
        return EXIT_FAILED;
    }
    let pending = hosts
        .iter()
        .filter_map(|h| h.plan.as_ref().ok())
        .any(|p| Counts::of(p).drifted() || (options.restarts_are_changes && !p.is_empty()));
    if pending {
        EXIT_CHANGES_PENDING
    } else {
        0
    }
}

/// The JSON report of a run (`-o json`): one document, the plan of every host and, after a
/// run, what became of it. Schema: docs/schemas/plan.json.
#[derive(Debug, Serialize)]
struct RunReport<'a> {
    /// The command (`deploy`, `stop`, ...).
    command: &'a str,
    /// Whether this was `--dry-run` (nothing was changed).
    dry_run: bool,
    /// The process's exit code.
    exit_code: u8,
    /// Whether something would change (or, after a run, was to change).
    changes_pending: bool,
    /// One entry per host, in the order given.
    hosts: Vec<HostReport>,
}

/// One host in a [`RunReport`].
#[derive(Debug, Serialize)]
struct HostReport {
    /// `localhost`, or `user@address:port`.
    host: String,
    /// `planned` (dry run), `ok`, `failed` or `unreachable`.
    result: String,
    /// Why the host could not be read; null when it was.
    error: Option<String>,
    /// The planned actions, in the order they are carried out (restarts rolling).
    actions: Vec<ActionReport>,
    /// Units of consumers the manifest does not list.
    orphans: Vec<String>,
    /// What failed or was skipped (empty on a dry run).
    failures: Vec<String>,
}

/// One planned action.
#[derive(Debug, Serialize)]
struct ActionReport {
    /// `enable`, `start`, `restart`, `stop`, `disable` or `reset-failed`.
    step: String,
    /// The unit, `kafka-consumer@NAME:N.service`.
    unit: String,
    /// `NAME:N`.
    instance: String,
}

/// Prints the [`RunReport`] of `hosts`.
fn print_json<S>(
    options: &RunOptions,
    code: u8,
    hosts: &[HostRun<S>],
    rows: Option<&[HostSummary]>,
) {
    let report = RunReport {
        command: options.command,
        dry_run: options.dry_run,
        exit_code: code,
        changes_pending: hosts
            .iter()
            .filter_map(|h| h.plan.as_ref().ok())
            .any(|p| Counts::of(p).drifted() || (options.restarts_are_changes && !p.is_empty())),
        hosts: hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let result = match (rows, &h.plan) {
                    (_, Err(_)) => "unreachable".to_string(),
                    (None, Ok(_)) => "planned".to_string(),
                    (Some(rows), Ok(_)) => rows[i].result.clone(),
                };
                let (actions, orphans) = match &h.plan {
                    Ok(plan) => (
                        plan.actions
                            .iter()
                            .map(|a| ActionReport {
                                step: a.step.to_string(),
                                unit: a.instance.unit(),
                                instance: a.instance.to_string(),
                            })
                            .collect(),
                        plan.orphans.iter().map(|o| o.unit()).collect(),
                    ),
                    Err(_) => (Vec::new(), Vec::new()),
                };
                HostReport {
                    host: h.host.label(),
                    result,
                    error: h.plan.as_ref().err().cloned(),
                    actions,
                    orphans,
                    failures: h.failures.clone(),
                }
            })
            .collect(),
    };
    match serde_json::to_string_pretty(&report) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("kafkactl: {err}"),
    }
}

/// Phase 3: starts, enables, stops, disables on every reachable host (in parallel), through
/// [`crate::control::apply`], the same code `spawn` runs locally. Restarts wait for phase 4.
async fn converge<S: SystemdManager>(
    hosts: &mut [HostRun<S>],
    options: &RunOptions,
    progress: &FleetProgress,
) {
    let reports: Vec<Option<ApplyReport>> = fan_out(
        hosts.iter().collect(),
        options.parallel,
        |h: &HostRun<S>| async move {
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
            let sink = progress.host(&h.host.label(), "converge");
            Some(apply(systemd, &converge, &sink).await)
        },
    )
    .await;
    for (host, report) in hosts.iter_mut().zip(reports) {
        let Some(report) = report else { continue };
        host.converged = report.succeeded();
        for failure in report.failures() {
            host.fail(format!(
                "{}: {}",
                failure.action,
                failure.outcome.as_ref().err().map_or("", String::as_str)
            ));
        }
    }
}

/// Phase 4: rolling restarts across the fleet ([`super::rolling`]), on hosts that converged
/// cleanly: one batch after another, each batch's hosts in parallel. A consumer whose
/// restart failed is not restarted further (a bad release stops rolling); a host lost
/// mid-deploy is not the consumer's fault: its members are skipped and the others roll on.
async fn roll<S: SystemdManager>(
    hosts: &mut [HostRun<S>],
    options: &RunOptions,
    progress: &FleetProgress,
) {
    let members: Vec<Member> = hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| h.converged)
        .flat_map(|(i, h)| {
            h.plan
                .iter()
                .flat_map(|p| p.instances(Step::Restart))
                .map(move |inst| (i, inst.clone()))
        })
        .collect();
    let batches = rolling::batches(&members, options.batch_size);
    let mut halted: BTreeSet<String> = BTreeSet::new();
    for (k, batch) in batches.iter().enumerate() {
        let (run, skipped): (Vec<&Member>, Vec<&Member>) = batch
            .iter()
            .partition(|(h, i)| !halted.contains(&i.name) && !hosts[*h].lost);
        for (h, instance) in skipped {
            let why = if hosts[*h].lost {
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
            };
            hosts[*h].fail(why);
        }
        if run.is_empty() {
            continue;
        }
        progress.line(&format!(
            "rolling restart {}/{}: {}",
            k + 1,
            batches.len(),
            run.iter()
                .map(|(h, i)| format!("{} on {}", i, hosts[*h].host.label()))
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
        let shared: &[HostRun<S>] = hosts;
        let outcomes: Vec<(usize, Outcomes, bool)> = fan_out(
            per_host.into_iter().collect(),
            options.parallel,
            |(h, actions)| async move {
                let host = &shared[h];
                let systemd = host
                    .systemd
                    .as_ref()
                    .expect("converged hosts are connected");
                let sink = progress.host(&host.host.label(), &format!("restart {}", k + 1));
                let results = restart_batch(systemd, actions, &sink).await;
                let failed = results.iter().any(|(_, outcome)| outcome.is_err());
                let gone = failed && !manager_answers(systemd, options.ssh.connect_timeout).await;
                (h, results, gone)
            },
        )
        .await;
        for (h, results, gone) in outcomes {
            hosts[h].lost |= gone;
            for (action, outcome) in results {
                if let Err(why) = outcome {
                    if !gone {
                        halted.insert(action.instance.name.clone());
                    }
                    hosts[h].fail(format!("{action}: {why}"));
                }
            }
        }
    }
}

/// Phase 5: a summary row per host, printed as a table unless the report is JSON (further
/// failures on stderr); the exit code is 1 when any host failed.
fn summarize<S>(hosts: &[HostRun<S>], options: &RunOptions) -> (u8, Vec<HostSummary>) {
    let rows: Vec<HostSummary> = hosts
        .iter()
        .map(|h| {
            let (result, counts, detail) = match &h.plan {
                Err(why) => ("unreachable".to_string(), Counts::default(), why.clone()),
                Ok(plan) => (
                    if h.failures.is_empty() {
                        "ok"
                    } else {
                        "failed"
                    }
                    .to_string(),
                    Counts::of(plan),
                    h.failures.first().cloned().unwrap_or_default(),
                ),
            };
            HostSummary {
                host: h.host.label(),
                result,
                counts,
                failed_actions: h.failed_actions,
                detail,
            }
        })
        .collect();
    if !options.json {
        println!(
            "{}",
            report::summary_table(&rows, control::output::color_enabled())
        );
    }
    for (row, host) in rows.iter().zip(hosts) {
        for failure in host.failures.iter().skip(1) {
            eprintln!("{}: {failure}", row.host);
        }
    }
    let failed = rows.iter().filter(|r| !r.ok()).count();
    let command = options.command;
    let code = if failed == 0 { 0 } else { EXIT_FAILED };
    let verdict = if failed == 0 {
        // Scripts (Capistrano tasks, scripts/quickstart-check.sh) look for deploy's word.
        let done = if command == "deploy" {
            "converged"
        } else {
            "done"
        };
        format!("{command}: {} host(s) {done}", rows.len())
    } else {
        format!(
            "{command}: {failed} of {} host(s) failed; run it again once they are back",
            rows.len()
        )
    };
    if options.json {
        eprintln!("{verdict}");
    } else {
        println!("{verdict}");
    }
    (code, rows)
}

/// What became of each action of one host's share of a batch.
type Outcomes = Vec<(Action, Result<(), String>)>;

/// Whether a host's manager still answers (after a failed restart: was it the host or the
/// instance?).
async fn manager_answers<S: SystemdManager>(systemd: &S, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, systemd.check_manager()).await,
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
    use crate::manifest::Host;
    use crate::plan::Desired;
    use crate::systemd::fake::{CallLog, FakeSystemd};
    use crate::target::Target;
    use std::collections::HashMap;

    /// Hands out the fake of each host by label; a host without one is unreachable.
    struct Fakes(HashMap<String, FakeSystemd>);

    impl Connector for Fakes {
        type Manager = FakeSystemd;

        async fn connect(&self, host: &FleetHost) -> Result<FakeSystemd, String> {
            self.0
                .get(&host.label())
                .cloned()
                .ok_or_else(|| format!("{}: connection refused", host.label()))
        }
    }

    fn host(name: &str, desired: &[(&str, u32)]) -> FleetHost {
        FleetHost {
            target: Target::Ssh(Host::parse(&format!("deploy@{name}")).unwrap()),
            desired: desired
                .iter()
                .map(|(name, scale)| Desired {
                    name: name.to_string(),
                    scale: *scale,
                })
                .collect(),
        }
    }

    fn label(name: &str) -> String {
        format!("deploy@{name}:22")
    }

    fn options(batch_size: usize, dry_run: bool) -> RunOptions {
        RunOptions {
            command: "deploy",
            scope: Scope::System,
            ssh: SshOptions::default(),
            parallel: 4,
            batch_size,
            dry_run,
            restarts_are_changes: false,
            ask: false,
            json: false,
            allow_version_skew: false,
            must_match: None,
        }
    }

    /// Deploy's planning: what the manifest places on the host, running instances restarted.
    fn deploy_plan(host: &FleetHost, observed: &[Observed]) -> Plan {
        crate::plan::reconcile(
            &host.desired,
            observed,
            crate::plan::PlanOptions {
                restart_running: true,
                prune: false,
            },
        )
    }

    async fn deploy_with(
        hosts: Vec<FleetHost>,
        options: &RunOptions,
        fakes: &Fakes,
    ) -> (u8, Vec<HostSummary>) {
        run_with(hosts, &deploy_plan, options, fakes).await
    }

    /// A host running `orders` at scale 2, enabled.
    fn running(name: &str, log: &CallLog) -> FakeSystemd {
        FakeSystemd::with_log(&label(name), log.clone())
            .with_unit("kafka-consumer@orders:1.service", true, true)
            .with_unit("kafka-consumer@orders:2.service", true, true)
    }

    fn restarts(calls: &[String]) -> Vec<String> {
        calls
            .iter()
            .filter(|c| c.contains(" restart "))
            .map(|c| {
                let mut words = c.split(' ');
                let host = words.next().unwrap().trim_start_matches("deploy@");
                let unit = words.nth(1).unwrap();
                let instance = unit
                    .trim_start_matches("kafka-consumer@")
                    .trim_end_matches(".service");
                format!("{instance}@{}", host.trim_end_matches(":22"))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_converged_fleet_rolls_one_batch_at_a_time_never_taking_a_group_down() {
        let log = CallLog::default();
        let fakes = Fakes(HashMap::from([
            (label("h1"), running("h1", &log)),
            (label("h2"), running("h2", &log)),
        ]));
        let hosts = vec![host("h1", &[("orders", 2)]), host("h2", &[("orders", 2)])];
        let (code, rows) = deploy_with(hosts, &options(1, false), &fakes).await;
        assert_eq!(code, 0);
        assert!(rows.iter().all(HostSummary::ok), "{rows:?}");
        // Batch size 1: one member of the group at a time, interleaving the hosts, and every
        // member exactly once.
        let order = restarts(&fakes.0[&label("h1")].calls());
        assert_eq!(
            order,
            ["orders:1@h1", "orders:1@h2", "orders:2@h1", "orders:2@h2"]
        );
    }

    #[tokio::test]
    async fn missing_instances_are_started_and_enabled_before_any_restart() {
        let log = CallLog::default();
        let h1 = FakeSystemd::with_log(&label("h1"), log.clone()).with_unit(
            "kafka-consumer@orders:1.service",
            true,
            true,
        );
        let fakes = Fakes(HashMap::from([(label("h1"), h1.clone())]));
        let (code, rows) = deploy_with(
            vec![host("h1", &[("orders", 2)])],
            &options(5, false),
            &fakes,
        )
        .await;
        assert_eq!(code, 0, "{rows:?}");
        assert_eq!(rows[0].counts.start, 1);
        assert_eq!(rows[0].counts.restart, 1);
        assert_eq!(
            h1.unit("kafka-consumer@orders:2.service"),
            Some(("active".into(), true))
        );
        let calls = h1.calls();
        let started = calls
            .iter()
            .position(|c| c.contains("start kafka-consumer@orders:2"));
        let restarted = calls
            .iter()
            .position(|c| c.contains("restart kafka-consumer@orders:1"));
        assert!(started.unwrap() < restarted.unwrap(), "{calls:?}");
    }

    #[tokio::test]
    async fn dry_run_changes_nothing_and_says_whether_hosts_drifted() {
        let log = CallLog::default();
        let h1 = running("h1", &log);
        let fakes = Fakes(HashMap::from([(label("h1"), h1.clone())]));
        let (code, _) = deploy_with(
            vec![host("h1", &[("orders", 2)])],
            &options(1, true),
            &fakes,
        )
        .await;
        assert_eq!(code, 0, "restarts alone are not drift");
        let (code, _) = deploy_with(
            vec![host("h1", &[("orders", 3)])],
            &options(1, true),
            &fakes,
        )
        .await;
        assert_eq!(code, EXIT_CHANGES_PENDING);
        let (code, _) = deploy_with(
            vec![host("h1", &[("orders", 2)]), host("gone", &[("orders", 2)])],
            &options(1, true),
            &fakes,
        )
        .await;
        assert_eq!(code, 1, "an unreachable host fails the dry run");
        assert!(
            h1.calls().iter().all(|c| !c.contains(" start ")
                && !c.contains(" restart ")
                && !c.contains(" stop ")
                && !c.contains(" enable ")),
            "{:?}",
            h1.calls()
        );
    }

    #[tokio::test]
    async fn an_unreachable_host_is_reported_and_the_others_converge() {
        let log = CallLog::default();
        let fakes = Fakes(HashMap::from([(label("h1"), running("h1", &log))]));
        let hosts = vec![host("h1", &[("orders", 2)]), host("h2", &[("orders", 2)])];
        let (code, rows) = deploy_with(hosts, &options(1, false), &fakes).await;
        assert_eq!(code, 1);
        assert_eq!(rows[0].result, "ok");
        assert_eq!(rows[1].result, "unreachable");
        assert!(rows[1].detail.contains("connection refused"), "{rows:?}");
        assert_eq!(restarts(&log.lock().unwrap()).len(), 2);
    }

    #[tokio::test]
    async fn a_host_without_the_template_is_told_how_to_install_it() {
        let h1 = FakeSystemd::new(&label("h1")).without_template();
        let fakes = Fakes(HashMap::from([(label("h1"), h1.clone())]));
        let (code, rows) = deploy_with(
            vec![host("h1", &[("orders", 1)])],
            &options(1, false),
            &fakes,
        )
        .await;
        assert_eq!(code, 1);
        assert_eq!(rows[0].result, "unreachable");
        assert!(
            rows[0]
                .detail
                .contains("kafkactl install-units --hosts deploy@h1:22"),
            "{rows:?}"
        );
        assert!(h1.calls().iter().all(|c| !c.contains(" start ")));
    }

    #[tokio::test]
    async fn a_failed_restart_stops_that_consumer_rolling_everywhere_but_not_the_others() {
        let log = CallLog::default();
        let h1 = running("h1", &log)
            .with_unit("kafka-consumer@audit:1.service", true, true)
            .with_unit("kafka-consumer@audit:2.service", true, true)
            .failing("kafka-consumer@orders:1.service");
        let h2 = running("h2", &log)
            .with_unit("kafka-consumer@audit:1.service", true, true)
            .with_unit("kafka-consumer@audit:2.service", true, true);
        let fakes = Fakes(HashMap::from([(label("h1"), h1), (label("h2"), h2)]));
        let want = [("orders", 2), ("audit", 2)];
        let hosts = vec![host("h1", &want), host("h2", &want)];
        let (code, rows) = deploy_with(hosts, &options(1, false), &fakes).await;
        assert_eq!(code, 1);
        let order = restarts(&log.lock().unwrap());
        // orders:1@h1 fails in the first batch: no other member of orders is restarted, while
        // audit rolls through every member.
        assert_eq!(
            order.iter().filter(|r| r.starts_with("orders")).count(),
            1,
            "{order:?}"
        );
        assert_eq!(
            order.iter().filter(|r| r.starts_with("audit")).count(),
            4,
            "{order:?}"
        );
        assert_eq!(rows[0].result, "failed");
        assert!(rows[0].detail.contains("orders:1"), "{rows:?}");
        assert_eq!(
            rows[1].result, "failed",
            "h2's orders were skipped: {rows:?}"
        );
        assert_eq!(rows[1].failed_actions, 2, "{rows:?}");
    }

    #[tokio::test]
    async fn a_host_lost_mid_deploy_has_its_members_skipped_and_the_others_roll_on() {
        let log = CallLog::default();
        let h1 = running("h1", &log);
        let h2 = running("h2", &log);
        let fakes = Fakes(HashMap::from([
            (label("h1"), h1.clone()),
            (label("h2"), h2),
        ]));
        let hosts = vec![host("h1", &[("orders", 2)]), host("h2", &[("orders", 2)])];
        // Reading and planning h1 takes a few calls; then it goes away for good.
        let options = options(1, false);
        let deploying = deploy_with(hosts, &options, &fakes);
        let reads = {
            // The calls a read makes: list-units, file-state per instance.
            let probe = running("probe", &CallLog::default());
            let _ = observe(&probe).await;
            probe.calls().len() as u32
        };
        h1.lost_after(reads);
        let (code, rows) = deploying.await;
        assert_eq!(code, 1);
        assert_eq!(rows[0].result, "failed");
        assert!(
            rows[0].detail.contains("the host went away")
                || rows[0].detail.contains("lost earlier"),
            "{rows:?}"
        );
        assert_eq!(
            rows[0].failed_actions, 2,
            "the second member was skipped: {rows:?}"
        );
        assert_eq!(rows[1].result, "ok", "h2 rolled on: {rows:?}");
        let order = restarts(&log.lock().unwrap());
        assert_eq!(
            order.iter().filter(|r| r.ends_with("@h2")).count(),
            2,
            "{order:?}"
        );
    }

    #[tokio::test]
    async fn a_host_that_failed_to_converge_is_not_restarted() {
        let log = CallLog::default();
        let h1 = FakeSystemd::with_log(&label("h1"), log.clone())
            .with_unit("kafka-consumer@orders:1.service", true, true)
            .failing("kafka-consumer@orders:2.service");
        let fakes = Fakes(HashMap::from([(label("h1"), h1.clone())]));
        let (code, rows) = deploy_with(
            vec![host("h1", &[("orders", 2)])],
            &options(1, false),
            &fakes,
        )
        .await;
        assert_eq!(code, 1);
        assert!(
            rows[0].detail.contains("start kafka-consumer@orders:2"),
            "{rows:?}"
        );
        assert!(rows[0].detail.contains("result=exit-code"), "{rows:?}");
        assert!(restarts(&h1.calls()).is_empty(), "{:?}", h1.calls());
    }

    /// The planning of `restart -c NAME` / `stop -c NAME`.
    fn each(selector: &str, step: Step) -> impl Fn(&FleetHost, &[Observed]) -> Plan + Sync {
        let selector = InstanceSelector::parse(selector).unwrap();
        move |_: &FleetHost, observed: &[Observed]| crate::plan::each(observed, &selector, step)
    }

    #[tokio::test]
    async fn restart_of_one_consumer_rolls_across_hosts_and_leaves_the_others_alone() {
        let log = CallLog::default();
        let fakes = Fakes(HashMap::from([
            (
                label("h1"),
                running("h1", &log).with_unit("kafka-consumer@billing:1.service", true, true),
            ),
            (label("h2"), running("h2", &log)),
        ]));
        let mut o = options(1, false);
        o.command = "restart";
        o.restarts_are_changes = true;
        o.must_match = Some(InstanceSelector::parse("orders").unwrap());
        let hosts = vec![host("h1", &[]), host("h2", &[])];
        let (code, rows) = run_with(hosts, &each("orders", Step::Restart), &o, &fakes).await;
        assert_eq!(code, 0, "{rows:?}");
        // One at a time, interleaving the hosts, never two members of the group at once;
        // billing untouched.
        assert_eq!(
            restarts(&log.lock().unwrap().clone()),
            ["orders:1@h1", "orders:1@h2", "orders:2@h1", "orders:2@h2"]
        );
        let calls = log.lock().unwrap().clone();
        assert!(
            !calls.iter().any(|c| c.contains("billing")
                && [" restart ", " stop ", " start "]
                    .iter()
                    .any(|v| c.contains(v))),
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn a_name_that_matches_nothing_anywhere_is_bad_input_not_nothing_to_do() {
        let log = CallLog::default();
        let fakes = Fakes(HashMap::from([(label("h1"), running("h1", &log))]));
        let mut o = options(1, false);
        o.must_match = Some(InstanceSelector::parse("order").unwrap());
        let (code, _) = run_with(
            vec![host("h1", &[])],
            &each("order", Step::Stop),
            &o,
            &fakes,
        )
        .await;
        assert_eq!(code, EXIT_USAGE);
        assert!(!log
            .lock()
            .unwrap()
            .clone()
            .iter()
            .any(|c| c.contains(" stop ")));
        // A match that has nothing to do (stopping a stopped instance) is fine.
        let stopped = FakeSystemd::with_log(&label("h1"), log.clone()).with_unit(
            "kafka-consumer@orders:1.service",
            true,
            false,
        );
        let fakes = Fakes(HashMap::from([(label("h1"), stopped)]));
        o.must_match = Some(InstanceSelector::parse("orders").unwrap());
        let (code, _) = run_with(
            vec![host("h1", &[])],
            &each("orders", Step::Stop),
            &o,
            &fakes,
        )
        .await;
        assert_eq!(code, 0);
    }

    #[tokio::test]
    async fn for_restart_and_stop_any_action_is_a_pending_change() {
        let log = CallLog::default();
        let fakes = Fakes(HashMap::from([(label("h1"), running("h1", &log))]));
        let mut o = options(1, true);
        o.restarts_are_changes = true;
        let (code, _) = run_with(
            vec![host("h1", &[])],
            &each("orders:2", Step::Restart),
            &o,
            &fakes,
        )
        .await;
        assert_eq!(code, EXIT_CHANGES_PENDING);
        let (code, _) = run_with(
            vec![host("h1", &[])],
            &each("other", Step::Stop),
            &o,
            &fakes,
        )
        .await;
        assert_eq!(code, 0, "nothing would change");
        assert!(!log
            .lock()
            .unwrap()
            .clone()
            .iter()
            .any(|c| c.contains(" restart ")));
    }

    #[test]
    fn only_plans_that_take_instances_down_are_asked_about() {
        let run = |actions: Vec<(Step, &str, u32)>| HostRun::<FakeSystemd> {
            host: host("h1", &[]),
            systemd: None,
            plan: Ok(Plan {
                actions: actions
                    .into_iter()
                    .map(|(step, name, index)| Action {
                        step,
                        instance: crate::units::Instance::new(name, index),
                    })
                    .collect(),
                orphans: Vec::new(),
            }),
            matched: false,
            converged: false,
            lost: false,
            failures: Vec::new(),
            failed_actions: 0,
        };
        let up = run(vec![(Step::Enable, "a", 1), (Step::Start, "a", 1)]);
        assert_eq!(confirmation(&[up]), None);
        let down = run(vec![(Step::Stop, "a", 2), (Step::Disable, "a", 2)]);
        let restart = run(vec![(Step::Restart, "a", 1)]);
        assert_eq!(
            confirmation(&[down, restart]).as_deref(),
            Some("restart 1 instance(s), stop 1 instance(s), disable 1 instance(s) on 2 host(s). Proceed? [y/N] ")
        );
        for yes in ["y", "Y\n", " yes \n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yy", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
