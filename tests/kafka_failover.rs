//! Failover drills on a 3-node Apache Kafka cluster (KRaft, replication factor 3,
//! min.insync.replicas 2; tests/common/kafka.rs), with the proxy's producer at acks=all:
//!
//! - a partition leader is killed with SIGKILL while RPUSHX load runs through the proxy:
//!   every message a `DUMP` confirmed is in the topic afterwards, and the proxy keeps serving
//!   without a restart;
//! - the consumer group's coordinator is killed while two `kafkactl worker`s (Python drill
//!   handlers) consume: every message is handled, duplicates are bounded;
//! - all three brokers are down for about 20 s: the proxy and the workers recover by
//!   themselves (RPUSHX queued during the outage is delivered after it, the same BLPOP
//!   connection gets messages again, the workers handle new ones), and `kafkactl check` says
//!   CRITICAL/UNKNOWN while down and OK after.
//!
//! Each test starts its own cluster, one drill at a time (a file lock). What each drill
//! measured is printed (run with `--nocapture`). The outage drill runs `kafkactl --user
//! check`, which reads the instances of this host's systemd user manager: start it first
//! (`scripts/systemd-user.sh start`, then `eval "$(bash scripts/systemd-user.sh env)"`), as
//! for tests/lag_check.rs.

use crate::common;

use common::kafka::Kafka;
use common::{
    kafkactl, produce_direct, run_to_end, stats, values, wait_for, Msg, Proc, Proxy, Raw,
};
use kafkactl::testing::Frame;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(180);

/// Serialises these drills, across test threads and nextest's processes: each runs three
/// brokers, and two clusters at once would crowd a 2-core machine.
fn drill_lock() -> std::fs::File {
    common::lock("failover-drills")
}

/// The proxy config for these drills: examples/proxy.dev.json's consumer side, and a producer
/// made for acks=all: `acks=all` said explicitly (it is librdkafka's default) and idempotence,
/// so that the retries a leader change causes neither duplicate nor reorder messages.
/// librdkafka's default `message.timeout.ms` (5 min) outlasts every outage here.
fn write_proxy_config(dir: &Path) -> PathBuf {
    let path = dir.join("proxy.json");
    let config = serde_json::json!({
        "general": {"log.connection.close": false},
        "consumer": {
            "group.protocol": "consumer",
            "enable.auto.commit": true,
            "auto.commit.interval.ms": 1000,
            "enable.auto.offset.store": false,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": false
        },
        "producer": {
            "acks": "all",
            "enable.idempotence": true,
            "linger.ms": 5
        }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// Every value in `topic`, with how often it occurs, read directly with librdkafka (no group)
/// from the beginning of each partition up to its high watermark.
fn read_topic(bootstrap: &str, topic: &str) -> HashMap<String, usize> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "failover-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "{topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    let mut high = HashMap::new();
    let mut next = HashMap::new();
    for &p in &partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        let (low, hi) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .expect("watermarks");
        high.insert(p, hi);
        next.insert(p, low);
    }
    consumer.assign(&tpl).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let start = Instant::now();
    while partitions.iter().any(|p| next[p] < high[p]) {
        assert!(
            start.elapsed() < LONG,
            "reading {topic} back: at {next:?} of {high:?}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        // A node that is down makes librdkafka report its lost connection: not our data.
        let Ok(message) = message else {
            continue;
        };
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        *seen.entry(value).or_default() += 1;
        next.insert(message.partition(), message.offset() + 1);
    }
    seen
}

/// How many of `values` are in `seen`.
fn found(seen: &HashMap<String, usize>, values: &[String]) -> usize {
    values.iter().filter(|v| seen.contains_key(*v)).count()
}

/// Extra copies of any value in `seen`.
fn duplicates(seen: &HashMap<String, usize>) -> usize {
    seen.values().map(|n| n - 1).sum()
}

/// RPUSHXes `values` keyed by themselves (so they spread over partitions) on `raw`, pipelined.
/// Returns the values the proxy accepted (replied 1); the errors are printed.
fn rpushx(raw: &mut Raw, topic: &str, values: &[String]) -> Vec<String> {
    for v in values {
        raw.send(&[
            b"RPUSHX",
            format!("topics:{topic}:{v}").as_bytes(),
            v.as_bytes(),
        ]);
    }
    let mut accepted = Vec::new();
    for v in values {
        match raw.read() {
            Some(Frame::Integer(1)) => accepted.push(v.clone()),
            Some(Frame::Error(e)) => eprintln!("RPUSHX {v}: {e}"),
            other => panic!("RPUSHX {v}: {other:?}"),
        }
    }
    accepted
}

/// DUMPs on `raw` until it answers 0 (every message of this connection settled) or `limit`
/// passes; whether it reached 0.
fn dump_until_settled(raw: &mut Raw, limit: Duration) -> bool {
    dump_counting(raw, limit).0
}

/// [`dump_until_settled`], also saying how many DUMPs answered that messages were still
/// pending after their 5 s.
fn dump_counting(raw: &mut Raw, limit: Duration) -> (bool, usize) {
    let start = Instant::now();
    let mut pending = 0;
    loop {
        match raw.cmd("DUMP 5000") {
            Frame::Integer(0) => return (true, pending),
            Frame::Integer(_) if start.elapsed() < limit => pending += 1,
            Frame::Integer(_) => return (false, pending + 1),
            other => panic!("DUMP: {other:?}"),
        }
    }
}

/// What one producer connection of drill (a) did.
#[derive(Default)]
struct Load {
    sent: Vec<String>,
    confirmed: Vec<String>,
    rejected: usize,
    after_kill: Vec<String>,
    /// DUMPs that answered with messages still pending (the failover, seen by the client).
    slow_dumps: usize,
}

/// One producer connection: batches of RPUSHX, each followed by DUMP until 0 (which confirms
/// everything this connection sent so far). Runs until `after_kill` messages were sent after
/// `killed` was set (or `max` in all).
fn producer_load(
    addr: SocketAddr,
    topic: &str,
    conn: usize,
    killed: &AtomicBool,
    confirmed_total: &AtomicUsize,
    after_kill: usize,
    max: usize,
) -> Load {
    const BATCH: usize = 25;
    let mut raw = Raw::connect(addr);
    let mut load = Load::default();
    let mut unconfirmed = Vec::new();
    let mut i = 0;
    while i < max && load.after_kill.len() < after_kill {
        let was_killed = killed.load(Ordering::Acquire);
        let batch: Vec<String> = (i..i + BATCH).map(|k| format!("c{conn}-{k}")).collect();
        i += BATCH;
        let accepted = rpushx(&mut raw, topic, &batch);
        load.rejected += batch.len() - accepted.len();
        load.sent.extend(accepted.iter().cloned());
        if was_killed {
            load.after_kill.extend(accepted.iter().cloned());
        }
        unconfirmed.extend(accepted);
        let (settled, slow) = dump_counting(&mut raw, Duration::from_secs(90));
        load.slow_dumps += slow;
        if settled {
            confirmed_total.fetch_add(unconfirmed.len(), Ordering::AcqRel);
            load.confirmed.append(&mut unconfirmed);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    load
}

#[test]
fn a_killed_partition_leader_loses_no_confirmed_message() {
    let _lock = drill_lock();
    const TOPIC: &str = "orders";
    let kafka = Kafka::start(3);
    kafka.create_topics(&[(TOPIC, 3)]);
    let dir = tempfile::tempdir().unwrap();
    let proxy =
        Proxy::start_with_config(&kafka.bootstrap, Some(&write_proxy_config(dir.path())), &[]);

    let killed = AtomicBool::new(false);
    let confirmed_total = AtomicUsize::new(0);
    let (victim, loads, load_after_kill) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|conn| {
                let (killed, confirmed_total) = (&killed, &confirmed_total);
                let addr = proxy.addr;
                s.spawn(move || {
                    producer_load(addr, TOPIC, conn, killed, confirmed_total, 800, 4000)
                })
            })
            .collect();
        wait_for("1,500 confirmed before the kill", LONG, || {
            confirmed_total.load(Ordering::Acquire) >= 1500
        });
        let leader = kafka.leader_of(TOPIC, 0);
        kafka.kill_node(leader);
        killed.store(true, Ordering::Release);
        let killed_at = Instant::now();
        let loads: Vec<Load> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (leader, loads, killed_at.elapsed())
    });

    // The proxy keeps serving without a restart: a new connection's messages are delivered.
    let fresh = values("after", 200);
    let mut raw = proxy.raw();
    let accepted = rpushx(&mut raw, TOPIC, &fresh);
    assert_eq!(accepted.len(), fresh.len(), "RPUSHX after the failover");
    assert!(
        dump_until_settled(&mut raw, Duration::from_secs(90)),
        "DUMP never reached 0 after the failover:\n{}",
        proxy.proc.log_text()
    );
    let delivery_errors = stats(&mut raw)["producer.delivery.errors"];

    let seen = read_topic(&kafka.bootstrap, TOPIC);
    let sent: Vec<String> = loads.iter().flat_map(|l| l.sent.clone()).collect();
    let confirmed: Vec<String> = loads.iter().flat_map(|l| l.confirmed.clone()).collect();
    let after_kill: Vec<String> = loads.iter().flat_map(|l| l.after_kill.clone()).collect();
    let rejected: usize = loads.iter().map(|l| l.rejected).sum();
    let slow_dumps: usize = loads.iter().map(|l| l.slow_dumps).sum();
    let found_confirmed = found(&seen, &confirmed);
    let dups = duplicates(&seen);
    eprintln!(
        "leader kill drill (node {victim}, leader of {TOPIC}/0): sent {}, rejected {rejected}, \
         confirmed {}, found {found_confirmed} of the confirmed ({} of all sent), duplicates \
         {dups}; sent after the kill {} (found {}), fresh connection {} (found {}); \
         producer.delivery.errors {delivery_errors}; DUMP 5000 answers still pending: \
         {slow_dumps}; the load ran {load_after_kill:.1?} after the kill",
        sent.len(),
        confirmed.len(),
        found(&seen, &sent),
        after_kill.len(),
        found(&seen, &after_kill),
        fresh.len(),
        found(&seen, &fresh),
    );
    let missing: Vec<&String> = confirmed
        .iter()
        .filter(|v| !seen.contains_key(*v))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "confirmed but lost: {missing:?} ...");
    assert_eq!(confirmed.len(), sent.len(), "every batch was confirmed");
    assert!(after_kill.len() >= 3 * 800, "load ran on after the kill");
    assert_eq!(found(&seen, &after_kill), after_kill.len());
    assert_eq!(found(&seen, &fresh), fresh.len());
    assert_eq!(delivery_errors, 0, "{}", proxy.proc.log_text());
    assert_eq!(dups, 0, "the idempotent producer wrote duplicates");
}

/// tests/fixtures/drill_handler.py.
fn drill_handler() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drill_handler.py")
        .display()
        .to_string()
}

/// A manifest with one consumer of `topic` (group `failover-<name>`) and the handled log
/// its workers' handlers write.
struct Workers {
    dir: tempfile::TempDir,
    name: String,
}

impl Workers {
    fn new(bootstrap: &str, name: &str, topic: &str, delay_ms: &str) -> Workers {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            "app: failover\nbrokers: {bootstrap}\nconsumers:\n  - name: {name}\n    topic: {topic}\n    \
             command: [python3, {}]\n    env:\n      DRILL_DELAY_MS: \"{delay_ms}\"\n    \
             kafka:\n      group.protocol: consumer\n",
            drill_handler()
        );
        std::fs::write(dir.path().join("kafka_consumers.yml"), manifest).unwrap();
        Workers {
            dir,
            name: name.to_string(),
        }
    }

    fn manifest(&self) -> PathBuf {
        self.dir.path().join("kafka_consumers.yml")
    }

    fn group(&self) -> String {
        format!("failover-{}", self.name)
    }

    /// Starts `kafkactl worker NAME:n`.
    fn start(&self, n: usize) -> Proc {
        common::spawn_worker(
            &self.manifest(),
            &format!("{}:{n}", self.name),
            &[],
            self.dir.path(),
            self.dir.path().join(format!("worker-{n}.log")),
        )
    }

    /// The `topic partition offset` lines the handlers wrote.
    fn handled(&self) -> Vec<String> {
        common::lines_of(&self.dir.path().join("handled.log"))
    }

    fn handled_unique(&self) -> usize {
        self.handled().into_iter().collect::<BTreeSet<_>>().len()
    }
}

/// Stops every worker with SIGTERM, asserting that each was still running and exits 0.
fn stop_workers(procs: &mut [Proc]) {
    for proc in procs.iter_mut() {
        assert!(
            proc.child.try_wait().unwrap().is_none(),
            "a worker exited:\n{}",
            proc.log_text()
        );
        let status = proc.signal_and_wait(libc::SIGTERM, LONG);
        assert!(status.success(), "{status}:\n{}", proc.log_text());
    }
}

/// How many WARN/ERROR lines a worker logged, and the first of them.
fn warnings(proc: &Proc) -> (usize, String) {
    let log = proc.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    (
        lines.len(),
        lines.first().map_or(String::new(), |l| l.to_string()),
    )
}

/// Java's `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The node coordinating `group`: the leader of its `__consumer_offsets` partition
/// (Kafka's `Utils.abs(groupId.hashCode()) % partitions`).
fn coordinator_of(kafka: &Kafka, group: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap)
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some("__consumer_offsets"), Duration::from_secs(10))
        .expect("metadata");
    let partitions = md.topics()[0].partitions().len() as i32;
    assert!(partitions > 0, "no __consumer_offsets yet");
    let hash = java_hash(group);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    kafka.leader_of("__consumer_offsets", abs % partitions)
}

#[test]
fn a_killed_group_coordinator_loses_no_message_for_a_worker_group() {
    let _lock = drill_lock();
    const TOPIC: &str = "jobs";
    const SENT: usize = 6000;
    let kafka = Kafka::start(3);
    kafka.create_topics(&[(TOPIC, 4)]);
    let workers = Workers::new(&kafka.bootstrap, "jobs", TOPIC, "1");
    produce_direct(&kafka.bootstrap, TOPIC, &values("j", SENT));
    let mut procs = [workers.start(1), workers.start(2)];
    wait_for("1,500 handled before the kill", LONG, || {
        workers.handled().len() >= 1500
    });
    let victim = coordinator_of(&kafka, &workers.group());
    let led: Vec<i32> = (0..4)
        .filter(|&p| kafka.leader_of(TOPIC, p) == victim)
        .collect();
    let before = workers.handled().len();
    kafka.kill_node(victim);
    wait_for("every message handled", LONG, || {
        workers.handled_unique() == SENT
    });
    for (n, proc) in procs.iter().enumerate() {
        let (count, first) = warnings(proc);
        eprintln!("worker {}: {count} warnings, first: {first}", n + 1);
    }
    // Stop cleanly before counting: anything on its way would be a duplicate.
    stop_workers(&mut procs);
    let lines = workers.handled().len();
    let unique = workers.handled_unique();
    let dups = lines - unique;
    eprintln!(
        "coordinator kill drill (node {victim}, also leader of {TOPIC} partitions {led:?}; \
         killed at {before} handled): sent {SENT}, confirmed {SENT} (direct producer flushed), \
         handled {lines}, found {unique} unique, duplicates {dups}"
    );
    assert_eq!(unique, SENT);
    // librdkafka keeps the offsets the workers stored while no coordinator could take
    // commits and commits them to the new one: measured 0 duplicates. Only a member fenced
    // meanwhile (its session lapsing on a starved machine) loses them and redelivers what it
    // handled since its last commit; a quarter of the topic is far beyond that here.
    assert!(dups <= SENT / 4, "{dups} duplicates");
}

/// Runs `kafkactl --user -f MANIFEST check -c NAME` with lag thresholds (any lag is a
/// WARNING, so OK says the group committed all it was sent); its exit code and output line.
fn check(workers: &Workers) -> (Option<i32>, String) {
    let mut cmd = Command::new(kafkactl());
    cmd.arg("--user")
        .arg("-f")
        .arg(workers.manifest())
        .args([
            "check",
            "-c",
            &workers.name,
            "--lag-warning",
            "0",
            "--lag-critical",
            "1000",
            "--kafka-timeout",
            "3",
            // The drill's workers run outside systemd, so the instances the manifest wants
            // are never loaded units: only the lag is judged here.
            "--missing-warning",
            "100",
            "--missing-critical",
            "100",
        ])
        .env("NO_COLOR", "1")
        .env_remove("KAFKACTL_BROKERS");
    let (status, out) = run_to_end(cmd, "kafkactl check", Duration::from_secs(60));
    (status.and_then(|s| s.code()), out)
}

/// BLPOPs on `raw` (acking each message) until every one of `want` was seen or `limit`
/// passes; every value received, in order, and the error replies met on the way.
fn blpop_until(
    raw: &mut Raw,
    key: &str,
    want: &[String],
    limit: Duration,
) -> (Vec<String>, Vec<String>) {
    let mut got = Vec::new();
    let mut errors = Vec::new();
    let mut missing: BTreeSet<&String> = want.iter().collect();
    let start = Instant::now();
    while !missing.is_empty() {
        assert!(
            start.elapsed() < limit,
            "BLPOP: {} of {} never came",
            missing.len(),
            want.len()
        );
        raw.send(&[b"BLPOP", key.as_bytes(), b"5"]);
        let frame = raw.read().expect("BLPOP reply");
        if let Frame::Error(e) = frame {
            errors.push(e);
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let Some(msg) = Msg::from_frame(frame) else {
            continue;
        };
        let value = String::from_utf8(msg.value.clone()).unwrap();
        assert_eq!(
            raw.cmd(&format!("RPUSH acks {}", msg.ack())),
            Frame::Integer(1)
        );
        missing.remove(&value);
        got.push(value);
    }
    (got, errors)
}

#[test]
fn the_proxy_and_workers_recover_from_a_whole_cluster_outage() {
    let _lock = drill_lock();
    const EVENTS: &str = "events";
    const JOBS: &str = "jobs";
    let kafka = Kafka::start(3);
    kafka.create_topics(&[(EVENTS, 3), (JOBS, 3)]);
    let dir = tempfile::tempdir().unwrap();
    let proxy =
        Proxy::start_with_config(&kafka.bootstrap, Some(&write_proxy_config(dir.path())), &[]);
    let workers = Workers::new(&kafka.bootstrap, "outage", JOBS, "0");
    let mut procs = [workers.start(1), workers.start(2)];

    // Before: the proxy produces and consumes, the workers handle, the check is OK.
    let key = format!("topics:{EVENTS}");
    let mut reader = common::consumer(&proxy, "outage-readers:reader");
    let before = values("before", 100);
    let mut producer = proxy.raw();
    assert_eq!(rpushx(&mut producer, EVENTS, &before).len(), before.len());
    assert!(dump_until_settled(&mut producer, Duration::from_secs(60)));
    let (mut got, errors) = blpop_until(&mut reader, &key, &before, LONG);
    assert!(errors.is_empty(), "BLPOP before the outage: {errors:?}");
    produce_direct(&kafka.bootstrap, JOBS, &values("jb", 300));
    wait_for("300 jobs handled", LONG, || workers.handled_unique() == 300);
    let mut last = (None, String::new());
    wait_for("check OK before the outage", LONG, || {
        last = check(&workers);
        last.0 == Some(0)
    });

    // All three brokers down.
    let down_at = Instant::now();
    for n in 1..=3 {
        kafka.kill_node(n);
    }
    let during = values("during", 50);
    let mut queued = proxy.raw();
    assert_eq!(
        rpushx(&mut queued, EVENTS, &during).len(),
        during.len(),
        "RPUSHX queues while the cluster is down"
    );
    let undelivered = match queued.cmd("DUMP 100") {
        Frame::Integer(n) => n,
        other => panic!("DUMP: {other:?}"),
    };
    let down_check = check(&workers);
    assert!(
        matches!(down_check.0, Some(2) | Some(3)),
        "check while the cluster is down: {down_check:?}"
    );
    eprintln!(
        "outage: DUMP 100 says {undelivered} undelivered; check says {:?}: {}",
        down_check.0,
        down_check.1.trim()
    );
    assert!(
        undelivered > 0,
        "nothing can be delivered while all are down"
    );
    let outage = Duration::from_secs(20);
    std::thread::sleep(outage.saturating_sub(down_at.elapsed()));
    // A controller quorum needs two of three voters: the nodes must come up together.
    std::thread::scope(|s| {
        for n in 1..=3 {
            let kafka = &kafka;
            s.spawn(move || kafka.start_node(n));
        }
    });
    let outage_took = down_at.elapsed();
    kafka.wait_for_leaders(&[EVENTS, JOBS]);

    // After: the messages queued during the outage are delivered, new ones too, and the same
    // consumer connection gets them all; the workers handle new jobs; the check is OK.
    assert!(
        dump_until_settled(&mut queued, LONG),
        "the messages queued during the outage were never delivered:\n{}",
        proxy.proc.log_text()
    );
    let after = values("after", 100);
    let mut fresh = proxy.raw();
    assert_eq!(rpushx(&mut fresh, EVENTS, &after).len(), after.len());
    assert!(dump_until_settled(&mut fresh, LONG));
    let wanted: Vec<String> = during.iter().chain(&after).cloned().collect();
    let (more, errors) = blpop_until(&mut reader, &key, &wanted, LONG);
    got.extend(more);
    let delivery_errors = stats(&mut fresh)["producer.delivery.errors"];

    produce_direct(&kafka.bootstrap, JOBS, &values("ja", 300));
    wait_for("600 jobs handled", LONG, || workers.handled_unique() == 600);
    wait_for("check OK after the outage", LONG, || {
        last = check(&workers);
        last.0 == Some(0)
    });
    stop_workers(&mut procs);

    let seen = read_topic(&kafka.bootstrap, EVENTS);
    let sent: Vec<String> = before.iter().chain(&wanted).cloned().collect();
    let consumed: BTreeSet<&String> = got.iter().collect();
    let lines = workers.handled().len();
    eprintln!(
        "outage drill (20 s with no broker, all serving again {:.0?} after the kill): proxy sent {}, confirmed {} (DUMP 0), found {} in the \
         topic, duplicates in the topic {}, consumed through BLPOP {} ({} unique); \
         producer.delivery.errors {delivery_errors}; workers: sent 600, handled {lines}, \
         unique {}, duplicates {}; BLPOP errors after the outage {errors:?}; check after: {}",
        outage_took,
        sent.len(),
        sent.len(),
        found(&seen, &sent),
        duplicates(&seen),
        got.len(),
        consumed.len(),
        workers.handled_unique(),
        lines - workers.handled_unique(),
        last.1.trim()
    );
    assert_eq!(found(&seen, &sent), sent.len());
    assert_eq!(delivery_errors, 0);
    // Rafka logs a broker transport failure as transient instead of failing the BLPOP: a
    // connection librdkafka lost during the outage is no error for the client after it.
    assert!(
        !errors.iter().any(|e| e.contains("BrokerTransportFailure")),
        "BLPOP after the outage: {errors:?}"
    );
    assert!(
        last.1.starts_with("KAFKACTL OK - "),
        "check after: {}",
        last.1
    );
}
