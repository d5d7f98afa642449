//! Desired state vs observed state -> the actions that reconcile them. Pure: no systemd, no
//! I/O, so the same plan is computed for the local host and for every host of a fleet.

use crate::units::{Instance, InstanceSelector};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What systemd says about one consumer instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The instance.
    pub instance: Instance,
    /// Its unit file is enabled (it will start at boot).
    pub enabled: bool,
    /// It is active or activating.
    pub active: bool,
    /// It is in the failed state (stays loaded until reset).
    pub failed: bool,
}

/// One consumer's desired number of instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The consumer's name.
    pub name: String,
    /// How many instances should run (NAME:1..=scale).
    pub scale: u32,
}

impl Desired {
    /// Every consumer of `manifest` at its scale.
    pub fn every_consumer(manifest: &crate::manifest::Manifest) -> Vec<Desired> {
        manifest
            .consumers
            .iter()
            .map(|c| Desired {
                name: c.name.clone(),
                scale: c.scale,
            })
            .collect()
    }
}

/// One thing to do to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Enable the unit file (start at boot).
    Enable,
    /// Start it.
    Start,
    /// Restart it (pick up new code or settings).
    Restart,
    /// Stop it.
    Stop,
    /// Disable the unit file.
    Disable,
    /// Clear a failed state so the unit can be unloaded.
    ResetFailed,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Enable => "enable",
            Step::Start => "start",
            Step::Restart => "restart",
            Step::Stop => "stop",
            Step::Disable => "disable",
            Step::ResetFailed => "reset-failed",
        })
    }
}

/// An action of a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Action {
    /// What to do.
    pub step: Step,
    /// To which instance.
    pub instance: Instance,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.step, self.instance.unit())
    }
}

/// The actions that reconcile a host, and what the plan leaves alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Actions in a safe order: enables and starts first, then restarts, then scale-down.
    pub actions: Vec<Action>,
    /// Instances of consumers the desired state does not mention (removed only with prune).
    pub orphans: Vec<Instance>,
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The instances that get `step`, in plan order.
    pub fn instances(&self, step: Step) -> Vec<&Instance> {
        self.actions
            .iter()
            .filter(|a| a.step == step)
            .map(|a| &a.instance)
            .collect()
    }
}

/// How to reconcile.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Restart instances that are already running (a deploy picks up new code this way).
    pub restart_running: bool,
    /// Stop and disable orphans instead of only reporting them.
    pub prune: bool,
}

/// Plans `desired` against `observed`: NAME:1..=scale enabled and running, every instance
/// above scale stopped and disabled.
pub fn reconcile(desired: &[Desired], observed: &[Observed], options: PlanOptions) -> Plan {
    let by_instance: BTreeMap<&Instance, &Observed> =
        observed.iter().map(|o| (&o.instance, o)).collect();
    let managed: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let mut plan = Plan::default();
    let mut bring_up = Vec::new();
    let mut restarts = Vec::new();
    let mut take_down = Vec::new();

    for want in desired {
        for index in 1..=want.scale {
            let instance = Instance::new(&want.name, index);
            let seen = by_instance.get(&instance);
            if !seen.is_some_and(|o| o.enabled) {
                bring_up.push(action(Step::Enable, &instance));
            }
            match seen {
                Some(o) if o.active && options.restart_running => {
                    restarts.push(action(Step::Restart, &instance))
                }
                Some(o) if o.active => {}
                _ => bring_up.push(action(Step::Start, &instance)),
            }
        }
    }
    for seen in observed {
        let name = seen.instance.name.as_str();
        let beyond_scale = desired
            .iter()
            .find(|d| d.name == name)
            .is_some_and(|d| seen.instance.index > d.scale);
        let orphan = !managed.contains(name);
        if orphan {
            plan.orphans.push(seen.instance.clone());
        }
        if beyond_scale || (orphan && options.prune) {
            take_down.extend(teardown(seen));
        }
    }
    plan.actions = bring_up
        .into_iter()
        .chain(restarts)
        .chain(take_down)
        .collect();
    plan.orphans.sort();
    plan
}

/// Stops, disables and clears every observed instance `selector` selects (all of them when
/// `selector` is `None`): `disable-and-stop`.
pub fn disable_and_stop(observed: &[Observed], selector: Option<&InstanceSelector>) -> Plan {
    Plan {
        actions: observed
            .iter()
            .filter(|o| selector.is_none_or(|t| t.matches(&o.instance)))
            .flat_map(teardown)
            .collect(),
        orphans: Vec::new(),
    }
}

/// One `step` for every observed instance `selector` selects: `stop` and `restart`.
/// Stopping skips instances that are not running.
pub fn each(observed: &[Observed], selector: &InstanceSelector, step: Step) -> Plan {
    Plan {
        actions: observed
            .iter()
            .filter(|o| selector.matches(&o.instance))
            .filter(|o| step != Step::Stop || o.active)
            .map(|o| action(step, &o.instance))
            .collect(),
        orphans: Vec::new(),
    }
}

fn teardown(seen: &Observed) -> Vec<Action> {
    let mut steps = Vec::new();
    if seen.active {
        steps.push(action(Step::Stop, &seen.instance));
    }
    if seen.enabled {
        steps.push(action(Step::Disable, &seen.instance));
    }
    if seen.failed {
        steps.push(action(Step::ResetFailed, &seen.instance));
    }
    steps
}

fn action(step: Step, instance: &Instance) -> Action {
    Action {
        step,
        instance: instance.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, index: u32, enabled: bool, active: bool) -> Observed {
        Observed {
            instance: Instance::new(name, index),
            enabled,
            active,
            failed: false,
        }
    }

    fn want(name: &str, scale: u32) -> Desired {
        Desired {
            name: name.into(),
            scale,
        }
    }

    fn steps(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| format!("{} {}", a.step, a.instance))
            .collect()
    }

    #[test]
    fn from_nothing_enables_and_starts_every_instance() {
        let plan = reconcile(&[want("price_drops", 2)], &[], PlanOptions::default());
        assert_eq!(
            steps(&plan),
            [
                "enable price_drops:1",
                "start price_drops:1",
                "enable price_drops:2",
                "start price_drops:2"
            ]
        );
    }

    #[test]
    fn a_converged_host_needs_nothing() {
        let observed = [seen("a", 1, true, true), seen("a", 2, true, true)];
        assert!(reconcile(&[want("a", 2)], &observed, PlanOptions::default()).is_empty());
    }

    #[test]
    fn scaling_down_stops_and_disables_the_extra_instances() {
        let observed = [
            seen("a", 1, true, true),
            seen("a", 2, true, true),
            seen("a", 3, true, false),
        ];
        let plan = reconcile(&[want("a", 1)], &observed, PlanOptions::default());
        assert_eq!(steps(&plan), ["stop a:2", "disable a:2", "disable a:3"]);
    }

    #[test]
    fn scale_zero_takes_everything_down() {
        let observed = [seen("a", 1, true, true)];
        let plan = reconcile(&[want("a", 0)], &observed, PlanOptions::default());
        assert_eq!(steps(&plan), ["stop a:1", "disable a:1"]);
    }

    #[test]
    fn half_applied_states_are_completed() {
        // Enabled but stopped, and running but not enabled.
        let observed = [seen("a", 1, true, false), seen("a", 2, false, true)];
        let plan = reconcile(&[want("a", 2)], &observed, PlanOptions::default());
        assert_eq!(steps(&plan), ["start a:1", "enable a:2"]);
    }

    #[test]
    fn deploy_restarts_running_instances_after_starting_missing_ones() {
        let observed = [seen("a", 1, true, true)];
        let options = PlanOptions {
            restart_running: true,
            prune: false,
        };
        let plan = reconcile(&[want("a", 2)], &observed, options);
        assert_eq!(steps(&plan), ["enable a:2", "start a:2", "restart a:1"]);
    }

    #[test]
    fn orphans_are_reported_and_pruned_only_when_asked() {
        let observed = [seen("gone", 1, true, true), seen("a", 1, true, true)];
        let plan = reconcile(&[want("a", 1)], &observed, PlanOptions::default());
        assert!(plan.is_empty());
        assert_eq!(plan.orphans, vec![Instance::new("gone", 1)]);
        let pruned = reconcile(
            &[want("a", 1)],
            &observed,
            PlanOptions {
                restart_running: false,
                prune: true,
            },
        );
        assert_eq!(steps(&pruned), ["stop gone:1", "disable gone:1"]);
    }

    #[test]
    fn disable_and_stop_covers_the_target_and_clears_failures() {
        let mut failed = seen("b", 1, true, false);
        failed.failed = true;
        let observed = [seen("a", 1, true, true), failed, seen("a", 2, false, false)];
        let all = disable_and_stop(&observed, None);
        assert_eq!(
            steps(&all),
            ["stop a:1", "disable a:1", "disable b:1", "reset-failed b:1"]
        );
        let only_a = disable_and_stop(&observed, Some(&InstanceSelector::parse("a").unwrap()));
        assert_eq!(steps(&only_a), ["stop a:1", "disable a:1"]);
    }

    #[test]
    fn stop_and_restart_apply_to_the_target() {
        let observed = [seen("a", 1, true, true), seen("a", 2, true, false)];
        let stop = each(
            &observed,
            &InstanceSelector::parse("a").unwrap(),
            Step::Stop,
        );
        assert_eq!(steps(&stop), ["stop a:1"]);
        let restart = each(
            &observed,
            &InstanceSelector::parse("a:2").unwrap(),
            Step::Restart,
        );
        assert_eq!(steps(&restart), ["restart a:2"]);
    }
}
