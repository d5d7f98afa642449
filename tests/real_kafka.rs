//! What only Apache Kafka itself can show (scripts/kafka.sh starts a KRaft node per test):
//! producing to a topic that does not exist (auto-creation off, as in production), and the
//! duplicates a consumer group sees when members join mid-drain under each group protocol —
//! the mock refuses commits during a classic rebalance, real Kafka accepts them.

use crate::common;

use common::group_drain::drain_with_members_joining;
use common::kafka::Kafka;
use common::{error_text, stats, Proxy};
use kafkactl::testing::Frame;

/// Writes a Rafka config file and returns its path.
fn rafka_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("rafka.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn rpushx_to_a_missing_topic_counts_the_failed_delivery_then_fails_fast() {
    let kafka = Kafka::start(1);
    kafka.create_topics(&[("present", 1)]);
    let dir = tempfile::tempdir().unwrap();
    // librdkafka waits topic.metadata.propagation.max.ms (30 s by default) for a topic that
    // was just created elsewhere before it calls it missing; 2 s keeps this test short.
    let config = rafka_config(
        &dir,
        r#"{"general": {}, "consumer": {},
            "producer": {"topic.metadata.propagation.max.ms": 2000}}"#,
    );
    let proxy = Proxy::start_with_config(&kafka.bootstrap, Some(&config), &[]);
    let mut raw = proxy.raw();

    // Queued at first: the producer does not know yet that the topic is missing.
    assert_eq!(raw.cmd("RPUSHX topics:missing first"), Frame::Integer(1));
    // DUMP waits until the delivery is settled: failed, so nothing is left unflushed.
    assert_eq!(raw.cmd("DUMP 20000"), Frame::Integer(0));
    let s = stats(&mut raw);
    assert_eq!(s["producer.delivery.errors"], 1, "{s:?}");
    assert_eq!(s["producer.messages.delivered"], 0, "{s:?}");
    assert_eq!(s["producer.unflushed.messages"], 0, "{s:?}");

    // Now librdkafka knows: the next RPUSHX is refused at once with a PROD error.
    let err = error_text(raw.cmd("RPUSHX topics:missing second"));
    assert!(err.starts_with("PROD "), "{err}");
    assert!(err.contains("Unknown topic"), "{err}");

    // The connection goes on, and a topic that exists is produced to normally.
    assert_eq!(raw.cmd("PING"), Frame::Simple("PONG".into()));
    assert_eq!(raw.cmd("RPUSHX topics:present ok"), Frame::Integer(1));
    assert_eq!(raw.cmd("DUMP 20000"), Frame::Integer(0));
    let s = stats(&mut raw);
    assert_eq!(s["producer.messages.delivered"], 1, "{s:?}");
    assert_eq!(s["producer.delivery.errors"], 1, "{s:?}");
}

/// Drains an 8-partition topic through a proxy whose consumers use `consumer_section`,
/// with members joining mid-drain (common::group_drain), and checks the duplicates.
fn assert_at_most_one_percent(protocol: &str, consumer_section: &str) {
    let kafka = Kafka::start(1);
    kafka.create_topics(&[("reb", 8)]);
    let dir = tempfile::tempdir().unwrap();
    let config = rafka_config(
        &dir,
        &format!(r#"{{"general": {{}}, "consumer": {consumer_section}, "producer": {{}}}}"#),
    );
    let proxy = Proxy::start_with_config(&kafka.bootstrap, Some(&config), &[]);
    drain_with_members_joining(&proxy, "reb").assert_at_most_one_percent(protocol);
}

#[test]
fn classic_group_members_joining_mid_drain_redeliver_at_most_one_percent() {
    // Rafka's own config shape: the classic protocol with librdkafka's default (eager)
    // assignors, short sessions.
    assert_at_most_one_percent(
        "classic",
        r#"{"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
            "enable.auto.commit": true, "enable.auto.offset.store": false,
            "auto.offset.reset": "earliest"}"#,
    );
}

#[test]
fn cooperative_sticky_members_joining_mid_drain_redeliver_at_most_one_percent() {
    assert_at_most_one_percent(
        "classic cooperative-sticky",
        r#"{"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "earliest"}"#,
    );
}

#[test]
fn kip848_group_members_joining_mid_drain_redeliver_at_most_one_percent() {
    assert_at_most_one_percent(
        "consumer (KIP-848)",
        r#"{"group.protocol": "consumer", "auto.offset.reset": "earliest"}"#,
    );
}
