//! How the control plane reports: status tables (comfy-table on a terminal, plain columns
//! elsewhere) or JSON, and the formatting of sizes, times and dates.

use crate::systemd::{SystemdError, UnitStatus};
use crate::target::Target;
use crate::units::Instance;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether to use colour: stdout is a terminal and NO_COLOR is unset.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A table for stdout: boxed (and wrapped to the width) on a terminal; elsewhere plain
/// aligned columns without borders, as systemctl and kubectl print them, so `grep`, `awk`
/// and `column` read whole lines.
pub fn render_table(table: &Table) -> String {
    if std::io::stdout().is_terminal() {
        return table.to_string();
    }
    let cells =
        |row: &comfy_table::Row| -> Vec<String> { row.cell_iter().map(|c| c.content()).collect() };
    let header = table.header().map(cells).unwrap_or_default();
    let rows: Vec<Vec<String>> = table.row_iter().map(cells).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    plain_table(&header, &rows)
        .trim_end_matches('\n')
        .to_string()
}

/// `header` and `rows` as plain columns: each as wide as its widest cell, two spaces apart,
/// no trailing blanks; a line per row, newline-terminated.
pub fn plain_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0; columns];
    let lines = std::iter::once(header.iter().map(|h| h.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned())
        .collect::<Vec<_>>();
    for line in &lines {
        for (i, cell) in line.iter().enumerate() {
            // Cells are single lines here; a newline would break the columns.
            widths[i] = widths[i].max(cell.replace('\n', " ").chars().count());
        }
    }
    let mut out = String::new();
    for line in lines.iter().filter(|l| !l.is_empty()) {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let cell = cell.replace('\n', " ");
            text.push_str(&cell);
            if i + 1 < line.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// Tables print `-` for a value that is not known; JSON says null.
fn dash_as_null<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if value == "-" {
        serializer.serialize_none()
    } else {
        serializer.serialize_str(value)
    }
}

/// One row of `kafkactl status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// Where the instance runs, as a name (`localhost`, or `user@address:port`).
    pub host: String,
    /// Where the instance runs.
    #[serde(skip)]
    pub target: Target,
    /// The unit name (`-` for an unreachable host: null in JSON).
    #[serde(serialize_with = "dash_as_null")]
    pub unit: String,
    /// Consumer name and instance number (`-`/null for an unreachable host).
    #[serde(serialize_with = "dash_as_null")]
    pub instance: String,
    /// `active`, `failed`, ..., or `unreachable` (the host could not be read).
    pub active_state: String,
    /// `running`, `dead`, ... (`-`/null for an unreachable host).
    #[serde(serialize_with = "dash_as_null")]
    pub sub_state: String,
    /// Main PID.
    pub main_pid: Option<u32>,
    /// Memory of the unit's cgroup, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU time, nanoseconds.
    pub cpu_nsec: Option<u64>,
    /// Automatic restarts.
    pub restarts: Option<u32>,
    /// When it became active, microseconds since the epoch.
    pub active_since_usec: Option<u64>,
    /// The sd_notify STATUS text.
    pub status_text: Option<String>,
    /// The service's result (`success`, `exit-code`, ...).
    pub result: Option<String>,
    /// Set when the status could not be read.
    pub error: Option<String>,
}

impl StatusRow {
    /// A row from a unit's status (or the error reading it).
    pub fn new(
        target: &Target,
        instance: &Instance,
        status: Result<UnitStatus, SystemdError>,
    ) -> StatusRow {
        let mut row = StatusRow::bare(target, instance.unit(), instance.to_string(), "unknown");
        match status {
            Ok(s) => {
                row.active_state = s.active_state;
                row.sub_state = s.sub_state;
                row.main_pid = s.main_pid;
                row.memory_bytes = s.memory_current_bytes;
                row.cpu_nsec = s.cpu_usage_nsec;
                row.restarts = s.n_restarts;
                row.active_since_usec = s.active_enter_timestamp_usec;
                row.status_text = s.status_text;
                row.result = s.result;
            }
            Err(err) => row.error = Some(err.to_string()),
        }
        row
    }

    /// The one row of a host that could not be read.
    pub fn unreachable(target: &Target, why: String) -> StatusRow {
        StatusRow {
            sub_state: "-".into(),
            error: Some(why),
            ..StatusRow::bare(target, "-".into(), "-".into(), "unreachable")
        }
    }

    /// A row with names and a state and nothing known beyond them.
    fn bare(target: &Target, unit: String, instance: String, state: &str) -> StatusRow {
        StatusRow {
            host: target.label(),
            target: target.clone(),
            unit,
            instance,
            active_state: state.into(),
            sub_state: state.into(),
            main_pid: None,
            memory_bytes: None,
            cpu_nsec: None,
            restarts: None,
            active_since_usec: None,
            status_text: None,
            result: None,
            error: None,
        }
    }

    /// Whether this is the row of a host that could not be read.
    pub fn is_unreachable(&self) -> bool {
        self.active_state == "unreachable"
    }

    /// Whether the instance is up.
    pub fn is_active(&self) -> bool {
        self.active_state == "active"
    }
}

/// The status table.
pub fn status_table(rows: &[StatusRow], with_host: bool, color: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let mut header = vec![
        "UNIT", "STATE", "PID", "MEMORY", "CPU", "RESTARTS", "SINCE", "STATUS",
    ];
    if with_host {
        header.insert(0, "HOST");
    }
    table.set_header(header);
    for row in rows {
        let state = format!("{}/{}", row.active_state, row.sub_state);
        let mut state_cell = Cell::new(&state);
        if color {
            state_cell = state_cell.fg(match row.active_state.as_str() {
                "active" => Color::Green,
                "failed" => Color::Red,
                _ => Color::Yellow,
            });
        }
        let mut cells = vec![
            Cell::new(&row.unit),
            state_cell,
            Cell::new(row.main_pid.map_or("-".into(), |p| p.to_string())),
            Cell::new(row.memory_bytes.map_or("-".into(), human_bytes)),
            Cell::new(row.cpu_nsec.map_or("-".into(), human_cpu)),
            Cell::new(row.restarts.map_or("-".into(), |n| n.to_string())),
            Cell::new(row.active_since_usec.map_or("-".into(), since)),
            Cell::new(
                row.error
                    .clone()
                    .or_else(|| row.status_text.clone())
                    .unwrap_or_default(),
            ),
        ];
        if with_host {
            cells.insert(0, Cell::new(&row.host));
        }
        table.add_row(cells);
    }
    render_table(&table)
}

/// Bytes as KiB/MiB/GiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// CPU nanoseconds as `1.234s` or `2min 3.4s`.
pub fn human_cpu(nsec: u64) -> String {
    let secs = nsec as f64 / 1e9;
    if secs < 60.0 {
        format!("{secs:.3}s")
    } else {
        format!("{}min {:.1}s", (secs / 60.0) as u64, secs % 60.0)
    }
}

/// A timestamp as a UTC time and an age, e.g. `2026-11-27 14:03:12 (5m ago)`.
pub fn since(usec: u64) -> String {
    let secs = (usec / 1_000_000) as i64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format!("{} ({} ago)", utc(secs), human_age(now - secs))
}

fn human_age(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d", s / 86_400),
    }
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC (civil-from-days, no time crate needed).
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes_times_and_dates() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(310 * 1024 * 1024 + 400 * 1024), "310.4MiB");
        assert_eq!(human_cpu(1_500_000_000), "1.500s");
        assert_eq!(human_cpu(1_075_700_000_000), "17min 55.7s");
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_523_450_393), "2018-04-11 12:39:53");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(human_age(3700), "1h1m");
    }

    #[test]
    fn an_unreachable_host_row_says_null_in_json_where_the_table_says_dash() {
        let host = crate::manifest::Host::parse("deploy@web1").unwrap();
        let row = StatusRow::unreachable(&Target::Ssh(host), "connection refused".into());
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["unit"], serde_json::Value::Null, "{json}");
        assert_eq!(json["instance"], serde_json::Value::Null, "{json}");
        assert_eq!(json["sub_state"], serde_json::Value::Null, "{json}");
        assert_eq!(json["active_state"], "unreachable");
        assert_eq!(json["error"], "connection refused");
        assert!(row.is_unreachable() && !row.is_active());
        let text = status_table(&[row], true, false);
        assert!(text.contains("unreachable/-"), "{text}");
    }

    #[test]
    fn plain_tables_are_aligned_columns_without_borders() {
        let text = plain_table(
            &["UNIT", "STATE", "STATUS"],
            &[
                vec![
                    "kafka-consumer@a:1.service".into(),
                    "active/running".into(),
                    String::new(),
                ],
                vec!["b:1".into(), "failed/failed".into(), "two\nlines".into()],
            ],
        );
        assert_eq!(
            text,
            "UNIT                        STATE           STATUS\n\
             kafka-consumer@a:1.service  active/running\n\
             b:1                         failed/failed   two lines\n"
        );
    }

    #[test]
    fn the_table_shows_state_and_status_text() {
        let row = StatusRow {
            host: "localhost".into(),
            target: Target::Local,
            unit: "kafka-consumer@price_drops:1.service".into(),
            instance: "price_drops:1".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            main_pid: Some(20543),
            memory_bytes: Some(11 * 1024 * 1024),
            cpu_nsec: Some(2_000_000_000),
            restarts: Some(0),
            active_since_usec: Some(1_523_450_393_000_000),
            status_text: Some(
                "myapp-price_drops:server1-1 (offset=347720,partition=5) | Working...".into(),
            ),
            result: Some("success".into()),
            error: None,
        };
        let text = status_table(&[row], false, false);
        assert!(
            text.contains("kafka-consumer@price_drops:1.service"),
            "{text}"
        );
        assert!(text.contains("active/running"));
        assert!(text.contains("20543"));
        assert!(text.contains("11.0MiB"));
        assert!(text.contains("(offset=347720,partition=5)"));
        assert!(text.contains("2018-04-11 12:39:53"));
    }
}
