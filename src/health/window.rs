//! Telling a stuck consumer from a slow one: two readings of a group, a window apart.
//!
//! One lag figure cannot say whether a group is behind but catching up or not moving at all.
//! Like Burrow, which judges a group from a sliding window of its committed offsets, we read
//! the committed offsets and high watermarks at the start and at the end of a window and
//! classify the group from how both moved (docs/monitoring.md compares the rules with
//! Burrow's):
//!
//! - **IDLE**: no new messages arrived and nothing is left to read;
//! - **OK**: nothing left to read at the end, or the group committed and its lag did not grow;
//! - **LAGGING**: lag at the end, commits moving, but the lag grew: it is slower than the
//!   producers (WARNING);
//! - **STALLED**: lag at the end and no commit moved in the window: nothing consumes
//!   (CRITICAL), whatever the size of the lag.

use super::GroupLag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How a group fared over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Progress {
    /// No new messages and nothing left to read.
    Idle,
    /// Caught up, or keeping up.
    Ok,
    /// Consuming, but slower than messages arrive.
    Lagging,
    /// Messages waiting and no commit in the window.
    Stalled,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Progress::Idle => "IDLE",
            Progress::Ok => "OK",
            Progress::Lagging => "LAGGING",
            Progress::Stalled => "STALLED",
        })
    }
}

/// A group's verdict over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WindowVerdict {
    /// The consumer's name.
    pub consumer: String,
    /// Its group.
    pub group: String,
    /// The classification.
    pub progress: Progress,
    /// Total lag at the start of the window.
    pub lag_start: i64,
    /// Total lag at the end.
    pub lag_end: i64,
    /// Messages committed in the window (the committed offsets' advance, all partitions).
    pub committed: i64,
    /// Messages produced in the window (the high watermarks' advance).
    pub produced: i64,
    /// Committed messages per second over the window.
    pub rate: f64,
    /// The window's length in seconds.
    pub window_secs: f64,
}

/// Classifies a group from its readings at the start and the end of a window of `window`.
/// Partitions are matched by topic and partition; one that appears only at the end (a new
/// partition) counts from its low watermark.
pub(crate) fn classify(start: &GroupLag, end: &GroupLag, window: Duration) -> WindowVerdict {
    let before: BTreeMap<(&str, i32), (i64, Option<i64>)> = start
        .partitions
        .iter()
        .map(|p| ((p.topic.as_str(), p.partition), (p.high, p.committed)))
        .collect();
    let mut committed = 0i64;
    let mut produced = 0i64;
    for p in &end.partitions {
        let (high_before, committed_before) = before
            .get(&(p.topic.as_str(), p.partition))
            .copied()
            .unwrap_or((p.low, None));
        produced += (p.high - high_before).max(0);
        let from = committed_before.unwrap_or(p.low);
        if let Some(to) = p.committed {
            // A rewind (an operator reset the offsets back) is not progress.
            committed += (to - from).max(0);
        }
    }
    let progress = if end.total_lag == 0 {
        if produced == 0 && committed == 0 {
            Progress::Idle
        } else {
            Progress::Ok
        }
    } else if committed == 0 {
        Progress::Stalled
    } else if end.total_lag > start.total_lag {
        Progress::Lagging
    } else {
        Progress::Ok
    };
    let secs = window.as_secs_f64();
    WindowVerdict {
        consumer: end.consumer.clone(),
        group: end.group.clone(),
        progress,
        lag_start: start.total_lag,
        lag_end: end.total_lag,
        committed,
        produced,
        rate: if secs > 0.0 {
            committed as f64 / secs
        } else {
            0.0
        },
        window_secs: secs,
    }
}

/// Pairs two readings of the same groups (in the same order), taken `window` apart, into
/// each group's verdict, or why it could not be read either time.
pub(crate) fn verdicts(
    first: &[Result<GroupLag, String>],
    second: &[Result<GroupLag, String>],
    window: Duration,
) -> Vec<Result<WindowVerdict, String>> {
    first
        .iter()
        .zip(second)
        .map(|pair| match pair {
            (Ok(start), Ok(end)) => Ok(classify(start, end, window)),
            (Err(why), _) | (_, Err(why)) => Err(why.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::PartitionLag;

    /// A group with one partition: high watermark and committed offset.
    fn reading(high: i64, committed: Option<i64>) -> GroupLag {
        let lag = crate::health::partition_lag(0, high, committed);
        GroupLag {
            consumer: "orders".into(),
            group: "app-orders".into(),
            partitions: vec![PartitionLag {
                topic: "t".into(),
                partition: 0,
                low: 0,
                high,
                committed,
                lag,
                member: None,
                member_host: None,
                instance: None,
                hostname: None,
            }],
            total_lag: lag,
            max_partition_lag: lag,
            state: None,
            members_unknown: None,
        }
    }

    fn progress(start: GroupLag, end: GroupLag) -> Progress {
        classify(&start, &end, Duration::from_secs(10)).progress
    }

    #[test]
    fn a_group_with_lag_and_no_commit_is_stalled_whatever_the_lag() {
        assert_eq!(
            progress(reading(100, Some(40)), reading(100, Some(40))),
            Progress::Stalled
        );
        assert_eq!(
            progress(reading(100, Some(99)), reading(120, Some(99))),
            Progress::Stalled
        );
        assert_eq!(
            progress(reading(5, None), reading(5, None)),
            Progress::Stalled
        );
    }

    #[test]
    fn a_group_slower_than_its_producers_is_lagging() {
        assert_eq!(
            progress(reading(100, Some(50)), reading(200, Some(80))),
            Progress::Lagging
        );
    }

    #[test]
    fn a_group_that_keeps_up_or_catches_up_is_ok() {
        assert_eq!(
            progress(reading(100, Some(50)), reading(120, Some(90))),
            Progress::Ok
        );
        assert_eq!(
            progress(reading(100, Some(50)), reading(150, Some(150))),
            Progress::Ok
        );
    }

    #[test]
    fn no_new_messages_and_nothing_to_read_is_idle() {
        assert_eq!(
            progress(reading(100, Some(100)), reading(100, Some(100))),
            Progress::Idle
        );
    }

    #[test]
    fn the_rate_is_what_was_committed_per_second() {
        let v = classify(
            &reading(100, Some(50)),
            &reading(300, Some(250)),
            Duration::from_secs(4),
        );
        assert_eq!(v.committed, 200);
        assert_eq!(v.produced, 200);
        assert!((v.rate - 50.0).abs() < 1e-9);
        assert_eq!((v.lag_start, v.lag_end), (50, 50));
    }

    #[test]
    fn a_rewind_is_not_progress() {
        assert_eq!(
            progress(reading(100, Some(90)), reading(100, Some(10))),
            Progress::Stalled
        );
    }
}
