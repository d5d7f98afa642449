//! The monitoring subcommands from parsed arguments to an exit code: `lag`, `status --lag`
//! and `check`. Instance rows come from this host's systemd or, with `--hosts`/`--fleet`,
//! from every host over SSH (as `status --fleet` reads them); lag comes from the brokers.

use super::check::{self, CheckInput, InstanceHealth, Outcome, Threshold, Thresholds};
use super::kafka::{connection_settings, read_groups, GroupQuery};
use super::{join, GroupLag, InstanceLag, PartitionLag};
use crate::cli::{CheckArgs, KafkaArgs, LagArgs, OutputFormat, SshArgs, StatusArgs};
use crate::control::commands::{connect, ControlContext, EXIT_NOT_ACTIVE};
use crate::control::instance_statuses;
use crate::control::output::{self, StatusRow};
use crate::error::Failure;
use crate::fleet;
use crate::manifest::Manifest;
use anyhow::Result;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::Duration;

fn usage(message: String) -> anyhow::Error {
    Failure::Usage(message).into()
}

fn check_consumer_name(name: Option<&str>) -> Result<()> {
    match name {
        Some(n) if !crate::units::valid_name(n) => Err(usage(format!(
            "'{n}' is not a valid consumer name (lowercase letters, digits and '_')"
        ))),
        _ => Ok(()),
    }
}

/// The groups to read: every consumer of the manifest with topics (or only `-c NAME`), from
/// `--brokers`/`KAFKACTL_BROKERS`, else the manifest's `brokers:`.
pub fn group_queries(
    manifest: &Manifest,
    consumer: Option<&str>,
    kafka: &KafkaArgs,
) -> Result<Vec<GroupQuery>, String> {
    let brokers = match kafka.brokers.as_deref().filter(|b| !b.trim().is_empty()) {
        Some(b) => b.trim().to_string(),
        None => manifest.bootstrap_servers().ok_or_else(|| {
            format!(
                "{}: no brokers: set `brokers:` in the manifest, or --brokers / KAFKACTL_BROKERS",
                manifest.path.display()
            )
        })?,
    };
    if let Some(name) = consumer {
        if manifest.consumer(name).is_none() {
            return Err(format!(
                "{}: no consumer named `{name}`",
                manifest.path.display()
            ));
        }
    }
    Ok(manifest
        .consumers
        .iter()
        .filter(|c| consumer.is_none_or(|n| c.name == n))
        .filter(|c| !c.topics.is_empty())
        .map(|c| GroupQuery {
            consumer: c.name.clone(),
            group: c.group_id(&manifest.app),
            topics: c.topics.clone(),
            brokers: brokers.clone(),
            connection: connection_settings(&c.kafka),
            timeout: Duration::from_secs(kafka.kafka_timeout),
        })
        .collect())
}

/// The instance rows of this host (`localhost`) or of the hosts of `--hosts`/`--fleet`; an
/// unreachable host is a row with `active_state` `unreachable` and the reason.
pub async fn read_rows(
    ctx: &ControlContext,
    consumer: Option<&str>,
    fleet: bool,
    ssh: &SshArgs,
) -> Result<Vec<StatusRow>> {
    if !fleet && ssh.hosts.is_empty() {
        let systemd = connect(ctx.scope).await?;
        return Ok(instance_statuses(&systemd, consumer)
            .await?
            .into_iter()
            .map(|(instance, status)| StatusRow::new("localhost", &instance, status))
            .collect());
    }
    fleet::commands::status_rows(ctx, ssh, fleet, consumer).await
}

fn table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    let color = output::color_enabled();
    table
        .load_preset(if color {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_MARKDOWN
        })
        .set_content_arrangement(if std::io::stdout().is_terminal() {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        });
    table.set_header(header);
    table
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Who has a partition, for tables: the instance (`name:N@host`), else the client id, else `-`.
fn member_cell(p: &PartitionLag) -> String {
    match (&p.instance, &p.hostname, &p.member) {
        (Some(instance), Some(host), _) => format!("{instance}@{host}"),
        (_, _, Some(client)) => client.clone(),
        _ => "-".into(),
    }
}

/// The notes under a lag table: what `-` means and how lag without a commit is counted.
pub fn lag_notes(groups: &[GroupLag]) -> Vec<String> {
    let mut notes = Vec::new();
    for g in groups {
        if let Some(why) = &g.members_unknown {
            notes.push(format!(
                "{}: members unknown (MEMBER -): the group could not be described: {why}",
                g.group
            ));
        }
    }
    if groups
        .iter()
        .flat_map(|g| &g.partitions)
        .any(|p| p.committed.is_none())
    {
        notes.push(
            "COMMITTED -: nothing committed; LAG is then the whole partition (HIGH - LOW)".into(),
        );
    }
    notes
}

/// The `kafkactl lag` table: one row per partition, then a total per group.
pub fn lag_table(groups: &[GroupLag]) -> String {
    let mut t = table(vec![
        "GROUP",
        "TOPIC",
        "PARTITION",
        "LOW",
        "HIGH",
        "COMMITTED",
        "LAG",
        "MEMBER",
    ]);
    for g in groups {
        for p in &g.partitions {
            t.add_row(vec![
                g.group.clone(),
                p.topic.clone(),
                p.partition.to_string(),
                p.low.to_string(),
                p.high.to_string(),
                dash(p.committed),
                p.lag.to_string(),
                member_cell(p),
            ]);
        }
        t.add_row(vec![
            g.group.clone(),
            "(total)".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            g.total_lag.to_string(),
            dash(g.state.clone()),
        ]);
    }
    t.to_string()
}

/// `kafkactl lag`: exit 0, or 1 when a group could not be read (said on stderr).
pub async fn lag(ctx: &ControlContext, args: &LagArgs) -> Result<u8> {
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
    let (groups, failed) = split(names, read_groups(queries).await);
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&groups)?),
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

fn split(
    names: Vec<String>,
    results: Vec<Result<GroupLag, String>>,
) -> (Vec<GroupLag>, Vec<String>) {
    let mut groups = Vec::new();
    let mut failed = Vec::new();
    for (name, result) in names.into_iter().zip(results) {
        match result {
            Ok(g) => groups.push(g),
            Err(why) => failed.push(format!("{name}: {why}")),
        }
    }
    (groups, failed)
}

/// What `status --lag -o json` prints.
#[derive(Debug, Serialize)]
struct StatusLag<'a> {
    instances: &'a [InstanceLag],
    groups: &'a [GroupLag],
    errors: &'a [String],
}

/// `status --lag`: the status table, then every instance's partitions (partitions no
/// instance of these rows has are listed with INSTANCE `-`). Exit as `status` does, or 1 when
/// the lag could not be read.
pub async fn status_with_lag(ctx: &ControlContext, args: &StatusArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    let manifest = ctx.manifest(true)?.expect("required");
    let queries = group_queries(&manifest, args.consumer.as_deref(), &args.kafka).map_err(usage)?;
    let with_host = args.fleet || !args.ssh.hosts.is_empty();
    let names: Vec<String> = queries.iter().map(|q| q.group.clone()).collect();
    let (rows, readings) = futures::join!(
        read_rows(ctx, args.consumer.as_deref(), args.fleet, &args.ssh),
        read_groups(queries)
    );
    let rows = rows?;
    let (groups, failed) = split(names, readings);
    let joined = join(&rows, &groups, &crate::worker::settings::hostname());
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&StatusLag {
                instances: &joined,
                groups: &groups,
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
    Ok(if !failed.is_empty() {
        1
    } else if rows.iter().all(StatusRow::is_active) {
        0
    } else {
        EXIT_NOT_ACTIVE
    })
}

/// The partitions table of `status --lag`: by instance, then those of no listed instance.
fn instance_lag_table(joined: &[InstanceLag], groups: &[GroupLag], with_host: bool) -> String {
    let mut header = vec![
        "INSTANCE",
        "GROUP",
        "PARTITION",
        "MEMBER",
        "COMMITTED",
        "HIGH",
        "LAG",
    ];
    if with_host {
        header.insert(0, "HOST");
    }
    let mut t = table(header);
    let mut shown: Vec<(&str, &str, i32)> = Vec::new();
    let add = |t: &mut Table, host: &str, instance: &str, group: &str, p: &PartitionLag| {
        let mut cells = vec![
            instance.to_string(),
            group.to_string(),
            format!("{}/{}", p.topic, p.partition),
            dash(p.member.clone()),
            dash(p.committed),
            p.high.to_string(),
            p.lag.to_string(),
        ];
        if with_host {
            cells.insert(0, host.to_string());
        }
        t.add_row(cells);
    };
    for row in joined {
        let group = row.group.as_deref().unwrap_or("-");
        for p in &row.partitions {
            add(&mut t, &row.status.host, &row.status.instance, group, p);
            shown.push((group, &p.topic, p.partition));
        }
    }
    for g in groups {
        for p in &g.partitions {
            if !shown.contains(&(g.group.as_str(), p.topic.as_str(), p.partition)) {
                add(&mut t, "-", "-", &g.group, p);
            }
        }
    }
    t.to_string()
}

/// The thresholds of the command line.
pub fn thresholds(args: &CheckArgs) -> Thresholds {
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
async fn gather(ctx: &ControlContext, args: &CheckArgs) -> Result<CheckInput> {
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
        read_rows(ctx, args.consumer.as_deref(), args.fleet, &args.ssh),
        read_groups(queries)
    );
    let instances = rows?
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
pub async fn check(ctx: &ControlContext, args: &CheckArgs) -> u8 {
    let outcome: Outcome = match gather(ctx, args).await {
        Ok(input) => check::evaluate(&input, &thresholds(args)),
        Err(err) => check::unknown(&format!("{err:#}")),
    };
    println!("{}", outcome.line);
    outcome.state.code()
}
