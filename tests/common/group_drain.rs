//! A consumer group drained through the proxy while its members join one after another:
//! the duplicates a rebalance causes, counted (tests/proxy_groups.rs on the test broker,
//! tests/real_kafka.rs under each group protocol on Apache Kafka).

use super::{blpop, produce_spread, values, Proxy, Raw};
use kafkactl::testing::Frame;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// Messages a drain produces.
pub const TOTAL: usize = 12_000;

/// What a drain saw.
pub struct Drain {
    /// Messages handed out, duplicates included.
    pub consumed: usize,
    /// Distinct (partition, offset) pairs.
    pub unique: usize,
    /// Messages per member.
    pub per_member: Vec<usize>,
    /// Partitions whose messages went to more than one member: handed over mid-drain.
    pub handed_over: usize,
}

/// Produces [`TOTAL`] keyed messages to `topic` (8 partitions, created by the caller), then
/// four rafka-style consumers of one group drain it, acking each message: member 0 first,
/// members 1-3 joining 1.5 s apart once member 0 is consuming (a fresh cluster creates its
/// offsets topic at the first join, which takes a moment), so every join is mid-drain.
pub fn drain_with_members_joining(proxy: &Proxy, topic: &str) -> Drain {
    produce_spread(proxy, topic, &values("r", TOTAL));
    let key = format!("topics:{topic}");
    let consumed = Arc::new(Mutex::new(Vec::<(usize, i64, i64)>::new()));
    let draining = Arc::new(Barrier::new(4));
    let addr = proxy.addr;
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let consumed = consumed.clone();
            let draining = draining.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                if k > 0 {
                    draining.wait();
                    std::thread::sleep(Duration::from_millis(1500 * k as u64));
                }
                let mut c = Raw::connect(addr);
                assert_eq!(
                    c.cmd(&format!("CLIENT SETNAME drain:c{k}")),
                    Frame::bulk_str("OK")
                );
                let mut empty = 0;
                let start = Instant::now();
                let mut first = k == 0;
                // Done after 5 empty seconds in a row (all drained, or nothing assigned).
                while (empty < 5 || first) && start.elapsed() < Duration::from_secs(120) {
                    match blpop(&mut c, &key, 1) {
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

impl Drain {
    /// Prints the figures, then asserts every message arrived, every member took part, some
    /// partition really moved between members while the drain ran, and at most 1 % came twice.
    pub fn assert_at_most_one_percent(&self, label: &str) {
        let duplicates = self.consumed - self.unique;
        println!(
            "{label}: {TOTAL} sent, {} consumed, {duplicates} duplicates ({:.2} %), \
             per member {:?}, {} of 8 partitions handed over mid-drain",
            self.consumed,
            duplicates as f64 * 100.0 / TOTAL as f64,
            self.per_member,
            self.handed_over,
        );
        assert_eq!(self.unique, TOTAL, "every message at least once");
        assert!(
            self.per_member.iter().all(|&n| n > 0),
            "a member got nothing: {:?}",
            self.per_member
        );
        assert!(
            self.handed_over > 0,
            "no partition moved between members while the drain ran"
        );
        assert!(
            duplicates * 100 <= TOTAL,
            "{label}: {duplicates} duplicates of {TOTAL} (more than 1 %)"
        );
    }
}
