//! `kafkactl check`: the Icinga/Nagios plugin. It judges the instances of this machine (or of
//! `--hosts`/`--fleet`) and, when brokers are known, each group's lag, and prints one plugin
//! line with perfdata; the exit code is the plugin state.

use super::status::rows_of;
use super::{check_consumer_name, select, Context};
use crate::cli::CheckArgs;
use crate::health::check::{self, CheckInput, InstanceHealth, Outcome, Threshold, Thresholds};
use crate::health::group_queries;
use crate::health::groups::read_groups;
use crate::health::window;
use crate::plan::Desired;
use anyhow::Result;
use std::time::Duration;

/// The thresholds of the command line.
fn thresholds(args: &CheckArgs) -> Thresholds {
    Thresholds {
        lag: Threshold {
            warning: args.lag_warning,
            critical: args.lag_critical,
        },
        inactive: Threshold {
            warning: args.inactive_warning,
            critical: args.inactive_critical,
        },
        restarts: Threshold {
            warning: args.restarts_warning,
            critical: args.restarts_critical,
        },
        missing: Threshold {
            warning: Some(args.missing_warning.unwrap_or(0)),
            critical: args.missing_critical,
        },
        consumer_down_is_critical: args.missing_critical.is_none(),
    }
}

/// Reads everything `check` judges. Lag is read when brokers are known (flag or manifest)
/// and `--no-lag` is not given; lag thresholds without a way to read lag are an error.
async fn gather(ctx: &Context, args: &CheckArgs) -> Result<CheckInput> {
    check_consumer_name(args.consumer.as_deref())?;
    let wants_lag =
        args.lag_warning.is_some() || args.lag_critical.is_some() || args.window.is_some();
    let (manifest, mut hosts) = select(ctx, &args.ssh, args.fleet, args.fleet || wants_lag)?;
    let queries = match (&manifest, args.no_lag) {
        (_, true) => Vec::new(),
        (Some(m), false) => match group_queries(m, args.consumer.as_deref(), &args.kafka) {
            Ok(q) => q,
            Err(why) if wants_lag => return Err(anyhow::anyhow!(why)),
            Err(_) => Vec::new(),
        },
        (None, false) => Vec::new(),
    };
    if wants_lag && queries.is_empty() && !args.no_lag {
        return Err(anyhow::anyhow!(
            "lag thresholds or --window given, but no consumer{} of {} has a `topic:` to read \
             lag for",
            args.consumer
                .as_deref()
                .map_or(String::new(), |c| format!(" named `{c}`")),
            ctx.manifest.display()
        ));
    }
    let consumers: Vec<String> = queries.iter().map(|q| q.consumer.clone()).collect();
    for host in &mut hosts {
        host.desired
            .retain(|d| args.consumer.as_ref().is_none_or(|c| &d.name == c));
    }
    let wanted: Vec<(String, Vec<Desired>)> = hosts
        .iter()
        .map(|h| (h.label(), h.desired.clone()))
        .collect();
    // With a window: the first reading now, the second (with the rows) at its end.
    let first = match args.window {
        Some(secs) => {
            let first = read_groups(queries.clone()).await;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Some(first)
        }
        None => None,
    };
    let (rows, readings) = futures::join!(
        rows_of(ctx, hosts, &args.ssh, args.consumer.as_deref()),
        read_groups(queries)
    );
    let rows = rows?.0;
    let instances: Vec<InstanceHealth> = rows
        .into_iter()
        .map(|row| InstanceHealth {
            active: row.is_active(),
            host: row.host,
            instance: row.instance,
            restarts: row.restarts,
            error: row.error,
        })
        .collect();
    // A host that could not be read has no verdict on what runs there (it is UNKNOWN).
    let placed = wanted
        .iter()
        .filter(|(host, _)| {
            !instances
                .iter()
                .any(|i| &i.host == host && i.error.is_some())
        })
        .flat_map(|(host, desired)| check::placed(host, desired, &instances))
        .collect();
    let progress = match (first, args.window) {
        (Some(first), Some(secs)) => consumers
            .iter()
            .cloned()
            .zip(window::verdicts(
                &first,
                &readings,
                Duration::from_secs(secs),
            ))
            .collect(),
        _ => Vec::new(),
    };
    let lag = consumers
        .into_iter()
        .zip(readings)
        .map(|(consumer, reading)| {
            let total = reading.map(|g| u64::try_from(g.total_lag).unwrap_or(0));
            (consumer, total)
        })
        .collect();
    Ok(CheckInput {
        instances,
        placed,
        lag,
        progress,
    })
}

/// `kafkactl check`: prints the plugin line and returns its exit code; anything that could
/// not be read is UNKNOWN (3) with the reason.
pub(super) async fn check(ctx: &Context, args: &CheckArgs) -> u8 {
    let outcome: Outcome = match gather(ctx, args).await {
        Ok(input) => check::evaluate(&input, &thresholds(args)),
        Err(err) => check::unknown(&format!("{err:#}")),
    };
    println!("{}", outcome.line);
    outcome.state.code()
}
