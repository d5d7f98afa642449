//! How fleet commands report: the plan of every host as a diff (pure), the final summary table
//! per host (pure), and progress that is a bar per host (indicatif's MultiProgress) on a
//! terminal and timestamped lines otherwise.

use crate::control::output::utc;
use crate::control::{ActionResult, Progress};
use crate::plan::{Plan, Step};
use crate::units::Instance;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

/// Counts of what a plan does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Instances started.
    pub start: usize,
    /// Instances stopped (or only disabled / cleared).
    pub stop: usize,
    /// Instances restarted.
    pub restart: usize,
    /// Instances only enabled (already running).
    pub enable_only: usize,
    /// Instances the manifest does not list.
    pub orphans: usize,
}

impl Counts {
    /// Counts the instances of `plan` by what happens to them.
    pub fn of(plan: &Plan) -> Counts {
        let mut counts = Counts {
            orphans: plan.orphans.len(),
            ..Counts::default()
        };
        for steps in by_instance(plan).values() {
            match symbol(steps) {
                '+' if steps.contains(&Step::Start) => counts.start += 1,
                '+' => counts.enable_only += 1,
                '~' => counts.restart += 1,
                _ => counts.stop += 1,
            }
        }
        counts
    }

    /// Whether anything other than restarts is planned: the host has drifted from the
    /// manifest.
    pub fn drifted(&self) -> bool {
        self.start + self.stop + self.enable_only > 0
    }
}

fn by_instance(plan: &Plan) -> BTreeMap<&Instance, Vec<Step>> {
    let mut out: BTreeMap<&Instance, Vec<Step>> = BTreeMap::new();
    for action in &plan.actions {
        out.entry(&action.instance).or_default().push(action.step);
    }
    out
}

fn symbol(steps: &[Step]) -> char {
    if steps
        .iter()
        .any(|s| matches!(s, Step::Start | Step::Enable))
    {
        '+'
    } else if steps.iter().all(|s| *s == Step::Restart) {
        '~'
    } else {
        '-'
    }
}

/// One host's plan, or why there is none.
#[derive(Debug, Clone, Copy)]
pub enum HostPlan<'a> {
    /// The host was read and planned.
    Planned(&'a Plan),
    /// The host could not be read.
    Failed(&'a str),
}

/// The plan of every host as a diff: `+` brought up, `~` restarted (rolling), `-` taken
/// down, `?` orphans; hosts in the order given; a closing line of totals.
pub fn plan_text(hosts: &[(String, HostPlan<'_>)]) -> String {
    let mut out = String::new();
    let mut total = Counts::default();
    let mut failed = 0;
    for (label, plan) in hosts {
        let plan = match plan {
            HostPlan::Failed(why) => {
                failed += 1;
                out.push_str(&format!("{label}: UNREACHABLE: {why}\n"));
                continue;
            }
            HostPlan::Planned(plan) => *plan,
        };
        let counts = Counts::of(plan);
        total.start += counts.start;
        total.stop += counts.stop;
        total.restart += counts.restart;
        total.enable_only += counts.enable_only;
        total.orphans += counts.orphans;
        if plan.is_empty() && plan.orphans.is_empty() {
            out.push_str(&format!("{label}: up to date\n"));
            continue;
        }
        out.push_str(&format!("{label}:\n"));
        for (instance, steps) in by_instance(plan) {
            let mark = symbol(&steps);
            let what = steps
                .iter()
                .map(|s| match s {
                    Step::Restart => "restart (rolling)".to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let note = if plan.orphans.contains(instance) {
                " (orphan, pruned)"
            } else {
                ""
            };
            out.push_str(&format!("  {mark} {:<44} {what}{note}\n", instance.unit()));
        }
        for orphan in &plan.orphans {
            // A pruned orphan is listed with its actions above.
            if !plan.actions.iter().any(|a| &a.instance == orphan) {
                out.push_str(&format!(
                    "  ? {:<44} orphan: not in the manifest (kept; --prune removes it)\n",
                    orphan.unit()
                ));
            }
        }
    }
    out.push_str(&format!(
        "plan: {} host(s): {} to start, {} to stop, {} to restart, {} to enable, {} orphan(s)",
        hosts.len(),
        total.start,
        total.stop,
        total.restart,
        total.enable_only,
        total.orphans
    ));
    if failed > 0 {
        out.push_str(&format!("; {failed} host(s) unreachable"));
    }
    out.push('\n');
    out
}

/// How a host's deploy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSummary {
    /// `user@address:port`.
    pub host: String,
    /// `ok`, `failed`, `unreachable`, or `skipped`.
    pub result: String,
    /// What was planned.
    pub counts: Counts,
    /// Actions that failed.
    pub failed_actions: usize,
    /// The first problems, for the table.
    pub detail: String,
}

impl HostSummary {
    /// Whether the host ended as wanted.
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

/// The final table: one row per host.
pub fn summary_table(rows: &[HostSummary], color: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header([
        "HOST",
        "RESULT",
        "STARTED",
        "STOPPED",
        "RESTARTED",
        "ORPHANS",
        "FAILED",
        "DETAIL",
    ]);
    for row in rows {
        let mut result = Cell::new(&row.result);
        if color {
            result = result.fg(if row.ok() { Color::Green } else { Color::Red });
        }
        table.add_row(vec![
            Cell::new(&row.host),
            result,
            Cell::new(row.counts.start),
            Cell::new(row.counts.stop),
            Cell::new(row.counts.restart),
            Cell::new(row.counts.orphans),
            Cell::new(row.failed_actions),
            Cell::new(&row.detail),
        ]);
    }
    crate::control::output::render_table(&table)
}

/// `YYYY-MM-DD HH:MM:SS` UTC, now.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    utc(secs)
}

/// Progress of a fleet command: a bar per host on a terminal, timestamped lines otherwise
/// (both on stderr).
pub struct FleetProgress {
    multi: Option<MultiProgress>,
}

impl Default for FleetProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl FleetProgress {
    /// Bars when stderr is a terminal.
    pub fn new() -> FleetProgress {
        FleetProgress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    /// A progress sink for one host's phase.
    pub fn host(&self, label: &str, phase: &str) -> HostProgress {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>28} {bar:24} {pos}/{len} {wide_msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(format!("{label} {phase}"));
            bar
        });
        HostProgress {
            label: label.to_string(),
            bar,
        }
    }

    /// A line about the whole fleet (printed above the bars on a terminal).
    pub fn line(&self, text: &str) {
        match &self.multi {
            // Printed with the bars out of the way: println would leave the line unterminated
            // before anything else written to the terminal (the plan, a prompt).
            Some(multi) => multi.suspend(|| eprintln!("{text}")),
            None => eprintln!("{} {text}", timestamp()),
        }
    }
}

/// One host's progress (see [`FleetProgress::host`]).
pub struct HostProgress {
    label: String,
    bar: Option<ProgressBar>,
}

impl Progress for HostProgress {
    fn begin(&self, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        }
    }

    fn done(&self, result: &ActionResult) {
        let line = match &result.outcome {
            Ok(()) => format!("{}: ok", result.action),
            Err(why) => format!("{}: FAILED: {why}", result.action),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(line);
            }
            None => eprintln!("{} {}: {line}", timestamp(), self.label),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{reconcile, Desired, Observed, PlanOptions};

    fn seen(name: &str, index: u32, active: bool) -> Observed {
        Observed {
            instance: Instance::new(name, index),
            enabled: true,
            active,
            failed: false,
        }
    }

    #[test]
    fn the_plan_reads_as_a_diff_per_host() {
        let desired = [Desired {
            name: "orders".into(),
            scale: 2,
        }];
        let observed = [
            seen("orders", 1, true),
            seen("orders", 3, true),
            seen("old", 1, true),
        ];
        let plan = reconcile(
            &desired,
            &observed,
            PlanOptions {
                restart_running: true,
                prune: false,
            },
        );
        let empty = Plan::default();
        let text = plan_text(&[
            ("h1".into(), HostPlan::Planned(&plan)),
            ("h2".into(), HostPlan::Planned(&empty)),
            ("h3".into(), HostPlan::Failed("cannot connect: refused")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "h1:");
        assert!(lines[1].starts_with("  ~ kafka-consumer@orders:1.service"));
        assert!(lines[1].ends_with("restart (rolling)"));
        assert!(lines[2].starts_with("  + kafka-consumer@orders:2.service"));
        assert!(lines[2].ends_with("enable, start"));
        assert!(lines[3].starts_with("  - kafka-consumer@orders:3.service"));
        assert!(lines[3].ends_with("stop, disable"));
        assert!(lines[4].starts_with("  ? kafka-consumer@old:1.service"));
        assert!(lines[4].contains("--prune"));
        assert_eq!(lines[5], "h2: up to date");
        assert_eq!(lines[6], "h3: UNREACHABLE: cannot connect: refused");
        assert_eq!(
            lines[7],
            "plan: 3 host(s): 1 to start, 1 to stop, 1 to restart, 0 to enable, 1 orphan(s); \
             1 host(s) unreachable"
        );
        let counts = Counts::of(&plan);
        assert!(counts.drifted());
        let restarts_only = Counts {
            restart: 4,
            ..Counts::default()
        };
        assert!(!restarts_only.drifted());
    }

    #[test]
    fn the_summary_has_a_row_per_host() {
        let rows = [
            HostSummary {
                host: "h1".into(),
                result: "ok".into(),
                counts: Counts {
                    start: 2,
                    ..Counts::default()
                },
                failed_actions: 0,
                detail: String::new(),
            },
            HostSummary {
                host: "h2".into(),
                result: "unreachable".into(),
                counts: Counts::default(),
                failed_actions: 0,
                detail: "cannot connect".into(),
            },
        ];
        let text = summary_table(&rows, false);
        assert!(text.contains("HOST"), "{text}");
        assert!(text.lines().any(|l| l.contains("h1") && l.contains(" ok ")));
        assert!(text.lines().any(|l| l.contains("h2")
            && l.contains("unreachable")
            && l.contains("cannot connect")));
    }
}
