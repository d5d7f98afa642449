//! Monitoring: consumer-group lag (`kafkactl lag`, `status --lag`) and the Icinga/Nagios
//! plugin (`kafkactl check`).
//!
//! The pure parts live here and in [`check`]: lag of a partition, assembling a group's
//! reading, mapping a member's client id to an instance, joining instance rows with their
//! partitions, threshold evaluation and perfdata. [`groups`] reads offsets, watermarks and
//! group members from the brokers (blocking librdkafka calls, run off the async runtime);
//! [`output`] prints the lag tables. The commands are in `crate::commands` (`lag`, `status`,
//! `check`).

pub(crate) mod check;
pub(crate) mod groups;
pub(crate) mod output;
pub(crate) mod window;

use crate::cli::KafkaArgs;
use crate::control::output::StatusRow;
use crate::manifest::keys::connection_settings;
use crate::manifest::Manifest;
use groups::GroupQuery;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One partition of a consumer group's topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Low watermark: the oldest offset still in the partition.
    pub low: i64,
    /// High watermark: the offset the next message will get.
    pub high: i64,
    /// The group's committed offset (the next message it will read); `None`: never committed.
    pub committed: Option<i64>,
    /// `high - committed`, or `high - low` when nothing is committed (see [`partition_lag`]).
    pub lag: i64,
    /// Client id of the member the partition is assigned to, when the group could be
    /// described and someone has it.
    pub member: Option<String>,
    /// The member's host as the broker saw it.
    pub member_host: Option<String>,
    /// The instance (`name:N`) the member's client id names (`<hostname>-<name>-<N>`).
    pub instance: Option<String>,
    /// The host name in the member's client id.
    pub hostname: Option<String>,
}

/// A member of a consumer group, as the group coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `client.id`: a worker's is `<hostname>-<name>-<N>`.
    pub client_id: String,
    /// Where it connects from, as the broker saw it.
    pub host: String,
    /// Its assigned partitions.
    pub partitions: Vec<(String, i32)>,
}

/// The members of a group, or why they are not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group's state (`Stable`, `Empty`, ...).
    pub state: String,
    /// Its members.
    pub members: Vec<Member>,
}

/// One consumer group's lag, partition by partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupLag {
    /// The consumer's name in the manifest.
    pub consumer: String,
    /// Its group, `<app>-<name>`.
    pub group: String,
    /// Every partition of its topics, by topic then partition.
    pub partitions: Vec<PartitionLag>,
    /// Sum of the partitions' lag (what `check --lag-*` judges).
    pub total_lag: i64,
    /// Largest lag of one partition.
    pub max_partition_lag: i64,
    /// The group's state, when it could be described.
    pub state: Option<String>,
    /// Why the members are not shown (`-`), when the group could not be described.
    pub members_unknown: Option<String>,
}

/// The lag of a partition: how many messages the group has yet to read. With a committed
/// offset that is `high - committed`; with none, the group will start wherever
/// `auto.offset.reset` says, and the whole partition counts: `high - low`. Never negative.
pub fn partition_lag(low: i64, high: i64, committed: Option<i64>) -> i64 {
    match committed {
        Some(offset) if offset >= 0 => (high - offset).max(0),
        _ => (high - low).max(0),
    }
}

/// Splits a worker's client id `<hostname>-<name>-<N>` for consumer `name` into the host
/// name and the instance number; `None` when it is not one of `name`'s.
pub fn parse_client_id(client_id: &str, name: &str) -> Option<(String, u32)> {
    let (rest, index) = client_id.rsplit_once('-')?;
    let index: u32 = index.parse().ok().filter(|n| *n > 0)?;
    let hostname = rest.strip_suffix(name)?.strip_suffix('-')?;
    if hostname.is_empty() {
        return None;
    }
    Some((hostname.to_string(), index))
}

/// Puts one group's reading together: `watermarks` is `(topic, partition, low, high)` for
/// every partition, `committed` the group's committed offsets, `members` the group's
/// description or why there is none.
pub fn assemble(
    consumer: &str,
    group: &str,
    watermarks: &[(String, i32, i64, i64)],
    committed: &BTreeMap<(String, i32), i64>,
    members: Result<Membership, String>,
) -> GroupLag {
    let mut owner: BTreeMap<(&str, i32), &Member> = BTreeMap::new();
    if let Ok(membership) = &members {
        for member in &membership.members {
            for (topic, partition) in &member.partitions {
                owner.insert((topic.as_str(), *partition), member);
            }
        }
    }
    let mut partitions: Vec<PartitionLag> = watermarks
        .iter()
        .map(|(topic, partition, low, high)| {
            let committed = committed.get(&(topic.clone(), *partition)).copied();
            let member = owner.get(&(topic.as_str(), *partition));
            let parsed = member.and_then(|m| parse_client_id(&m.client_id, consumer));
            PartitionLag {
                topic: topic.clone(),
                partition: *partition,
                low: *low,
                high: *high,
                committed,
                lag: partition_lag(*low, *high, committed),
                member: member.map(|m| m.client_id.clone()),
                member_host: member.map(|m| m.host.clone()),
                instance: parsed
                    .as_ref()
                    .map(|(_, index)| format!("{consumer}:{index}")),
                hostname: parsed.map(|(hostname, _)| hostname),
            }
        })
        .collect();
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let (state, members_unknown) = match members {
        Ok(m) => (Some(m.state), None),
        Err(why) => (None, Some(why)),
    };
    GroupLag {
        consumer: consumer.to_string(),
        group: group.to_string(),
        total_lag: partitions.iter().map(|p| p.lag).sum(),
        max_partition_lag: partitions.iter().map(|p| p.lag).max().unwrap_or(0),
        partitions,
        state,
        members_unknown,
    }
}

/// An instance row of `status --lag`: the status and the partitions its member has.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceLag {
    /// The instance's status.
    #[serde(flatten)]
    pub status: StatusRow,
    /// Its consumer group.
    pub group: Option<String>,
    /// The partitions assigned to it.
    pub partitions: Vec<PartitionLag>,
    /// Their total lag; `None` when its group's members are unknown.
    pub lag: Option<i64>,
}

/// Joins every instance row with the partitions assigned to it: a partition belongs to the
/// row whose consumer, instance number and host its member's client id names.
pub fn join(rows: &[StatusRow], groups: &[GroupLag], local_hostname: &str) -> Vec<InstanceLag> {
    rows.iter()
        .map(|row| {
            let (name, index) = row.instance.rsplit_once(':').unwrap_or((&row.instance, ""));
            let group = groups.iter().find(|g| g.consumer == name);
            let partitions: Vec<PartitionLag> = group
                .map(|g| {
                    g.partitions
                        .iter()
                        .filter(|p| {
                            p.instance.as_deref() == Some(&format!("{name}:{index}"))
                                && p.hostname
                                    .as_deref()
                                    .is_some_and(|h| row.target.is_named(h, local_hostname))
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            InstanceLag {
                status: row.clone(),
                group: group.map(|g| g.group.clone()),
                lag: group
                    .filter(|g| g.members_unknown.is_none())
                    .map(|_| partitions.iter().map(|p| p.lag).sum()),
                partitions,
            }
        })
        .collect()
}

/// The groups to read: every consumer of the manifest with topics (or only `-c NAME`), from
/// `--brokers`/`KAFKACTL_BROKERS`, else the manifest's `brokers:`.
pub(crate) fn group_queries(
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

/// Pairs each group name with its reading: the groups read, and why the others were not.
pub(crate) fn split_readings(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_commit_or_the_whole_partition() {
        assert_eq!(partition_lag(0, 10, Some(4)), 6);
        assert_eq!(partition_lag(0, 10, Some(10)), 0);
        assert_eq!(partition_lag(3, 20, None), 17);
        // A commit past the end (a recreated topic) is not negative lag.
        assert_eq!(partition_lag(0, 5, Some(9)), 0);
        assert_eq!(partition_lag(2, 5, Some(-1001)), 3);
    }

    #[test]
    fn client_ids_name_host_and_instance() {
        assert_eq!(
            parse_client_id("server1-price_drops-2", "price_drops"),
            Some(("server1".into(), 2))
        );
        assert_eq!(
            parse_client_id("web-1.example.com-orders-12", "orders"),
            Some(("web-1.example.com".into(), 12))
        );
        assert_eq!(parse_client_id("server1-orders-2", "price_drops"), None);
        assert_eq!(parse_client_id("server1xorders-2", "orders"), None);
        assert_eq!(parse_client_id("-orders-2", "orders"), None);
        assert_eq!(parse_client_id("rdkafka", "orders"), None);
        assert_eq!(parse_client_id("h-orders-0", "orders"), None);
    }

    fn marks() -> Vec<(String, i32, i64, i64)> {
        vec![
            ("t".into(), 1, 0, 20),
            ("t".into(), 0, 0, 10),
            ("u".into(), 0, 5, 7),
        ]
    }

    #[test]
    fn a_group_is_assembled_with_members_and_totals() {
        let committed = BTreeMap::from([(("t".to_string(), 0), 4), (("u".to_string(), 0), 7)]);
        let members = Membership {
            state: "Stable".into(),
            members: vec![Member {
                client_id: "server1-orders-1".into(),
                host: "/10.0.0.5".into(),
                partitions: vec![("t".into(), 0), ("u".into(), 0)],
            }],
        };
        let g = assemble("orders", "app-orders", &marks(), &committed, Ok(members));
        assert_eq!(g.total_lag, 6 + 20);
        assert_eq!(g.max_partition_lag, 20);
        assert_eq!(g.state.as_deref(), Some("Stable"));
        let p: Vec<(String, i32, i64)> = g
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition, p.lag))
            .collect();
        assert_eq!(
            p,
            [("t".into(), 0, 6), ("t".into(), 1, 20), ("u".into(), 0, 0)]
        );
        assert_eq!(g.partitions[0].instance.as_deref(), Some("orders:1"));
        assert_eq!(g.partitions[0].hostname.as_deref(), Some("server1"));
        assert_eq!(g.partitions[1].member, None);
        assert_eq!(g.partitions[1].committed, None);
    }

    #[test]
    fn unknown_members_are_said_so() {
        let g = assemble(
            "orders",
            "app-orders",
            &marks(),
            &BTreeMap::new(),
            Err("not supported".into()),
        );
        assert_eq!(g.members_unknown.as_deref(), Some("not supported"));
        assert!(g.partitions.iter().all(|p| p.member.is_none()));
        assert_eq!(g.total_lag, 10 + 20 + 2);
    }

    fn row(host: &str, instance: &str) -> StatusRow {
        let target = if host == "localhost" {
            crate::target::Target::Local
        } else {
            crate::target::Target::Ssh(crate::manifest::Host::parse(host).unwrap())
        };
        StatusRow {
            host: target.label(),
            target,
            unit: format!("kafka-consumer@{instance}.service"),
            instance: instance.into(),
            active_state: "active".into(),
            sub_state: "running".into(),
            main_pid: None,
            memory_bytes: None,
            cpu_nsec: None,
            restarts: Some(0),
            active_since_usec: None,
            status_text: None,
            result: None,
            error: None,
        }
    }

    #[test]
    fn rows_are_joined_with_their_partitions() {
        let members = Membership {
            state: "Stable".into(),
            members: vec![
                Member {
                    client_id: "me-orders-1".into(),
                    host: "/127.0.0.1".into(),
                    partitions: vec![("t".into(), 0)],
                },
                Member {
                    client_id: "me-orders-2".into(),
                    host: "/127.0.0.1".into(),
                    partitions: vec![("t".into(), 1), ("u".into(), 0)],
                },
            ],
        };
        let committed = BTreeMap::from([(("t".to_string(), 0), 4)]);
        let groups = [assemble(
            "orders",
            "app-orders",
            &marks(),
            &committed,
            Ok(members),
        )];
        let rows = [
            row("localhost", "orders:1"),
            row("localhost", "orders:2"),
            row("localhost", "other:1"),
        ];
        let joined = join(&rows, &groups, "me");
        assert_eq!(joined[0].partitions.len(), 1);
        assert_eq!(joined[0].lag, Some(6));
        assert_eq!(joined[1].partitions.len(), 2);
        assert_eq!(joined[1].lag, Some(20 + 2));
        assert_eq!(joined[2].group, None);
        assert_eq!(joined[2].lag, None);
        // On another machine the same client ids are not this host's.
        let elsewhere = join(&rows, &groups, "other-host");
        assert!(elsewhere[0].partitions.is_empty());
        assert_eq!(elsewhere[0].lag, Some(0));
    }
}
