//! The lag tables of `kafkactl lag` and `status --lag`, and the notes under them.

use super::window::WindowVerdict;
use super::{GroupLag, InstanceLag, PartitionLag};
use crate::control::output;
use comfy_table::{presets, ContentArrangement, Table};

fn table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
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
pub(crate) fn lag_notes(groups: &[GroupLag]) -> Vec<String> {
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
pub(crate) fn lag_table(groups: &[GroupLag]) -> String {
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
    output::render_table(&t)
}

/// The partitions table of `status --lag`: by instance, then those of no listed instance.
pub(crate) fn instance_lag_table(
    joined: &[InstanceLag],
    groups: &[GroupLag],
    with_host: bool,
) -> String {
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
    output::render_table(&t)
}

/// The table of `lag --window`: one row per group.
pub(crate) fn progress_table(verdicts: &[WindowVerdict]) -> String {
    let mut t = table(vec![
        "GROUP",
        "PROGRESS",
        "LAG (START)",
        "LAG (END)",
        "COMMITTED",
        "PRODUCED",
        "RATE/S",
    ]);
    for v in verdicts {
        t.add_row(vec![
            v.group.clone(),
            v.progress.to_string(),
            v.lag_start.to_string(),
            v.lag_end.to_string(),
            v.committed.to_string(),
            v.produced.to_string(),
            format!("{:.1}", v.rate),
        ]);
    }
    output::render_table(&t)
}
