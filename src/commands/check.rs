//! `kafkactl check`: the Icinga/Nagios plugin. It judges the instances of this machine (or of
//! `--hosts`/`--fleet`) and, when brokers are known, each group's lag, and prints one plugin
//! line with perfdata; the exit code is the plugin state.

use super::status::rows;
use super::{check_consumer_name, Context};
use crate::cli::CheckArgs;
use crate::health::check::{self, CheckInput, InstanceHealth, Outcome, Threshold, Thresholds};
use crate::health::group_queries;
use crate::health::groups::read_groups;
use anyhow::Result;

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
    }
}

/// Reads everything `check` judges. Lag is read when brokers are known (flag or manifest)
/// and `--no-lag` is not given; lag thresholds without a way to read lag are an error.
async fn gather(ctx: &Context, args: &CheckArgs) -> Result<CheckInput> {
    check_consumer_name(args.consumer.as_deref())?;
    let wants_lag = args.lag_warning.is_some() || args.lag_critical.is_some();
    let manifest = ctx.manifest(args.fleet || wants_lag)?;
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
            "lag thresholds given, but no consumer{} of {} has a `topic:` to read lag for",
            args.consumer
                .as_deref()
                .map_or(String::new(), |c| format!(" named `{c}`")),
            ctx.manifest.display()
        ));
    }
    let consumers: Vec<String> = queries.iter().map(|q| q.consumer.clone()).collect();
    let (rows, readings) = futures::join!(
        rows(ctx, &args.ssh, args.fleet, args.consumer.as_deref()),
        read_groups(queries)
    );
    let instances = rows?
        .0
        .into_iter()
        .map(|row| InstanceHealth {
            active: row.is_active(),
            host: row.host,
            instance: row.instance,
            restarts: row.restarts,
            error: row.error,
        })
        .collect();
    let lag = consumers
        .into_iter()
        .zip(readings)
        .map(|(consumer, reading)| {
            let total = reading.map(|g| u64::try_from(g.total_lag).unwrap_or(0));
            (consumer, total)
        })
        .collect();
    Ok(CheckInput { instances, lag })
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
