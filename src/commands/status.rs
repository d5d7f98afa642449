//! `kafkactl status [-c NAME] [--hosts H,... | --fleet] [--lag] [-o table|json]`: the consumer
//! instances of every target, one row each, optionally with each instance's partitions and lag.

use super::{check_consumer_name, select, ssh_options, usage, Context};
use crate::cli::{OutputFormat, SshArgs, StatusArgs};
use crate::control::instance_statuses;
use crate::control::output::{self, StatusRow};
use crate::error::{EXIT_FAILED, EXIT_NOT_ACTIVE};
use crate::fleet::{fan_out, FleetHost};
use crate::health::groups::read_groups;
use crate::health::output::{instance_lag_table, lag_notes};
use crate::health::{group_queries, join, split_readings, GroupLag, InstanceLag};
use crate::target::Target;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// `status`: exit 0 when every listed instance is active, else [`EXIT_NOT_ACTIVE`]; with
/// `--lag`, 1 when the lag could not be read.
pub(super) async fn status(ctx: &Context, args: &StatusArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    match args.watch {
        Some(secs) => watch(ctx, args, Duration::from_secs(secs)).await,
        None => status_once(ctx, args).await,
    }
}

/// `status --watch SECS`: the status (and lag with `--lag`) again every SECS seconds until
/// Ctrl-C or SIGTERM, on a cleared screen when stdout is a terminal. A round that fails says
/// why and the watch goes on; the exit code is the last round's.
async fn watch(ctx: &Context, args: &StatusArgs, every: Duration) -> Result<u8> {
    use std::io::{IsTerminal, Write};
    // Bad input is refused once, up front, rather than printed every round.
    select(ctx, &args.ssh, args.fleet, args.lag)?;
    let terminal = std::io::stdout().is_terminal();
    let mut stop = std::pin::pin!(wait_for_stop());
    loop {
        if terminal {
            print!("\x1b[H\x1b[2J");
        }
        println!(
            "every {} s: kafkactl status{} (Ctrl-C to stop)   {}",
            every.as_secs(),
            if args.lag { " --lag" } else { "" },
            crate::fleet::report::timestamp()
        );
        let code = match status_once(ctx, args).await {
            Ok(code) => code,
            Err(err) => {
                println!("kafkactl: {err:#}");
                crate::error::exit_code(&err)
            }
        };
        if !terminal {
            println!();
        }
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = &mut stop => return Ok(code),
        }
    }
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_stop() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// One `status` (or `status --lag`) printout.
async fn status_once(ctx: &Context, args: &StatusArgs) -> Result<u8> {
    if args.lag {
        return status_with_lag(ctx, args).await;
    }
    let (rows, with_host) = rows(ctx, &args.ssh, args.fleet, args.consumer.as_deref()).await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&StatusReport::<StatusRow> {
                instances: &rows,
                groups: None,
                errors: &[],
            })?
        ),
        OutputFormat::Table if rows.is_empty() => println!("no kafka-consumer instances"),
        OutputFormat::Table => println!(
            "{}",
            output::status_table(&rows, with_host, output::color_enabled())
        ),
    }
    Ok(exit_code(&rows))
}

/// 0 when every row is an active instance; [`EXIT_FAILED`] when a host could not be read
/// (the command could not do its work, as everywhere); else [`EXIT_NOT_ACTIVE`].
fn exit_code(rows: &[StatusRow]) -> u8 {
    if rows.iter().any(StatusRow::is_unreachable) {
        EXIT_FAILED
    } else if rows.iter().all(StatusRow::is_active) {
        0
    } else {
        EXIT_NOT_ACTIVE
    }
}

/// The instance rows of every target (only `consumer`'s when given), and whether they need a
/// host column (some target is not this machine). A host that cannot be read is one row,
/// `unreachable`, with the reason; when the only target is this machine, not reaching its
/// manager is the command's error.
pub(super) async fn rows(
    ctx: &Context,
    ssh: &SshArgs,
    fleet: bool,
    consumer: Option<&str>,
) -> Result<(Vec<StatusRow>, bool)> {
    rows_of(ctx, select(ctx, ssh, fleet, false)?.1, ssh, consumer).await
}

/// [`rows`] of the given targets.
pub(super) async fn rows_of(
    ctx: &Context,
    targets: Vec<FleetHost>,
    ssh: &SshArgs,
    consumer: Option<&str>,
) -> Result<(Vec<StatusRow>, bool)> {
    let with_host = targets.iter().any(|t| t.target != Target::Local);
    let options = ssh_options(ssh);
    let scope = ctx.scope;
    let per_target: Vec<Result<Vec<StatusRow>, (Target, String)>> =
        fan_out(targets, ssh.parallel as usize, |host| {
            let options = &options;
            async move {
                let read = match host.target.connect(scope, options).await {
                    Ok(systemd) => instance_statuses(&systemd, consumer)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(why) => Err(why),
                };
                match read {
                    Ok(list) => Ok(list
                        .into_iter()
                        .map(|(instance, status)| StatusRow::new(&host.target, &instance, status))
                        .collect()),
                    Err(why) => Err((host.target, why)),
                }
            }
        })
        .await;
    let mut rows = Vec::new();
    for read in per_target {
        match read {
            Ok(list) => rows.extend(list),
            Err((Target::Local, why)) => return Err(anyhow::Error::msg(why)),
            Err((target, why)) => rows.push(StatusRow::unreachable(&target, why)),
        }
    }
    Ok((rows, with_host))
}

/// What `status -o json` prints, with or without `--lag` (docs/schemas/status.json): one
/// shape, so a script need not know which flags produced it.
#[derive(Debug, Serialize)]
struct StatusReport<'a, I: Serialize> {
    /// One object per instance (with `--lag` also its group, partitions and lag), or one per
    /// unreachable host.
    instances: &'a [I],
    /// The consumer groups read (`--lag`); null without `--lag`.
    groups: Option<&'a [GroupLag]>,
    /// Why some group could not be read.
    errors: &'a [String],
}

/// `status --lag`: the status table, then every instance's partitions (partitions no
/// instance of these rows has are listed with INSTANCE `-`). Exit as `status` does, or 1 when
/// the lag could not be read.
async fn status_with_lag(ctx: &Context, args: &StatusArgs) -> Result<u8> {
    let (manifest, hosts) = select(ctx, &args.ssh, args.fleet, true)?;
    let manifest = manifest.expect("required");
    let queries = group_queries(&manifest, args.consumer.as_deref(), &args.kafka).map_err(usage)?;
    let names: Vec<String> = queries.iter().map(|q| q.group.clone()).collect();
    let (rows, readings) = futures::join!(
        rows_of(ctx, hosts, &args.ssh, args.consumer.as_deref()),
        read_groups(queries)
    );
    let (rows, with_host) = rows?;
    let (groups, failed) = split_readings(names, readings);
    let joined = join(&rows, &groups, &crate::worker::settings::hostname());
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&StatusReport::<InstanceLag> {
                instances: &joined,
                groups: Some(&groups),
                errors: &failed,
            })?
        ),
        OutputFormat::Table => {
            if rows.is_empty() {
                println!("no kafka-consumer instances");
            } else {
                println!(
                    "{}",
                    output::status_table(&rows, with_host, output::color_enabled())
                );
            }
            println!("{}", instance_lag_table(&joined, &groups, with_host));
            for note in lag_notes(&groups) {
                println!("note: {note}");
            }
        }
    }
    for why in &failed {
        eprintln!("kafkactl: lag: {why}");
    }
    Ok(if failed.is_empty() {
        exit_code(&rows)
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Instance;

    fn row(target: &Target, state: &str) -> StatusRow {
        let mut row = StatusRow::new(
            target,
            &Instance::new("orders", 1),
            Err(crate::systemd::SystemdError::Refused {
                action: "read the status of".into(),
                unit: "kafka-consumer@orders:1.service".into(),
                error_name: "org.freedesktop.systemd1.NoSuchUnit".into(),
                message: "not loaded".into(),
            }),
        );
        row.active_state = state.into();
        row
    }

    #[test]
    fn an_unreachable_host_fails_status_as_it_fails_deploy() {
        let host = Target::Ssh(crate::manifest::Host::parse("web1").unwrap());
        let active = row(&Target::Local, "active");
        let inactive = row(&Target::Local, "inactive");
        let lost = StatusRow::unreachable(&host, "connection refused".into());
        assert_eq!(exit_code(std::slice::from_ref(&active)), 0);
        assert_eq!(
            exit_code(&[active.clone(), inactive.clone()]),
            EXIT_NOT_ACTIVE
        );
        assert_eq!(exit_code(&[active, inactive, lost]), EXIT_FAILED);
    }
}
