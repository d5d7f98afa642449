//! The control plane on one host: observe the consumer instances systemd has, plan against
//! what is wanted (pure, in [`crate::plan`]), apply the plan through [`SystemdManager`], and
//! report. Generic over the manager, so the same code serves the local bus and remote hosts.

pub(crate) mod output;

use crate::plan::{Action, Observed, Plan, Step};
use crate::systemd::{JobOutcome, SystemdError, SystemdManager, UnitStatus};
use crate::units::{Instance, CONSUMER_PATTERN, CONSUMER_TEMPLATE};
use futures::StreamExt;
use std::collections::BTreeMap;

/// Jobs (start/stop/restart) in flight at once on one host. systemd runs jobs from its own
/// queue; waiting on many at once costs nothing but the signals.
pub const JOB_CONCURRENCY: usize = 64;

/// What became of one action.
#[derive(Debug, Clone)]
pub struct ActionResult {
    /// The action.
    pub action: Action,
    /// `Ok` when it did what it should; otherwise why not, for an operator.
    pub outcome: Result<(), String>,
}

/// The results of applying a plan, in plan order.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// One entry per action.
    pub results: Vec<ActionResult>,
}

impl ApplyReport {
    /// Whether every action succeeded.
    pub fn succeeded(&self) -> bool {
        self.results.iter().all(|r| r.outcome.is_ok())
    }

    /// The actions that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ActionResult> {
        self.results.iter().filter(|r| r.outcome.is_err())
    }
}

/// Something told about every finished action while a plan is applied (a progress bar or
/// plain lines).
pub trait Progress: Sync {
    /// Called once with the number of actions.
    fn begin(&self, total: usize);
    /// Called after each action.
    fn done(&self, result: &ActionResult);
    /// Called at the end.
    fn finish(&self);
}

/// Reads the consumer instances systemd knows: loaded ones (with their state) and enabled
/// ones (enabled instances are loaded once systemd has reloaded, as their target wants them).
pub async fn observe<S: SystemdManager>(systemd: &S) -> Result<Vec<Observed>, SystemdError> {
    let units = systemd.list_units(&[CONSUMER_PATTERN]).await?;
    let mut observed = Vec::new();
    let instances: Vec<(Instance, _)> = units
        .into_iter()
        .filter_map(|u| Instance::from_unit(&u.name).map(|i| (i, u)))
        .collect();
    let names: Vec<String> = instances.iter().map(|(i, _)| i.unit()).collect();
    let states: Vec<Result<String, SystemdError>> =
        futures::stream::iter(names.iter().map(|n| systemd.unit_file_state(n)))
            .buffered(32)
            .collect()
            .await;
    for ((instance, unit), file_state) in instances.into_iter().zip(states) {
        let enabled = matches!(file_state.as_deref(), Ok("enabled") | Ok("enabled-runtime"));
        if unit.load_state == "not-found" && !enabled {
            continue;
        }
        observed.push(Observed {
            instance,
            enabled,
            active: matches!(
                unit.active_state.as_str(),
                "active" | "activating" | "reloading"
            ),
            failed: unit.active_state == "failed",
        });
    }
    observed.sort_by(|a, b| a.instance.cmp(&b.instance));
    Ok(observed)
}

/// Checks that the consumer template is installed, so a plan does not half-apply.
/// `install` is the command that installs it, for the message.
pub async fn require_template<S: SystemdManager>(systemd: &S, install: &str) -> Result<(), String> {
    match systemd.unit_file_state(CONSUMER_TEMPLATE).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_unreachable() => Err(err.to_string()),
        Err(_) => Err(format!(
            "{CONSUMER_TEMPLATE} is not installed on this host: run `{install}` first"
        )),
    }
}

/// Applies `plan`: enables (one call) alongside the starts (concurrent, each waited for),
/// then restarts, stops, disables (one call), failed-state resets, and one reload.
/// A failed action does not stop the others; the report says what happened to each.
pub async fn apply<S: SystemdManager>(
    systemd: &S,
    plan: &Plan,
    progress: &dyn Progress,
) -> ApplyReport {
    progress.begin(plan.actions.len());
    let mut results: BTreeMap<usize, ActionResult> = BTreeMap::new();
    let indexed: Vec<(usize, &Action)> = plan.actions.iter().enumerate().collect();
    let of = |step: Step| -> Vec<(usize, &Action)> {
        indexed
            .iter()
            .filter(|(_, a)| a.step == step)
            .cloned()
            .collect()
    };

    // Unit file changes are batched: one call for all of them. A start does not need its
    // unit enabled first, so enabling runs alongside the starts; one reload at the end
    // brings systemd's view of the enabled units up to date.
    let file_phase = |step: Step| {
        let actions = of(step);
        async move {
            if actions.is_empty() {
                return Vec::new();
            }
            let units: Vec<String> = actions.iter().map(|(_, a)| a.instance.unit()).collect();
            let refs: Vec<&str> = units.iter().map(String::as_str).collect();
            let changed = match step {
                Step::Enable => systemd.enable(&refs).await.map(|_| ()),
                Step::Disable => systemd.disable(&refs).await.map(|_| ()),
                Step::Start | Step::Restart | Step::Stop | Step::ResetFailed => {
                    unreachable!("{step} is a job, not a unit-file change")
                }
            };
            let outcome = changed.map_err(|e| e.to_string());
            actions
                .into_iter()
                .map(|(i, a)| (i, result(a, outcome.clone())))
                .collect::<Vec<_>>()
        }
    };

    let job_phase = |step: Step| {
        let actions = of(step);
        async move {
            futures::stream::iter(actions.into_iter().map(|(i, action)| async move {
                let unit = action.instance.unit();
                let outcome = match step {
                    Step::Start => job(systemd, systemd.start(&unit).await).await,
                    Step::Restart => job(systemd, systemd.restart(&unit).await).await,
                    Step::Stop => job(systemd, systemd.stop(&unit).await).await,
                    Step::ResetFailed => {
                        systemd.reset_failed(&unit).await.map_err(|e| e.to_string())
                    }
                    Step::Enable | Step::Disable => {
                        unreachable!("{step} is a unit-file change, not a job")
                    }
                };
                (i, result(action, outcome))
            }))
            .buffer_unordered(JOB_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
        }
    };

    let mut record = |phase: &str,
                      started: std::time::Instant,
                      done: Vec<(usize, ActionResult)>| {
        if !done.is_empty() {
            tracing::debug!(phase, actions = done.len(), elapsed = ?started.elapsed(), "phase applied");
        }
        for (i, r) in done {
            progress.done(&r);
            results.insert(i, r);
        }
    };
    let started = std::time::Instant::now();
    let (enabled, started_units) = futures::join!(file_phase(Step::Enable), job_phase(Step::Start));
    record("enable", started, enabled);
    record("start", started, started_units);
    for phase in [Step::Restart, Step::Stop] {
        let started = std::time::Instant::now();
        let done = job_phase(phase).await;
        record(&phase.to_string(), started, done);
    }
    let started = std::time::Instant::now();
    let disabled = file_phase(Step::Disable).await;
    record("disable", started, disabled);
    let started = std::time::Instant::now();
    let cleared = job_phase(Step::ResetFailed).await;
    record("reset-failed", started, cleared);
    if plan
        .actions
        .iter()
        .any(|a| matches!(a.step, Step::Enable | Step::Disable))
    {
        if let Err(err) = systemd.reload().await {
            // The links are made; only systemd's cached view lags until its next reload.
            tracing::warn!(error = %err, "daemon-reload after changing unit files failed");
        }
    }
    progress.finish();
    ApplyReport {
        results: results.into_values().collect(),
    }
}

fn result(action: &Action, outcome: Result<(), String>) -> ActionResult {
    ActionResult {
        action: action.clone(),
        outcome,
    }
}

/// Turns a job's outcome into `Ok` or an explanation with the unit's state and result.
async fn job<S: SystemdManager>(
    systemd: &S,
    outcome: Result<JobOutcome, SystemdError>,
) -> Result<(), String> {
    let outcome = outcome.map_err(|e| e.to_string())?;
    if outcome.succeeded() {
        return Ok(());
    }
    let unit = outcome.unit.clone();
    let mut message = match outcome.check() {
        Err(err) => err.to_string(),
        Ok(_) => "failed".into(),
    };
    if let Ok(status) = systemd.unit_status(&unit).await {
        message.push_str(&format!(
            " [state {}/{}, result {}]",
            status.active_state,
            status.sub_state,
            status.result.as_deref().unwrap_or("-")
        ));
    }
    Err(message)
}

/// The statuses of the loaded instances, optionally only one consumer's. (Enablement comes
/// with each status, so no per-unit file-state lookups are needed here.)
pub async fn instance_statuses<S: SystemdManager>(
    systemd: &S,
    consumer: Option<&str>,
) -> Result<Vec<(Instance, Result<UnitStatus, SystemdError>)>, SystemdError> {
    let mut instances: Vec<Instance> = systemd
        .list_units(&[CONSUMER_PATTERN])
        .await?
        .into_iter()
        .filter(|u| u.load_state != "not-found")
        .filter_map(|u| Instance::from_unit(&u.name))
        .filter(|i| consumer.is_none_or(|c| i.name == c))
        .collect();
    instances.sort();
    let units: Vec<String> = instances.iter().map(Instance::unit).collect();
    let refs: Vec<&str> = units.iter().map(String::as_str).collect();
    let statuses = systemd.statuses(&refs).await;
    Ok(instances.into_iter().zip(statuses).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{reconcile, Desired, PlanOptions};
    use crate::systemd::fake::FakeSystemd;

    /// Progress that says nothing.
    struct Quiet;

    impl Progress for Quiet {
        fn begin(&self, _: usize) {}
        fn done(&self, _: &ActionResult) {}
        fn finish(&self) {}
    }

    fn want(name: &str, scale: u32) -> Desired {
        Desired {
            name: name.into(),
            scale,
        }
    }

    fn unit(name: &str, index: u32) -> String {
        Instance::new(name, index).unit()
    }

    async fn plan_for(systemd: &FakeSystemd, desired: &[Desired]) -> Plan {
        let observed = observe(systemd).await.unwrap();
        reconcile(desired, &observed, PlanOptions::default())
    }

    #[tokio::test]
    async fn applying_a_plan_converges_and_a_second_plan_is_empty() {
        let sd = FakeSystemd::new("h")
            .with_unit(&unit("a", 1), true, true)
            .with_unit(&unit("a", 3), true, true)
            .with_unit(&unit("b", 1), false, false);
        let desired = [want("a", 2), want("b", 1)];
        let plan = plan_for(&sd, &desired).await;
        let report = apply(&sd, &plan, &Quiet).await;
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(report.results.len(), plan.actions.len());
        for (result, action) in report.results.iter().zip(&plan.actions) {
            assert_eq!(&result.action, action, "results come back in plan order");
        }
        assert_eq!(sd.unit(&unit("a", 2)), Some(("active".into(), true)));
        assert_eq!(sd.unit(&unit("b", 1)), Some(("active".into(), true)));
        assert_eq!(sd.unit(&unit("a", 3)), Some(("inactive".into(), false)));
        assert!(plan_for(&sd, &desired).await.is_empty());
    }

    #[tokio::test]
    async fn unit_files_change_in_one_call_each_and_systemd_reloads_once_at_the_end() {
        let sd = FakeSystemd::new("h")
            .with_unit(&unit("old", 1), true, true)
            .with_unit(&unit("old", 2), true, true);
        let plan = plan_for(&sd, &[want("new", 3), want("old", 0)]).await;
        // Planning's reads are in the log too; only what apply adds matters.
        let before = sd.calls().len();
        apply(&sd, &plan, &Quiet).await;
        let calls: Vec<String> = sd.calls().split_off(before);
        let enables: Vec<&String> = calls.iter().filter(|c| c.contains(" enable ")).collect();
        let disables: Vec<&String> = calls.iter().filter(|c| c.contains(" disable ")).collect();
        assert_eq!(enables.len(), 1, "{calls:?}");
        assert_eq!(enables[0].matches("kafka-consumer@new").count(), 3);
        assert_eq!(disables.len(), 1, "{calls:?}");
        assert_eq!(sd.reloads(), 1);
        assert!(calls.last().unwrap().ends_with("reload"), "{calls:?}");
        let last_stop = calls.iter().rposition(|c| c.contains(" stop ")).unwrap();
        let disable = calls.iter().position(|c| c.contains(" disable ")).unwrap();
        assert!(last_stop < disable, "stopped before disabled: {calls:?}");
    }

    #[tokio::test]
    async fn one_failed_start_does_not_stop_the_others_and_says_why() {
        let sd = FakeSystemd::new("h").failing(&unit("a", 2));
        let plan = plan_for(&sd, &[want("a", 3)]).await;
        let report = apply(&sd, &plan, &Quiet).await;
        assert!(!report.succeeded());
        let failures: Vec<&ActionResult> = report.failures().collect();
        assert_eq!(failures.len(), 1, "{report:?}");
        let why = failures[0].outcome.as_ref().unwrap_err();
        assert!(why.contains("result=exit-code"), "{why}");
        assert!(
            why.contains("[state failed/failed, result exit-code]"),
            "{why}"
        );
        assert_eq!(sd.unit(&unit("a", 1)).unwrap().0, "active");
        assert_eq!(sd.unit(&unit("a", 3)).unwrap().0, "active");
    }

    #[tokio::test]
    async fn a_plan_without_unit_file_changes_does_not_reload() {
        let sd = FakeSystemd::new("h").with_unit(&unit("a", 1), true, true);
        let observed = observe(&sd).await.unwrap();
        let plan = reconcile(
            &[want("a", 1)],
            &observed,
            PlanOptions {
                restart_running: true,
                prune: false,
            },
        );
        assert_eq!(plan.actions.len(), 1);
        assert!(apply(&sd, &plan, &Quiet).await.succeeded());
        assert_eq!(sd.reloads(), 0);
    }

    #[tokio::test]
    async fn a_missing_template_is_named_with_the_command_that_installs_it() {
        let sd = FakeSystemd::new("h").without_template();
        let err = require_template(&sd, "kafkactl --user install-units")
            .await
            .unwrap_err();
        assert!(
            err.contains("kafka-consumer@.service is not installed"),
            "{err}"
        );
        assert!(
            err.contains("run `kafkactl --user install-units` first"),
            "{err}"
        );
        assert!(require_template(&FakeSystemd::new("h"), "x").await.is_ok());
    }

    #[tokio::test]
    async fn statuses_can_be_narrowed_to_one_consumer() {
        let sd = FakeSystemd::new("h")
            .with_unit(&unit("a", 2), true, true)
            .with_unit(&unit("a", 1), true, false)
            .with_unit(&unit("b", 1), true, true);
        let all = instance_statuses(&sd, None).await.unwrap();
        let names: Vec<String> = all.iter().map(|(i, _)| i.to_string()).collect();
        assert_eq!(names, ["a:1", "a:2", "b:1"]);
        let only_b = instance_statuses(&sd, Some("b")).await.unwrap();
        assert_eq!(only_b.len(), 1);
        assert!(only_b[0].1.as_ref().unwrap().is_active());
    }
}
