//! `kafkactl logs`: the journald entries of consumer instances (and the proxy), from this host
//! or from every selected host over SSH, merged in time order with each line prefixed by its
//! host and instance.
//!
//! Each host runs `journalctl --output=json` (locally as a child process, remotely on the
//! command's own SSH session with every word quoted, so no value reaches a remote shell as
//! syntax). The JSON entries are parsed here ([`Entry::from_json`]); the last `-n` of all
//! hosts together are printed in time order; with `-f`, entries then print as they arrive
//! until Ctrl-C (live entries of different hosts are in arrival order, which is time order
//! to within the network's delay).

use super::{select, ssh_options, Context};
use crate::cli::{LogsArgs, OutputFormat};
use crate::control::output::utc;
use crate::error::Failure;
use crate::manifest::Host;
use crate::systemd::Scope;
use crate::target::Target;
use crate::transport::{self, SshOptions};
use crate::units::{Instance, InstanceSelector, CONSUMER_PATTERN, CONSUMER_PREFIX, PROXY_UNIT};
use anyhow::Result;
use serde::Serialize;
use std::io::Write;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// How long one read of a remote `journalctl` may wait when not following.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Characters accepted in `--since` (journalctl's time formats: dates, times, `-1h`, `today`,
/// `@UNIX-SECONDS`).
fn valid_since(since: &str) -> bool {
    !since.is_empty()
        && since.len() <= 64
        && since
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" :-+./@".contains(&b))
}

/// What to read from each host's journal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// The units (or unit patterns) to read.
    pub units: Vec<String>,
    /// The last this many entries of each host (the newest of all of them are printed).
    pub lines: u32,
    /// journalctl's `--since`.
    pub since: Option<String>,
    /// Keep reading.
    pub follow: bool,
    /// The user manager's journal instead of the system's.
    pub scope: Scope,
}

impl Query {
    /// The query of the command line, checked.
    pub fn of(args: &LogsArgs, scope: Scope) -> Result<Query, String> {
        let mut units = Vec::new();
        match args
            .consumer
            .as_deref()
            .map(InstanceSelector::parse)
            .transpose()?
        {
            Some(InstanceSelector::Instance(instance)) => units.push(instance.unit()),
            Some(InstanceSelector::Consumer(name)) => {
                units.push(format!("{CONSUMER_PREFIX}{name}:*.service"))
            }
            None => units.push(CONSUMER_PATTERN.to_string()),
        }
        if args.proxy {
            units.push(PROXY_UNIT.to_string());
        }
        if let Some(since) = &args.since {
            if !valid_since(since) {
                return Err(format!(
                    "--since {since:?} is not a time journalctl takes (for example \
                     \"2026-12-01 10:00\", \"-1h\", \"today\")"
                ));
            }
        }
        Ok(Query {
            units,
            lines: args.lines,
            since: args.since.clone(),
            follow: args.follow,
            scope,
        })
    }

    /// The journalctl command line (argv, run without a shell locally, quoted word by word
    /// remotely).
    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec!["journalctl".to_string()];
        if self.scope == Scope::User {
            argv.push("--user".into());
        }
        argv.extend([
            "--output=json".to_string(),
            "--no-pager".into(),
            "--quiet".into(),
            format!("--lines={}", self.lines),
        ]);
        if let Some(since) = &self.since {
            argv.push(format!("--since={since}"));
        }
        if self.follow {
            argv.push("--follow".into());
        }
        for unit in &self.units {
            argv.push(format!("--unit={unit}"));
        }
        argv
    }
}

/// One journal entry, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Entry {
    /// When it was logged, in µs since the epoch.
    pub timestamp_us: u64,
    /// The same, as UTC RFC 3339.
    pub time: String,
    /// The host it came from.
    pub host: String,
    /// The unit it is about.
    pub unit: String,
    /// `NAME:N` for a consumer instance, `proxy`, or the unit.
    pub instance: String,
    /// syslog priority (0 emerg .. 7 debug).
    pub priority: u8,
    /// The message.
    pub message: String,
}

impl Entry {
    /// Parses one line of `journalctl --output=json`; `None` for lines that are not entries.
    pub fn from_json(line: &[u8], host: &str) -> Option<Entry> {
        let value: serde_json::Value = serde_json::from_slice(line).ok()?;
        let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
        let timestamp_us: u64 = field("__REALTIME_TIMESTAMP")?.parse().ok()?;
        // Entries systemd itself writes about a unit (Started, Stopped, ...) carry the unit in
        // UNIT/USER_UNIT; the service's own output in _SYSTEMD_UNIT/_SYSTEMD_USER_UNIT.
        let unit = ["UNIT", "USER_UNIT", "_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT"]
            .iter()
            .filter_map(|f| field(f))
            .find(|u| u.starts_with(CONSUMER_PREFIX) || *u == PROXY_UNIT)
            .or_else(|| field("_SYSTEMD_UNIT"))
            .unwrap_or("-")
            .to_string();
        let instance = match Instance::from_unit(&unit) {
            Some(instance) => instance.to_string(),
            None if unit == PROXY_UNIT => "proxy".to_string(),
            None => unit.clone(),
        };
        // journald stores a message that is not valid UTF-8 as an array of bytes.
        let message = match value.get("MESSAGE") {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Array(bytes)) => {
                let raw: Vec<u8> = bytes
                    .iter()
                    .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect();
                String::from_utf8_lossy(&raw).into_owned()
            }
            _ => String::new(),
        };
        Some(Entry {
            timestamp_us,
            time: utc_rfc3339(timestamp_us),
            host: host.to_string(),
            unit,
            instance,
            priority: field("PRIORITY").and_then(|p| p.parse().ok()).unwrap_or(6),
            message,
        })
    }

    /// The text line: time, host, instance, message.
    pub fn line(&self) -> String {
        format!(
            "{} {} {}: {}",
            self.time,
            self.host,
            self.instance,
            self.message.trim_end()
        )
    }
}

/// `micros` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn utc_rfc3339(micros: u64) -> String {
    let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX);
    let millis = (micros / 1_000) % 1_000;
    format!("{}.{millis:03}Z", utc(secs).replacen(' ', "T", 1))
}

/// The newest `lines` entries of all hosts together, oldest first.
pub(crate) fn merge(mut entries: Vec<Entry>, lines: usize) -> Vec<Entry> {
    entries.sort_by(|a, b| (a.timestamp_us, &a.host).cmp(&(b.timestamp_us, &b.host)));
    let skip = entries.len().saturating_sub(lines);
    entries.split_off(skip)
}

/// What a host's reader sends.
enum Event {
    /// An entry.
    Entry(Entry),
    /// The host's backlog (the last `-n` entries) is complete.
    BacklogDone,
    /// The host failed.
    Failed(String),
}

/// `kafkactl logs`.
pub(super) async fn logs(ctx: &Context, args: &LogsArgs) -> Result<u8> {
    let query = Query::of(args, ctx.scope).map_err(Failure::Usage)?;
    // A manifest named with -f must load, even where nothing else needs it (exit 2).
    let sources: Vec<Target> = select(ctx, &args.ssh, args.fleet, false)?
        .1
        .into_iter()
        .map(|host| host.target)
        .collect();
    let options = ssh_options(&args.ssh);
    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    let hosts = sources.len();
    for source in sources {
        let tx = tx.clone();
        let query = query.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let result = match &source {
                Target::Local => read_local(&query, &tx).await,
                Target::Ssh(host) => read_remote(host, &options, &query, &tx).await,
            };
            let last = match result {
                Ok(()) if query.follow => return,
                Ok(()) => Event::BacklogDone,
                Err(why) => Event::Failed(why),
            };
            let _ = tx.send(last).await;
        });
    }
    drop(tx);

    let json = args.output == OutputFormat::Json;
    let mut backlog = Vec::new();
    let mut pending = hosts;
    let mut failed = 0;
    // The backlog of every host first, merged; then (with -f) whatever arrives.
    while pending > 0 {
        match rx.recv().await {
            Some(Event::Entry(entry)) => backlog.push(entry),
            Some(Event::BacklogDone) => pending -= 1,
            Some(Event::Failed(why)) => {
                eprintln!("{why}");
                failed += 1;
                pending -= 1;
            }
            None => break,
        }
    }
    let mut out = std::io::stdout().lock();
    for entry in merge(backlog, query.lines as usize) {
        print_entry(&mut out, &entry, json)?;
    }
    out.flush()?;
    drop(out);
    if query.follow {
        while let Some(event) = rx.recv().await {
            match event {
                Event::Entry(entry) => {
                    let mut out = std::io::stdout().lock();
                    print_entry(&mut out, &entry, json)?;
                    out.flush()?;
                }
                Event::BacklogDone => {}
                Event::Failed(why) => {
                    eprintln!("{why}");
                    failed += 1;
                }
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn print_entry(out: &mut impl Write, entry: &Entry, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(entry)?)
    } else {
        writeln!(out, "{}", entry.line())
    }
}

/// Reads this host's journal with a child `journalctl`. With `follow`, the backlog ends at
/// the first pause in its output (journalctl prints the last `-n` entries at once, then waits).
async fn read_local(query: &Query, tx: &mpsc::Sender<Event>) -> Result<(), String> {
    let argv = query.argv();
    let host = crate::worker::settings::hostname();
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{host}: cannot run journalctl: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut backlog_done = !query.follow;
    loop {
        let next = if backlog_done {
            lines.next_line().await
        } else {
            match tokio::time::timeout(Duration::from_millis(500), lines.next_line()).await {
                Ok(next) => next,
                Err(_) => {
                    backlog_done = true;
                    if tx.send(Event::BacklogDone).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
            }
        };
        match next {
            Ok(Some(line)) => {
                if let Some(entry) = Entry::from_json(line.as_bytes(), &host) {
                    if tx.send(Event::Entry(entry)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{host}: reading journalctl: {e}")),
        }
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("{host}: journalctl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{host}: journalctl failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if !backlog_done {
        let _ = tx.send(Event::BacklogDone).await;
    }
    Ok(())
}

/// Reads a host's journal over SSH: `journalctl` on the host, its lines streamed back.
async fn read_remote(
    host: &Host,
    options: &SshOptions,
    query: &Query,
    tx: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let label = host.to_string();
    let link = transport::connect_link(host, options)
        .await
        .map_err(|e| e.to_string())?;
    let argv = query.argv();
    let follow = query.follow;
    let tx = tx.clone();
    let name = label.clone();
    tokio::task::spawn_blocking(move || {
        // With -f, the backlog ends at the first pause: libssh2 reads block, so a watcher
        // thread marks it after the lines stop coming for a moment.
        let last_line = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        if follow {
            let (last_line, tx) = (last_line.clone(), tx.clone());
            std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                let quiet = last_line.lock().map(|t| t.elapsed()).unwrap_or_default();
                if quiet >= Duration::from_millis(500) {
                    let _ = tx.blocking_send(Event::BacklogDone);
                    return;
                }
            });
        }
        let mut on_line = |line: &[u8]| {
            if let Ok(mut t) = last_line.lock() {
                *t = std::time::Instant::now();
            }
            match Entry::from_json(line, &name) {
                Some(entry) => tx.blocking_send(Event::Entry(entry)).is_ok(),
                None => true,
            }
        };
        let timeout = (!follow).then_some(READ_TIMEOUT);
        let out = link
            .stream_lines(&argv, timeout, &mut on_line)
            .map_err(|e| e.to_string())?;
        match out.status {
            0 => Ok(()),
            127 => Err(format!("{name}: journalctl is not installed there")),
            status => Err(format!(
                "{name}: journalctl failed (exit {status}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    })
    .await
    .map_err(|e| format!("{label}: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> LogsArgs {
        let mut full = vec!["kafkactl", "logs"];
        full.extend_from_slice(argv);
        match crate::cli::Cli::try_parse_from(full).unwrap().command {
            crate::cli::Command::Logs(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_query_selects_units_and_says_everything_as_separate_words() {
        let q = Query::of(
            &args(&["-c", "price_drops", "--proxy", "-n", "20"]),
            Scope::System,
        )
        .unwrap();
        assert_eq!(
            q.argv(),
            [
                "journalctl",
                "--output=json",
                "--no-pager",
                "--quiet",
                "--lines=20",
                "--unit=kafka-consumer@price_drops:*.service",
                "--unit=kafkactl-proxy.service"
            ]
        );
        let one = Query::of(&args(&["-c", "a:2", "-F", "--since", "-1h"]), Scope::User).unwrap();
        let argv = one.argv();
        assert_eq!(argv[1], "--user");
        assert!(argv.contains(&"--since=-1h".to_string()) && argv.contains(&"--follow".into()));
        assert!(argv.contains(&"--unit=kafka-consumer@a:2.service".to_string()));
        let all = Query::of(&args(&[]), Scope::System).unwrap();
        assert_eq!(all.units, [CONSUMER_PATTERN]);
    }

    #[test]
    fn bad_targets_and_times_are_refused_before_anything_runs() {
        assert!(Query::of(&args(&["-c", "Bad;rm"]), Scope::System).is_err());
        let err = Query::of(&args(&["--since", "$(reboot)"]), Scope::System).unwrap_err();
        assert!(err.contains("--since"), "{err}");
    }

    #[test]
    fn entries_name_their_instance() {
        let line = br#"{"__REALTIME_TIMESTAMP":"1764612000123456","_SYSTEMD_UNIT":"kafka-consumer@price_drops:1.service","PRIORITY":"3","MESSAGE":"handler: boom"}"#;
        let e = Entry::from_json(line, "h1").unwrap();
        assert_eq!(e.instance, "price_drops:1");
        assert_eq!(e.priority, 3);
        assert_eq!(
            e.line(),
            "2025-12-01T18:00:00.123Z h1 price_drops:1: handler: boom"
        );
        // systemd's own message about the unit.
        let started = br#"{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"init.scope","UNIT":"kafkactl-proxy.service","MESSAGE":"Started x."}"#;
        assert_eq!(Entry::from_json(started, "h2").unwrap().instance, "proxy");
        // A message that is not UTF-8 arrives as bytes.
        let bytes = br#"{"__REALTIME_TIMESTAMP":"2","_SYSTEMD_UNIT":"kafka-consumer@a:1.service","MESSAGE":[104,105,255]}"#;
        assert_eq!(Entry::from_json(bytes, "h").unwrap().message, "hi\u{fffd}");
        assert_eq!(Entry::from_json(b"not json", "h"), None);
        assert_eq!(Entry::from_json(br#"{"MESSAGE":"no time"}"#, "h"), None);
    }

    #[test]
    fn utc_times_are_civil_dates() {
        assert_eq!(utc_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_rfc3339(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            utc_rfc3339(1_798_761_599_999_999),
            "2026-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn merging_keeps_the_newest_lines_of_all_hosts_in_time_order() {
        let entry = |t: u64, host: &str| Entry {
            timestamp_us: t,
            time: utc_rfc3339(t),
            host: host.into(),
            unit: "u".into(),
            instance: "a:1".into(),
            priority: 6,
            message: format!("{host}@{t}"),
        };
        let merged = merge(
            vec![
                entry(5, "h2"),
                entry(1, "h1"),
                entry(9, "h1"),
                entry(7, "h2"),
            ],
            3,
        );
        let order: Vec<_> = merged.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(order, ["h2@5", "h2@7", "h1@9"]);
    }
}
