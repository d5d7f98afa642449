//! `kafkactl lag [-c NAME] [-o table|json]`: every consumer group's lag per partition, read
//! from the brokers.

use super::{check_consumer_name, usage, Context};
use crate::cli::{LagArgs, OutputFormat};
use crate::health::groups::read_groups;
use crate::health::groups::GroupQuery;
use crate::health::output::{lag_notes, lag_table, progress_table};
use crate::health::window::{self, WindowVerdict};
use crate::health::{group_queries, split_readings, GroupLag};
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// `kafkactl lag`: exit 0, or 1 when a group could not be read (said on stderr).
pub(super) async fn lag(ctx: &Context, args: &LagArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    let manifest = ctx.manifest(true)?.expect("required");
    let queries = group_queries(&manifest, args.consumer.as_deref(), &args.kafka).map_err(usage)?;
    if queries.is_empty() {
        return Err(usage(format!(
            "{}: no consumer with a `topic:` to read lag for",
            manifest.path.display()
        )));
    }
    let names: Vec<String> = queries.iter().map(|q| q.group.clone()).collect();
    if let Some(secs) = args.window {
        return lag_over_window(queries, names, Duration::from_secs(secs), args.output).await;
    }
    let (groups, failed) = split_readings(names, read_groups(queries).await);
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&LagReport {
                groups: &groups,
                window: None,
                errors: &failed,
            })?
        ),
        OutputFormat::Table => {
            if !groups.is_empty() {
                println!("{}", lag_table(&groups));
            }
            for note in lag_notes(&groups) {
                println!("note: {note}");
            }
        }
    }
    for why in &failed {
        eprintln!("kafkactl: {why}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

/// What `lag -o json` prints, with or without `--window` (docs/schemas/lag.json): one shape.
#[derive(Serialize)]
struct LagReport<'a> {
    /// Every group read (with `--window`: the second reading).
    groups: &'a [GroupLag],
    /// With `--window`: each group's progress between the readings; null without.
    window: Option<WindowReport<'a>>,
    /// Why some group could not be read.
    errors: &'a [String],
}

/// The `--window` part of a [`LagReport`].
#[derive(Serialize)]
struct WindowReport<'a> {
    /// Seconds between the readings.
    secs: u64,
    /// One verdict per group read both times.
    verdicts: &'a [WindowVerdict],
}

/// `lag --window SECS`: reads every group twice, SECS apart, and prints each group's
/// progress (OK, LAGGING, STALLED, IDLE), lag at both ends and commit rate. Exit 0, or 1
/// when a group could not be read.
async fn lag_over_window(
    queries: Vec<GroupQuery>,
    names: Vec<String>,
    window: Duration,
    format: OutputFormat,
) -> Result<u8> {
    let first = read_groups(queries.clone()).await;
    eprintln!(
        "kafkactl: first reading taken; the second in {} s",
        window.as_secs()
    );
    tokio::time::sleep(window).await;
    let second = read_groups(queries).await;
    let (latest, _) = split_readings(names.clone(), second.clone());
    let mut verdicts = Vec::new();
    let mut failed = Vec::new();
    for (name, verdict) in names.iter().zip(window::verdicts(&first, &second, window)) {
        match verdict {
            Ok(verdict) => verdicts.push(verdict),
            Err(why) => failed.push(format!("{name}: {why}")),
        }
    }
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&LagReport {
                groups: &latest,
                window: Some(WindowReport {
                    secs: window.as_secs(),
                    verdicts: &verdicts,
                }),
                errors: &failed,
            })?
        ),
        OutputFormat::Table => {
            if !verdicts.is_empty() {
                println!("{}", progress_table(&verdicts));
            }
        }
    }
    for why in &failed {
        eprintln!("kafkactl: {why}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
