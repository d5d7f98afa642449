//! `kafkactl check`, the pure part: thresholds, the plugin state, the status line and
//! perfdata in the Nagios plugin format
//! (`KAFKACTL OK - 4 instances active, max lag 12 | 'price_drops_lag'=12;1000;10000;0 ...`).
//!
//! A threshold N is exceeded when the value is above N (Nagios' plain `N` range, `0..N`): with
//! `--lag-warning 1000`, a lag of 1000 is OK and 1001 is WARNING.

use super::window::{Progress, WindowVerdict};
use crate::plan::Desired;
use std::collections::BTreeMap;
use std::fmt;

/// A plugin's state; its exit code is the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// 0
    Ok = 0,
    /// 1
    Warning = 1,
    /// 2
    Critical = 2,
    /// 3: something could not be read.
    Unknown = 3,
}

impl State {
    /// The exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// How severe, for picking the overall state: CRITICAL > UNKNOWN > WARNING > OK, as
    /// Nagios ranks them (a critical finding is not hidden by a part that could not be read).
    fn rank(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Unknown => 2,
            State::Critical => 3,
        }
    }

    /// The worse of two states.
    pub fn worst(self, other: State) -> State {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        })
    }
}

/// A warning and a critical limit; either may be absent (then that metric is reported in
/// perfdata but not judged at that level).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Threshold {
    /// WARNING above this.
    pub warning: Option<u64>,
    /// CRITICAL above this.
    pub critical: Option<u64>,
}

impl Threshold {
    /// The state of `value` against the limits.
    pub fn state(&self, value: u64) -> State {
        if self.critical.is_some_and(|c| value > c) {
            State::Critical
        } else if self.warning.is_some_and(|w| value > w) {
            State::Warning
        } else {
            State::Ok
        }
    }

    /// The limit that `value` exceeds, for the message (`> 1000`).
    fn exceeded(&self, value: u64) -> Option<u64> {
        match self.state(value) {
            State::Critical => self.critical,
            State::Warning => self.warning,
            _ => None,
        }
    }
}

/// Every threshold of a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// On each consumer group's total lag.
    pub lag: Threshold,
    /// On the number of instances that are not active.
    pub inactive: Threshold,
    /// On the most automatic restarts (systemd's NRestarts) of any one instance.
    pub restarts: Threshold,
    /// On the number of wanted instances (placed on a host by the manifest) that are not
    /// loaded or not active.
    pub missing: Threshold,
    /// CRITICAL when every wanted instance of some consumer is missing (the default; an
    /// explicit `--missing-critical` replaces it).
    pub consumer_down_is_critical: bool,
}

/// One instance as the check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceHealth {
    /// Host label (`localhost` or `user@address:port`).
    pub host: String,
    /// `name:N`.
    pub instance: String,
    /// Whether it is active.
    pub active: bool,
    /// systemd's NRestarts.
    pub restarts: Option<u32>,
    /// Set when its status (or its host) could not be read.
    pub error: Option<String>,
}

/// One consumer the manifest places on one host, and which of its instances are missing
/// there (not loaded, or not active).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Host label.
    pub host: String,
    /// Consumer name.
    pub consumer: String,
    /// Its scale on that host.
    pub wanted: u32,
    /// `name:N` of each wanted instance that is not active there.
    pub missing: Vec<String>,
}

/// What the check judges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckInput {
    /// Every instance.
    pub instances: Vec<InstanceHealth>,
    /// What the manifest wants on each host that could be read (see [`placed`]).
    pub placed: Vec<Placed>,
    /// Every consumer group whose lag was read: consumer name and total lag, or why not.
    pub lag: Vec<(String, Result<u64, String>)>,
    /// With `--window`: every group's progress over the window, or why it was not read.
    pub progress: Vec<(String, Result<WindowVerdict, String>)>,
}

/// Compares what the manifest places on one host (`desired`) with the instances read there:
/// every wanted instance (`name:1..=scale`) that is not among them or not active is missing.
/// Instances above scale are not wanted and so never missing.
pub fn placed(host: &str, desired: &[Desired], instances: &[InstanceHealth]) -> Vec<Placed> {
    desired
        .iter()
        .filter(|d| d.scale > 0)
        .map(|d| Placed {
            host: host.to_string(),
            consumer: d.name.clone(),
            wanted: d.scale,
            missing: (1..=d.scale)
                .map(|k| format!("{}:{k}", d.name))
                .filter(|name| {
                    !instances
                        .iter()
                        .any(|i| i.host == host && &i.instance == name && i.active)
                })
                .collect(),
        })
        .collect()
}

/// The check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The state (and exit code).
    pub state: State,
    /// The whole output line: `KAFKACTL STATE - text | perfdata`.
    pub line: String,
}

/// One perfdata item: `'label'=value;warn;crit;0`.
pub fn perfdata(label: &str, value: u64, threshold: &Threshold) -> String {
    let opt = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    format!(
        "'{}'={value};{};{};0",
        label.replace('\'', "''"),
        opt(threshold.warning),
        opt(threshold.critical)
    )
}

/// The output line of an UNKNOWN that stopped the check before anything was judged.
pub fn unknown(reason: &str) -> Outcome {
    Outcome {
        state: State::Unknown,
        line: format!("KAFKACTL UNKNOWN - {}", one_line(reason)),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Judges `input` against `thresholds`: the worst state of any part, a status line naming
/// every problem (worst first), and perfdata for every metric.
pub fn evaluate(input: &CheckInput, thresholds: &Thresholds) -> Outcome {
    let mut problems: Vec<(State, String)> = Vec::new();
    let mut perf: Vec<String> = Vec::new();

    // Instances.
    let unreadable: Vec<&InstanceHealth> = input
        .instances
        .iter()
        .filter(|i| i.error.is_some())
        .collect();
    for i in &unreadable {
        let what = if i.instance == "-" {
            i.host.clone()
        } else {
            format!("{} on {}", i.instance, i.host)
        };
        problems.push((
            State::Unknown,
            format!("{what}: {}", i.error.as_deref().unwrap_or_default()),
        ));
    }
    let readable: Vec<&InstanceHealth> = input
        .instances
        .iter()
        .filter(|i| i.error.is_none())
        .collect();
    let active = readable.iter().filter(|i| i.active).count() as u64;
    let inactive = readable.len() as u64 - active;
    if let Some(limit) = thresholds.inactive.exceeded(inactive) {
        let names: Vec<String> = readable
            .iter()
            .filter(|i| !i.active)
            .take(5)
            .map(|i| i.instance.clone())
            .collect();
        problems.push((
            thresholds.inactive.state(inactive),
            format!(
                "{inactive} instance(s) not active > {limit} ({}{})",
                names.join(", "),
                if inactive > 5 { ", ..." } else { "" }
            ),
        ));
    }
    perf.push(perfdata("active", active, &Threshold::default()));
    perf.push(perfdata("inactive", inactive, &thresholds.inactive));

    let most = readable
        .iter()
        .filter_map(|i| i.restarts.map(|r| (r, i)))
        .max_by_key(|(r, _)| *r);
    let max_restarts = most.map_or(0, |(r, _)| u64::from(r));
    if let Some(limit) = thresholds.restarts.exceeded(max_restarts) {
        let who = most.map_or(String::new(), |(_, i)| i.instance.clone());
        problems.push((
            thresholds.restarts.state(max_restarts),
            format!("{who} restarted {max_restarts} time(s) > {limit}"),
        ));
    }
    perf.push(perfdata("restarts_max", max_restarts, &thresholds.restarts));

    // Wanted instances that do not run.
    let wanted: u64 = input.placed.iter().map(|p| u64::from(p.wanted)).sum();
    let missing: u64 = input.placed.iter().map(|p| p.missing.len() as u64).sum();
    let mut by_consumer: BTreeMap<&str, (u32, usize)> = BTreeMap::new();
    for p in &input.placed {
        let entry = by_consumer.entry(&p.consumer).or_default();
        entry.0 += p.wanted;
        entry.1 += p.missing.len();
    }
    // A consumer with every wanted instance missing is CRITICAL (unless flags replaced that
    // rule); any other missing instance is judged by the count thresholds, at least WARNING.
    let wholly_down = |consumer: &str| {
        thresholds.consumer_down_is_critical
            && by_consumer
                .get(consumer)
                .is_some_and(|(wanted, missing)| *wanted > 0 && *missing == *wanted as usize)
    };
    let by_count = thresholds.missing.state(missing);
    if by_count != State::Ok || input.placed.iter().any(|p| wholly_down(&p.consumer)) {
        for p in input.placed.iter().filter(|p| !p.missing.is_empty()) {
            let shown: Vec<&str> = p.missing.iter().take(5).map(String::as_str).collect();
            problems.push((
                if wholly_down(&p.consumer) {
                    State::Critical
                } else {
                    by_count.worst(State::Warning)
                },
                format!(
                    "{}: {} of {} instance(s) missing on {} ({}{})",
                    p.consumer,
                    p.missing.len(),
                    p.wanted,
                    p.host,
                    shown.join(", "),
                    if p.missing.len() > 5 { ", ..." } else { "" }
                ),
            ));
        }
    }
    perf.push(perfdata("wanted", wanted, &Threshold::default()));
    perf.push(perfdata("missing", missing, &thresholds.missing));

    // Progress over the window.
    for (consumer, verdict) in &input.progress {
        match verdict {
            Ok(v) => {
                let state = match v.progress {
                    Progress::Stalled => State::Critical,
                    Progress::Lagging => State::Warning,
                    Progress::Ok | Progress::Idle => State::Ok,
                };
                if state != State::Ok {
                    problems.push((
                        state,
                        format!(
                            "{consumer} {}: lag {} -> {} in {:.0} s, {} committed",
                            v.progress, v.lag_start, v.lag_end, v.window_secs, v.committed
                        ),
                    ));
                }
                perf.push(format!(
                    "'{}_rate'={:.1};;;0",
                    consumer.replace('\'', "''"),
                    v.rate
                ));
            }
            Err(why) => problems.push((State::Unknown, format!("{consumer} progress: {why}"))),
        }
    }

    // Lag.
    let mut max_lag: Option<(u64, &str)> = None;
    for (consumer, lag) in &input.lag {
        match lag {
            Ok(lag) => {
                if let Some(limit) = thresholds.lag.exceeded(*lag) {
                    problems.push((
                        thresholds.lag.state(*lag),
                        format!("{consumer} lag {lag} > {limit}"),
                    ));
                }
                if max_lag.is_none_or(|(m, _)| *lag > m) {
                    max_lag = Some((*lag, consumer));
                }
                perf.push(perfdata(&format!("{consumer}_lag"), *lag, &thresholds.lag));
            }
            Err(why) => problems.push((State::Unknown, format!("{consumer} lag: {why}"))),
        }
    }

    let state = problems
        .iter()
        .fold(State::Ok, |worst, (s, _)| worst.worst(*s));
    problems.sort_by_key(|(s, _)| std::cmp::Reverse(s.rank()));
    let mut parts: Vec<String> = problems
        .into_iter()
        .map(|(_, text)| one_line(&text))
        .collect();
    let total = readable.len();
    parts.push(if inactive == 0 {
        format!("{active} instance(s) active")
    } else {
        format!("{active} of {total} instance(s) active")
    });
    if let Some((lag, consumer)) = max_lag {
        parts.push(format!("max lag {lag} ({consumer})"));
    }
    Outcome {
        state,
        line: format!(
            "KAFKACTL {state} - {} | {}",
            parts.join(", "),
            perf.join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, active: bool, restarts: u32) -> InstanceHealth {
        InstanceHealth {
            host: "localhost".into(),
            instance: name.into(),
            active,
            restarts: Some(restarts),
            error: None,
        }
    }

    fn healthy() -> CheckInput {
        CheckInput {
            instances: vec![
                instance("price_drops:1", true, 0),
                instance("price_drops:2", true, 1),
                instance("orders:1", true, 0),
                instance("orders:2", true, 0),
            ],
            lag: vec![("price_drops".into(), Ok(12)), ("orders".into(), Ok(3))],
            ..CheckInput::default()
        }
    }

    fn limits(lag: (u64, u64)) -> Thresholds {
        Thresholds {
            lag: Threshold {
                warning: Some(lag.0),
                critical: Some(lag.1),
            },
            ..Thresholds::default()
        }
    }

    #[test]
    fn thresholds_are_exceeded_strictly_above() {
        let t = Threshold {
            warning: Some(10),
            critical: Some(100),
        };
        assert_eq!(t.state(10), State::Ok);
        assert_eq!(t.state(11), State::Warning);
        assert_eq!(t.state(100), State::Warning);
        assert_eq!(t.state(101), State::Critical);
        assert_eq!(Threshold::default().state(u64::MAX), State::Ok);
        let only_critical = Threshold {
            warning: None,
            critical: Some(0),
        };
        assert_eq!(only_critical.state(1), State::Critical);
    }

    #[test]
    fn the_worst_state_wins_and_unknown_ranks_below_critical() {
        assert_eq!(State::Ok.worst(State::Warning), State::Warning);
        assert_eq!(State::Warning.worst(State::Unknown), State::Unknown);
        assert_eq!(State::Critical.worst(State::Unknown), State::Critical);
        assert_eq!(State::Unknown.code(), 3);
    }

    #[test]
    fn ok_has_a_summary_and_perfdata() {
        let out = evaluate(&healthy(), &limits((1000, 10000)));
        assert_eq!(out.state, State::Ok);
        assert_eq!(
            out.line,
            "KAFKACTL OK - 4 instance(s) active, max lag 12 (price_drops) | 'active'=4;;;0 \
             'inactive'=0;;;0 'restarts_max'=1;;;0 'wanted'=0;;;0 'missing'=0;;;0 \
             'price_drops_lag'=12;1000;10000;0 \
             'orders_lag'=3;1000;10000;0"
        );
    }

    #[test]
    fn lag_above_a_limit_warns_or_is_critical() {
        let out = evaluate(&healthy(), &limits((10, 100)));
        assert_eq!(out.state, State::Warning);
        assert!(
            out.line
                .starts_with("KAFKACTL WARNING - price_drops lag 12 > 10, 4 instance(s) active"),
            "{}",
            out.line
        );
        let out = evaluate(&healthy(), &limits((1, 5)));
        assert_eq!(out.state, State::Critical);
        assert!(
            out.line.starts_with(
                "KAFKACTL CRITICAL - price_drops lag 12 > 5, orders lag 3 > 1, 4 instance(s)"
            ),
            "{}",
            out.line
        );
    }

    #[test]
    fn inactive_instances_and_restarts_are_counted() {
        let mut input = healthy();
        input.instances[1].active = false;
        input.instances[3].restarts = Some(7);
        let t = Thresholds {
            inactive: Threshold {
                warning: None,
                critical: Some(0),
            },
            restarts: Threshold {
                warning: Some(3),
                critical: None,
            },
            ..Thresholds::default()
        };
        let out = evaluate(&input, &t);
        assert_eq!(out.state, State::Critical);
        assert!(
            out.line.starts_with(
                "KAFKACTL CRITICAL - 1 instance(s) not active > 0 (price_drops:2), orders:2 \
                 restarted 7 time(s) > 3, 3 of 4 instance(s) active"
            ),
            "{}",
            out.line
        );
        assert!(out.line.contains("'inactive'=1;;0;0 'restarts_max'=7;3;;0"));
    }

    #[test]
    fn anything_unreadable_is_unknown_with_the_reason() {
        let mut input = healthy();
        input.lag[1].1 = Err("cannot read from the brokers 127.0.0.1:1".into());
        let out = evaluate(&input, &limits((1000, 10000)));
        assert_eq!(out.state, State::Unknown);
        assert!(
            out.line.starts_with(
                "KAFKACTL UNKNOWN - orders lag: cannot read from the brokers 127.0.0.1:1"
            ),
            "{}",
            out.line
        );
        // A critical finding still wins over an unknown one.
        let out = evaluate(&input, &limits((1, 5)));
        assert_eq!(out.state, State::Critical);
        let mut input = healthy();
        input.instances.push(InstanceHealth {
            host: "h1@10.0.0.1:22".into(),
            instance: "-".into(),
            active: false,
            restarts: None,
            error: Some("connection refused".into()),
        });
        let out = evaluate(&input, &Thresholds::default());
        assert_eq!(out.state, State::Unknown);
        assert!(
            out.line.starts_with(
                "KAFKACTL UNKNOWN - h1@10.0.0.1:22: connection refused, 4 instance(s)"
            ),
            "{}",
            out.line
        );
        assert_eq!(
            unknown("no brokers:\n set them").line,
            "KAFKACTL UNKNOWN - no brokers: set them"
        );
    }

    #[test]
    fn labels_are_quoted() {
        assert_eq!(perfdata("it's", 1, &Threshold::default()), "'it''s'=1;;;0");
    }

    fn want(name: &str, scale: u32) -> Desired {
        Desired {
            name: name.into(),
            scale,
        }
    }

    /// The defaults of the command line: any missing is WARNING, a whole consumer down is
    /// CRITICAL.
    fn missing_defaults() -> Thresholds {
        Thresholds {
            missing: Threshold {
                warning: Some(0),
                critical: None,
            },
            consumer_down_is_critical: true,
            ..Thresholds::default()
        }
    }

    fn with_placement(instances: Vec<InstanceHealth>, desired: &[Desired]) -> CheckInput {
        CheckInput {
            placed: placed("localhost", desired, &instances),
            instances,
            ..CheckInput::default()
        }
    }

    #[test]
    fn nothing_running_of_a_wanted_consumer_is_critical_and_named() {
        let input = with_placement(Vec::new(), &[want("price_drops", 2)]);
        let out = evaluate(&input, &missing_defaults());
        assert_eq!(out.state, State::Critical, "{}", out.line);
        assert!(
            out.line.contains(
                "price_drops: 2 of 2 instance(s) missing on localhost (price_drops:1, price_drops:2)"
            ),
            "{}",
            out.line
        );
        assert!(
            out.line.contains("'wanted'=2;;;0 'missing'=2;0;;0"),
            "{}",
            out.line
        );
    }

    #[test]
    fn some_instances_missing_is_a_warning() {
        let input = with_placement(
            vec![
                instance("price_drops:1", true, 0),
                instance("price_drops:2", false, 0),
            ],
            &[want("price_drops", 2), want("orders", 0)],
        );
        let out = evaluate(&input, &missing_defaults());
        assert_eq!(out.state, State::Warning, "{}", out.line);
        assert!(out
            .line
            .contains("1 of 2 instance(s) missing on localhost (price_drops:2)"));
        assert!(out.line.contains("'missing'=1;0;;0"), "{}", out.line);
    }

    #[test]
    fn everything_wanted_running_is_ok_and_extra_instances_are_not_missing() {
        let input = with_placement(
            vec![
                instance("price_drops:1", true, 0),
                instance("price_drops:2", true, 0),
                instance("price_drops:3", false, 0),
            ],
            &[want("price_drops", 2)],
        );
        let out = evaluate(&input, &missing_defaults());
        assert_eq!(out.state, State::Ok, "{}", out.line);
        assert!(
            out.line.contains("'wanted'=2;;;0 'missing'=0;0;;0"),
            "{}",
            out.line
        );
    }

    #[test]
    fn missing_thresholds_from_flags_replace_the_defaults() {
        let input = with_placement(Vec::new(), &[want("a", 1), want("b", 3)]);
        let lenient = Thresholds {
            missing: Threshold {
                warning: Some(1),
                critical: Some(3),
            },
            consumer_down_is_critical: false,
            ..Thresholds::default()
        };
        // 4 missing > 3: CRITICAL by count; with a limit of 10 only the warning applies.
        assert_eq!(evaluate(&input, &lenient).state, State::Critical);
        let more = Thresholds {
            missing: Threshold {
                warning: Some(1),
                critical: Some(10),
            },
            ..lenient
        };
        assert_eq!(evaluate(&input, &more).state, State::Warning);
    }

    #[test]
    fn a_stalled_group_is_critical_and_a_lagging_one_a_warning() {
        use crate::health::window::{Progress, WindowVerdict};
        let verdict = |progress| WindowVerdict {
            consumer: "orders".into(),
            group: "app-orders".into(),
            progress,
            lag_start: 10,
            lag_end: 10,
            committed: 0,
            produced: 0,
            rate: 2.5,
            window_secs: 30.0,
        };
        let input = |p| CheckInput {
            progress: vec![("orders".into(), Ok(verdict(p)))],
            ..CheckInput::default()
        };
        let stalled = evaluate(&input(Progress::Stalled), &Thresholds::default());
        assert_eq!(stalled.state, State::Critical);
        assert!(
            stalled
                .line
                .contains("orders STALLED: lag 10 -> 10 in 30 s"),
            "{}",
            stalled.line
        );
        assert!(
            stalled.line.contains("'orders_rate'=2.5;;;0"),
            "{}",
            stalled.line
        );
        assert_eq!(
            evaluate(&input(Progress::Lagging), &Thresholds::default()).state,
            State::Warning
        );
        assert_eq!(
            evaluate(&input(Progress::Idle), &Thresholds::default()).state,
            State::Ok
        );
    }
}
