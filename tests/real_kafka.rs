//! What only Apache Kafka itself can show (scripts/kafka.sh starts a KRaft node per test):
//! producing to a topic that does not exist (auto-creation off, as in production), and the
//! duplicates a consumer group sees when members join mid-drain under each group protocol —
//! the mock refuses commits during a classic rebalance, real Kafka accepts them.

use crate::common;

use common::kafka::Kafka;
use common::{blpop, error_text, produce_spread, values, Proxy, Raw};
use kafkactl::resp::frame::Frame;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// HGETALL stats as a map.
fn stats(raw: &mut Raw) -> HashMap<String, i64> {
    let Frame::Array(items) = raw.cmd("HGETALL stats") else {
        panic!("HGETALL stats is not an array")
    };
    items
        .chunks(2)
        .map(|kv| match (&kv[0], &kv[1]) {
            (Frame::Bulk(k), Frame::Bulk(v)) => (
                String::from_utf8_lossy(k).to_string(),
                String::from_utf8_lossy(v).parse().unwrap(),
            ),
            other => panic!("{other:?}"),
        })
        .collect()
}

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

/// What a drain saw.
struct Drain {
    /// Messages handed out, duplicates included.
    consumed: usize,
    /// Distinct (partition, offset) pairs.
    unique: usize,
    /// Messages per member.
    per_member: Vec<usize>,
    /// Partitions whose messages went to more than one member: handed over mid-drain.
    handed_over: usize,
}

/// Four rafka-style consumers of one group join 1.5 s apart while draining `total` messages
/// from an 8-partition topic, acking each message.
fn drain_with_members_joining(consumer_section: &str, total: usize) -> Drain {
    let kafka = Kafka::start(1);
    kafka.create_topics(&[("reb", 8)]);
    let dir = tempfile::tempdir().unwrap();
    let config = rafka_config(
        &dir,
        &format!(r#"{{"general": {{}}, "consumer": {consumer_section}, "producer": {{}}}}"#),
    );
    let proxy = Proxy::start_with_config(&kafka.bootstrap, Some(&config), &[]);
    produce_spread(&proxy, "reb", &values("r", total));

    let consumed = Arc::new(Mutex::new(Vec::<(usize, i64, i64)>::new()));
    // Members 1-3 join 1.5 s apart once member 0 is consuming (a fresh cluster creates its
    // offsets topic at the first join, which takes a moment), so every join is mid-drain.
    let draining = Arc::new(std::sync::Barrier::new(4));
    let addr = proxy.addr;
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let consumed = consumed.clone();
            let draining = draining.clone();
            std::thread::spawn(move || {
                if k > 0 {
                    draining.wait();
                    std::thread::sleep(Duration::from_millis(1500 * k as u64));
                }
                let mut c = Raw::connect(addr);
                assert_eq!(
                    c.cmd(&format!("CLIENT SETNAME reb:c{k}")),
                    Frame::bulk_str("OK")
                );
                let mut empty = 0;
                let start = Instant::now();
                let mut first = k == 0;
                // Done after 5 empty seconds in a row (all drained, or nothing assigned).
                while (empty < 5 || first) && start.elapsed() < Duration::from_secs(120) {
                    match blpop(&mut c, "topics:reb", 1) {
                        Some(m) => {
                            empty = 0;
                            if first {
                                first = false;
                                draining.wait();
                            }
                            assert_eq!(
                                c.cmd(&format!("RPUSH acks {}", m.ack())),
                                Frame::Integer(1)
                            );
                            consumed.lock().unwrap().push((k, m.partition, m.offset));
                            // An app's work per message: the drain outlasts every join.
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        None => {
                            empty += 1;
                            if first && start.elapsed() > Duration::from_secs(60) {
                                draining.wait(); // let the others finish rather than hang
                                panic!("the first member got nothing in 60 s");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let consumed = consumed.lock().unwrap();
    let unique: HashSet<(i64, i64)> = consumed.iter().map(|(_, p, o)| (*p, *o)).collect();
    let mut per_member = vec![0; 4];
    let mut owners: HashMap<i64, HashSet<usize>> = HashMap::new();
    for (k, p, _) in consumed.iter() {
        per_member[*k] += 1;
        owners.entry(*p).or_default().insert(*k);
    }
    Drain {
        consumed: consumed.len(),
        unique: unique.len(),
        per_member,
        handed_over: owners.values().filter(|o| o.len() > 1).count(),
    }
}

/// Asserts every message arrived, every member took part (so partitions really moved while
/// the drain ran), and at most 1 % came twice; prints the figures.
fn assert_at_most_one_percent(protocol: &str, consumer_section: &str) {
    let total = 12_000;
    let drain = drain_with_members_joining(consumer_section, total);
    let duplicates = drain.consumed - drain.unique;
    println!(
        "{protocol}: {total} sent, {} consumed, {duplicates} duplicates ({:.2} %), \
         per member {:?}, {} of 8 partitions handed over mid-drain",
        drain.consumed,
        duplicates as f64 * 100.0 / total as f64,
        drain.per_member,
        drain.handed_over,
    );
    assert_eq!(drain.unique, total, "every message at least once");
    assert!(
        drain.per_member.iter().all(|&n| n > 0),
        "a member got nothing: {:?}",
        drain.per_member
    );
    assert!(
        drain.handed_over > 0,
        "no partition moved between members while the drain ran"
    );
    assert!(
        duplicates * 100 <= total,
        "{protocol}: {duplicates} duplicates of {total} (more than 1 %)"
    );
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
