//! `kafkactl worker` against the dev broker, with real handler processes (Python, on
//! examples/python/kafka_consumer.py): at-least-once across kill -9 and SIGTERM, batches and
//! several topics, metrics, handler crashes, dead letters, and handlers that break the
//! protocol. The handler's own log (KAFKACTL_HANDLED_LOG) says what was handled.
//!
//! The drills run with the default `batch.in_flight` (pipelined); the drain drills also run
//! with `in_flight: 1` (lockstep). `KAFKACTL_TEST_IN_FLIGHT=N` gives every drill's consumer
//! `batch.in_flight: N`, to run the whole suite at another window.

use crate::common;

use common::{produce_direct, wait_for, Broker, Proc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A scratch directory with a manifest for one consumer.
struct Setup {
    dir: tempfile::TempDir,
    broker: Broker,
}

impl Setup {
    fn new(topics: &[&str]) -> Setup {
        let mut args = Vec::new();
        for topic in topics {
            args.push("--topic");
            args.push(topic);
        }
        Setup {
            dir: tempfile::tempdir().unwrap(),
            broker: Broker::start(&args),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the manifest: `consumer` is the consumer's YAML entry (without the dash), given
    /// `batch.in_flight` from `KAFKACTL_TEST_IN_FLIGHT` when that is set.
    fn manifest(&self, consumer: &str) -> PathBuf {
        match std::env::var("KAFKACTL_TEST_IN_FLIGHT") {
            Ok(n) if !n.is_empty() => self.manifest_in_flight(consumer, n.parse().unwrap()),
            _ => self.write_manifest(consumer),
        }
    }

    /// [`Setup::manifest`] with `batch.in_flight: in_flight` in the consumer's entry.
    fn manifest_in_flight(&self, consumer: &str, in_flight: u32) -> PathBuf {
        let with = if consumer.contains("\nbatch:\n") {
            consumer.replace(
                "\nbatch:\n",
                &format!("\nbatch:\n  in_flight: {in_flight}\n"),
            )
        } else {
            format!("{consumer}\nbatch:\n  in_flight: {in_flight}\n")
        };
        self.write_manifest(&with)
    }

    fn write_manifest(&self, consumer: &str) -> PathBuf {
        let indented: String = consumer
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>();
        let text = format!(
            "app: drills\nbrokers: {}\nconsumers:\n  -\n{indented}",
            self.broker.bootstrap
        );
        let path = self.path("kafka_consumers.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn handled_log(&self) -> PathBuf {
        self.path("handled.log")
    }

    /// Starts `kafkactl worker instance` with the manifest.
    fn worker(&self, instance: &str, extra: &[&str]) -> Proc {
        common::spawn_worker(
            &self.path("kafka_consumers.yml"),
            instance,
            extra,
            self.dir.path(),
            self.path(&format!("worker-{}.log", uuid_ish())),
        )
    }

    /// `topic partition offset` lines the handler wrote.
    fn handled(&self) -> Vec<String> {
        common::lines_of(&self.handled_log())
    }

    fn handled_unique(&self) -> usize {
        self.handled().into_iter().collect::<BTreeSet<_>>().len()
    }
}

fn uuid_ish() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}", N.fetch_add(1, Ordering::Relaxed))
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn drill_command() -> String {
    format!("command: [python3, {}]", fixture("drill_handler.py"))
}

/// The dev broker's classic groups hold rebalances for a session timeout; the consumer
/// protocol (KIP-848) is what the dev setup uses.
const KAFKA: &str = "kafka:\n  group.protocol: consumer\n";

#[test]
fn messages_flow_in_batches_from_several_topics_with_metrics() {
    let setup = Setup::new(&["orders:4", "refunds:2"]);
    setup.manifest(&format!(
        "name: multi\ntopics: [orders, refunds]\n{}\nbatch:\n  max_size: 50\n  max_wait_ms: 200\n{KAFKA}",
        drill_command()
    ));
    let statsd = UdpSocket::bind("127.0.0.1:0").unwrap();
    statsd
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let metrics_base = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port() - 1;
        format!("127.0.0.1:{port}")
    };
    let mut worker = setup.worker(
        "multi:1",
        &[
            "--statsd",
            &statsd.local_addr().unwrap().to_string(),
            "--metrics-listen",
            &metrics_base,
        ],
    );
    produce_direct(&setup.broker.bootstrap, "orders", &values("o", 600));
    produce_direct(&setup.broker.bootstrap, "refunds", &values("r", 400));
    wait_for("1000 messages handled", LONG, || {
        setup.handled_unique() == 1000
    });
    let topics: BTreeSet<String> = setup
        .handled()
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(topics, BTreeSet::from(["orders".into(), "refunds".into()]));
    let batches: Vec<usize> = std::fs::read_to_string(setup.path("batches.log"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(
        batches.iter().all(|&n| (1..=50).contains(&n)),
        "{batches:?}"
    );
    assert!(
        batches.len() < 1000,
        "messages were batched: {} batches",
        batches.len()
    );

    // Prometheus text on base port + 1.
    let port: u16 = metrics_base
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap()
        + 1;
    let mut http = TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    http.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(
        page.contains("kafkactl_processed_total{consumer=\"multi\",instance=\"1\"} 1000\n"),
        "{page}"
    );

    // statsd: the processed counter's deltas add up.
    let mut processed = 0;
    let mut buf = [0u8; 65536];
    wait_for(
        "statsd counts 1000 processed",
        Duration::from_secs(20),
        || {
            if let Ok(n) = statsd.recv(&mut buf) {
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    if let Some(count) = line
                        .strip_prefix("kafkactl.multi.processed:")
                        .and_then(|rest| rest.strip_suffix("|c"))
                    {
                        processed += count.parse::<u64>().unwrap();
                    }
                }
            }
            processed == 1000
        },
    );

    let status = worker.signal_and_wait(libc::SIGTERM, LONG);
    assert!(status.success(), "{status}: {}", worker.log_text());
    assert!(worker.log_text().contains("1000 messages processed"));
}

/// Drains 10,000 messages, interrupting the worker with `signal` once 3,000 are handled, then
/// starts it again; `in_flight` is `batch.in_flight` (None: the default). Returns (handled
/// lines, unique messages).
fn interrupted_drain(
    setup: &Setup,
    signal: i32,
    in_flight: Option<u32>,
) -> (usize, usize, std::process::ExitStatus) {
    let consumer = format!(
        "name: drain\ntopic: drain\n{}\nenv:\n  DRILL_DELAY_MS: \"0.3\"\n{KAFKA}",
        drill_command()
    );
    match in_flight {
        Some(n) => setup.manifest_in_flight(&consumer, n),
        None => setup.manifest(&consumer),
    };
    produce_direct(&setup.broker.bootstrap, "drain", &values("d", 10_000));
    let mut first = setup.worker("drain:1", &[]);
    wait_for("3,000 handled", LONG, || setup.handled().len() >= 3_000);
    let status = first.signal_and_wait(signal, LONG);
    let before = setup.handled().len();
    assert!(before < 10_000, "interrupted mid-stream ({before})");
    let mut second = setup.worker("drain:1", &[]);
    wait_for("all 10,000 handled", LONG, || {
        setup.handled_unique() == 10_000
    });
    // Anything still on its way would be a duplicate: stop cleanly before counting.
    let stopped = second.signal_and_wait(libc::SIGTERM, LONG);
    assert!(stopped.success(), "{}", second.log_text());
    (setup.handled().len(), setup.handled_unique(), status)
}

#[test]
fn kill_9_mid_stream_handles_every_message_at_least_once() {
    kill_9_drill(None);
}

#[test]
fn kill_9_mid_stream_in_lockstep_handles_every_message_at_least_once() {
    kill_9_drill(Some(1));
}

fn kill_9_drill(in_flight: Option<u32>) {
    let setup = Setup::new(&["drain:4"]);
    let (lines, unique, status) = interrupted_drain(&setup, libc::SIGKILL, in_flight);
    assert!(!status.success());
    assert_eq!(unique, 10_000);
    let duplicates = lines - unique;
    eprintln!(
        "kill -9 drill: sent 10000, handled {lines}, unique {unique}, duplicates {duplicates}"
    );
    // Duplicates are what was handled since the last periodic commit (1 s).
    assert!(duplicates <= 2_500, "{duplicates} duplicates");
}

#[test]
fn sigterm_then_start_has_no_duplicates() {
    sigterm_drill(None);
}

#[test]
fn sigterm_in_lockstep_then_start_has_no_duplicates() {
    sigterm_drill(Some(1));
}

fn sigterm_drill(in_flight: Option<u32>) {
    let setup = Setup::new(&["drain:4"]);
    let (lines, unique, status) = interrupted_drain(&setup, libc::SIGTERM, in_flight);
    assert!(status.success(), "SIGTERM exits 0");
    assert_eq!(unique, 10_000);
    eprintln!("SIGTERM drill: sent 10000, handled {lines}, unique {unique}");
    assert_eq!(lines, 10_000, "no message handled twice");
}

#[test]
fn a_crashing_handler_is_restarted_and_its_batch_retried() {
    let setup = Setup::new(&["crashy:1"]);
    setup.manifest(&format!(
        "name: crashy\ntopic: crashy\n{}\nretry:\n  backoff_ms: 10\n{KAFKA}",
        drill_command()
    ));
    produce_direct(
        &setup.broker.bootstrap,
        "crashy",
        &["a".into(), "crash-once:x".into(), "c".into()],
    );
    let mut worker = setup.worker("crashy:1", &[]);
    wait_for("3 handled", LONG, || setup.handled_unique() == 3);
    assert_eq!(setup.handled().len(), 3, "the crashed batch was not acked");
    let status = worker.signal_and_wait(libc::SIGTERM, LONG);
    assert!(status.success());
    let log = worker.log_text();
    assert!(log.contains("the handler exited"), "{log}");
    assert!(log.contains("restarting the handler"), "{log}");
}

#[test]
fn a_handler_that_keeps_crashing_stops_the_instance() {
    let setup = Setup::new(&["doomed:1"]);
    setup.manifest(&format!(
        "name: doomed\ntopic: doomed\n{}\nretry:\n  max_attempts: 20\n  backoff_ms: 10\n{KAFKA}",
        drill_command()
    ));
    produce_direct(&setup.broker.bootstrap, "doomed", &["crash".into()]);
    let mut worker = setup.worker("doomed:1", &[]);
    let status = worker.wait_exit(LONG);
    assert_eq!(status.code(), Some(1), "{}", worker.log_text());
    let log = worker.log_text();
    assert!(log.contains("the handler failed 5 times in a row"), "{log}");
    assert!(setup.handled().is_empty());
}

/// Reads every message of `topic` with a fresh group.
fn read_topic(bootstrap: &str, topic: &str, n: usize) -> Vec<(String, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "dead-letter-reader")
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    while out.len() < n {
        assert!(
            start.elapsed() < LONG,
            "only {} of {n} in {topic}",
            out.len()
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let mut headers = BTreeMap::new();
        if let Some(hs) = message.headers() {
            for h in hs.iter() {
                headers.insert(
                    h.key.to_string(),
                    String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        out.push((value, headers));
    }
    out
}

#[test]
fn poison_messages_end_in_the_dead_letter_topic_with_headers() {
    let setup = Setup::new(&["payments:1", "payments.dlq:1"]);
    setup.manifest(&format!(
        "name: payments\ntopic: payments\n{}\nretry:\n  max_attempts: 2\n  backoff_ms: 20\n  on_exhausted: dead_letter\n  dead_letter_topic: payments.dlq\n{KAFKA}",
        drill_command()
    ));
    produce_direct(
        &setup.broker.bootstrap,
        "payments",
        &[
            "ok1".into(),
            "poison".into(),
            "permanent".into(),
            "ok2".into(),
        ],
    );
    let mut worker = setup.worker("payments:1", &[]);
    wait_for("the good messages handled", LONG, || {
        setup.handled_unique() == 2
    });
    let dead = read_topic(&setup.broker.bootstrap, "payments.dlq", 2);
    assert_eq!(dead[0].0, "poison");
    let h = &dead[0].1;
    assert!(
        h["kafkactl.error"].contains("poison pill at offset 1"),
        "{h:?}"
    );
    assert_eq!(h["kafkactl.attempts"], "2");
    assert_eq!(h["kafkactl.source.topic"], "payments");
    assert_eq!(h["kafkactl.source.partition"], "0");
    assert_eq!(h["kafkactl.source.offset"], "1");
    assert_eq!(h["kafkactl.group"], "drills-payments");
    assert_eq!(dead[1].0, "permanent");
    assert_eq!(dead[1].1["kafkactl.attempts"], "1", "retryable: false");
    assert!(worker.signal_and_wait(libc::SIGTERM, LONG).success());
    assert!(worker.log_text().contains("dead-lettered"));
}

#[test]
fn a_handler_that_breaks_the_protocol_is_rejected_and_nothing_is_acked() {
    let setup = Setup::new(&["strict:1"]);
    setup.manifest(&format!(
        "name: strict\ntopic: strict\ncommand: [python3, {}]\nretry:\n  max_attempts: 2\n  backoff_ms: 10\n{KAFKA}",
        fixture("bad_handler.py")
    ));
    produce_direct(
        &setup.broker.bootstrap,
        "strict",
        &["m0".into(), "garbage".into(), "m2".into()],
    );
    let mut worker = setup.worker("strict:1", &[]);
    let status = worker.wait_exit(LONG);
    let log = worker.log_text();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("handler broke the protocol") && log.contains("\"processed it, all good\""),
        "{log}"
    );
    assert!(log.contains("strict/0@1 failed 2 time(s)"), "{log}");
    assert!(log.contains("stopping without acking it"), "{log}");

    // The same group, now with a good handler: the rejected message comes again, the acked
    // one does not.
    setup.manifest(&format!(
        "name: strict\ntopic: strict\n{}\n{KAFKA}",
        drill_command()
    ));
    let mut again = setup.worker("strict:1", &[]);
    wait_for("the rest handled", LONG, || setup.handled_unique() == 2);
    assert!(again.signal_and_wait(libc::SIGTERM, LONG).success());
    assert_eq!(setup.handled(), ["strict 0 1", "strict 0 2"]);
}

#[test]
fn bad_arguments_and_unknown_consumers_exit_2_with_a_reason() {
    let setup = Setup::new(&[]);
    setup.manifest(&format!("name: known\ntopic: t\n{}", drill_command()));
    for (instance, expected) in [
        (
            "unknown:1",
            "no consumer named `unknown` (the manifest has: known)",
        ),
        ("known", "NAME:N"),
        ("known:0", "instance"),
    ] {
        let mut worker = setup.worker(instance, &[]);
        let status = worker.child.wait().unwrap();
        let log = worker.log_text();
        assert_eq!(status.code(), Some(2), "{instance}: {log}");
        assert!(log.contains(expected), "{instance}: {log}");
    }
}

#[test]
fn a_second_instance_joining_mid_stream_loses_nothing() {
    let setup = Setup::new(&["shared:4"]);
    setup.manifest(&format!(
        "name: shared\ntopic: shared\n{}\nenv:\n  DRILL_DELAY_MS: \"0.3\"\n{KAFKA}",
        drill_command()
    ));
    produce_direct(&setup.broker.bootstrap, "shared", &values("s", 10_000));
    let mut first = setup.worker("shared:1", &[]);
    wait_for("2,000 handled", LONG, || setup.handled().len() >= 2_000);
    let mut second = setup.worker("shared:2", &[]);
    wait_for("all 10,000 handled", LONG, || {
        setup.handled_unique() == 10_000
    });
    // The hand-over happened while both ran, not as the members left at the end: before
    // either was stopped, the second instance handled messages (it can only have had
    // partitions the first gave up), and the first went on handling after the second began.
    let batches = common::lines_of(&setup.path("instances.log"));
    let first_of_second = batches
        .iter()
        .position(|b| b.starts_with("2 "))
        .unwrap_or_else(|| panic!("instance 2 handled nothing while both ran: {batches:?}"));
    assert!(
        batches[first_of_second..]
            .iter()
            .any(|b| b.starts_with("1 ")),
        "instance 1 handled nothing after instance 2 began"
    );
    for worker in [&mut first, &mut second] {
        let status = worker.signal_and_wait(libc::SIGTERM, LONG);
        assert!(status.success(), "{}", worker.log_text());
    }
    let lines = setup.handled().len();
    eprintln!(
        "rebalance drill: sent 10000, handled {lines}, duplicates {}",
        lines - 10_000
    );
    // The partitions handed over were committed on revoke: what was acked is not redone.
    assert!(lines - 10_000 <= 200, "{} duplicates", lines - 10_000);
}

#[test]
fn an_instance_without_partitions_still_reports_ready() {
    let setup = Setup::new(&["single:1"]);
    setup.manifest(&format!(
        "name: single\ntopic: single\n{}\n{KAFKA}",
        drill_command()
    ));
    let mut first = setup.worker("single:1", &[]);
    wait_for("instance 1 ready", LONG, || {
        first.log_text().contains(": ready")
    });
    // The only partition is taken: instance 2 gets none, and must still say READY (or
    // systemd would time its start out and restart it forever).
    let mut second = setup.worker("single:2", &[]);
    wait_for("instance 2 ready", LONG, || {
        second.log_text().contains(": ready")
    });
    // READY came without the partition: from the group coordinator being up, or from an
    // empty assignment (under KIP-848 either may come first).
    let log = second.log_text();
    assert!(!log.contains("partitions=single/0"), "{log}");
    assert!(first.log_text().contains("partitions=single/0"));
    for worker in [&mut first, &mut second] {
        assert!(worker.signal_and_wait(libc::SIGTERM, LONG).success());
    }
}

#[test]
fn sigterm_with_the_brokers_gone_does_not_wait_for_a_group_coordinator() {
    let mut setup = Setup::new(&["gone:2"]);
    setup.manifest(&format!(
        "name: gone\ntopic: gone\n{}\n{KAFKA}",
        drill_command()
    ));
    let mut worker = setup.worker("gone:1", &[]);
    wait_for("ready", LONG, || worker.log_text().contains(": ready"));
    produce_direct(&setup.broker.bootstrap, "gone", &common::values("g", 20));
    wait_for("20 handled", LONG, || setup.handled_unique() == 20);
    // What the handler acked is committed (auto-commit, every second) before the brokers go.
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &setup.broker.bootstrap)
        .set("group.id", "drills-gone")
        .create()
        .unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    partitions.add_partition("gone", 0);
    partitions.add_partition("gone", 1);
    wait_for("the acked offsets committed", LONG, || {
        reader
            .committed_offsets(partitions.clone(), Duration::from_secs(5))
            .map(|c| {
                c.elements()
                    .iter()
                    .filter_map(|e| e.offset().to_raw())
                    .filter(|o| *o >= 0)
                    .sum::<i64>()
                    == 20
            })
            .unwrap_or(false)
    });
    drop(reader);

    setup.broker.kill();
    let status = worker.signal_and_wait(libc::SIGTERM, LONG);
    let log = worker.log_text();
    assert!(status.success(), "{status}:\n{log}");
    assert!(log.contains("stopped: nothing new to commit"), "{log}");
    // Nothing is committed a second time on leaving (the final commit did it), and leaving the
    // group, which waits for a coordinator that is gone, is given up after a grace period
    // instead of holding the stop (it used to take ~45 s, on every stop during an outage).
    assert!(!log.contains("commit on revoke failed"), "{log}");
    assert!(
        log.contains("leaving the group: partitions released"),
        "{log}"
    );
    assert!(
        log.contains("leaving the group did not finish within"),
        "{log}"
    );
}

/// Produces one message whose header name is not UTF-8, which rdkafka's own Rust API cannot
/// even express, through librdkafka's C API.
fn produce_with_raw_header_name(bootstrap: &str, topic: &str, name: &[u8], value: &[u8]) {
    use rdkafka::producer::{BaseProducer, Producer};
    use rdkafka_sys as rd;
    use std::ffi::{c_char, c_void, CString};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let topic = CString::new(topic).unwrap();
    let name = CString::new(name).unwrap();
    let empty = rd::rd_kafka_vu_s__bindgen_ty_1 { i: 0 };
    let vu = |vtype, u| rd::rd_kafka_vu_t { vtype, u };
    let mut vus = [
        vu(rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_TOPIC, empty),
        vu(rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_HEADER, empty),
        vu(rd::rd_kafka_vtype_t::RD_KAFKA_VTYPE_VALUE, empty),
    ];
    vus[0].u.cstr = topic.as_ptr();
    vus[1].u.header = rd::rd_kafka_vu_s__bindgen_ty_1__bindgen_ty_2 {
        name: name.as_ptr() as *const c_char,
        val: value.as_ptr() as *const c_void,
        size: value.len() as isize,
    };
    vus[2].u.mem = rd::rd_kafka_vu_s__bindgen_ty_1__bindgen_ty_1 {
        ptr: b"with-a-strange-header".as_ptr() as *mut c_void,
        size: 21,
    };
    // SAFETY: the producer, the C strings and the value outlive the call, which copies them
    // (RD_KAFKA_MSG_F_COPY is librdkafka's default for produceva's VALUE).
    let error =
        unsafe { rd::rd_kafka_produceva(producer.client().native_ptr(), vus.as_ptr(), vus.len()) };
    assert!(error.is_null(), "produceva failed");
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_header_name_that_is_not_utf8_is_delivered_not_a_crash() {
    let setup = Setup::new(&["drill:1"]);
    setup.manifest(&format!(
        "name: headers\ntopic: drill\n{}\n{KAFKA}",
        drill_command()
    ));
    produce_with_raw_header_name(&setup.broker.bootstrap, "drill", b"caf\xe9", b"v");
    common::produce_direct(&setup.broker.bootstrap, "drill", &values("after", 1));
    let mut worker = setup.worker("headers:1", &[]);
    wait_for("both messages handled", Duration::from_secs(60), || {
        setup.handled_unique() >= 2
    });
    let headers = common::lines_of(&setup.path("headers.log"));
    assert_eq!(headers, ["caf\u{fffd}"], "{}", worker.log_text());
    let status = worker.signal_and_wait(libc::SIGTERM, Duration::from_secs(60));
    assert!(status.success(), "{status:?}: {}", worker.log_text());
}

/// A handler command that records `$FROM_FILE|$BOTH|$ONLY_ENV` in DRILL_DIR/env.log at each
/// start, then runs the drill handler.
fn env_recording_command() -> String {
    format!(
        "command: 'printf \"%s|%s|%s\\n\" \"$FROM_FILE\" \"$BOTH\" \"$ONLY_ENV\" >> \"$DRILL_DIR/env.log\"; exec python3 {}'",
        fixture("drill_handler.py")
    )
}

/// Writes an env file into the setup's directory with `mode`; returns its path.
fn write_env_file(setup: &Setup, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = setup.path("secrets.env");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_handler_gets_the_env_file_read_at_each_start_and_no_log_shows_its_values() {
    let setup = Setup::new(&["secrets:1"]);
    let file = write_env_file(
        &setup,
        "# on the host, not in the repository\nFROM_FILE=\"s3cret one\"\n",
        0o600,
    );
    setup.manifest(&format!(
        "name: secrets\ntopic: secrets\n{}\nenv_file: {}\nretry:\n  backoff_ms: 10\n{KAFKA}",
        env_recording_command(),
        file.display()
    ));
    let mut worker = setup.worker("secrets:1", &[]);
    wait_for("ready", LONG, || worker.log_text().contains(": ready"));
    assert_eq!(common::lines_of(&setup.path("env.log")), ["s3cret one||"]);

    // Rotated: the handler's next start (after a crash here) sees the new value.
    write_env_file(&setup, "FROM_FILE=s3cret-two\n", 0o600);
    produce_direct(&setup.broker.bootstrap, "secrets", &["crash-once:x".into()]);
    wait_for("the message handled after the restart", LONG, || {
        setup.handled_unique() == 1
    });
    assert_eq!(
        common::lines_of(&setup.path("env.log")),
        ["s3cret one||", "s3cret-two||"]
    );

    // The worker itself holds none of it: not in its title or environment, not in its log.
    let pid = worker.child.id();
    for proc_file in ["cmdline", "environ"] {
        let bytes = std::fs::read(format!("/proc/{pid}/{proc_file}")).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cret"),
            "{proc_file}"
        );
    }
    assert!(worker.signal_and_wait(libc::SIGTERM, LONG).success());
    let log = worker.log_text();
    assert!(log.contains("env_file read"), "{log}");
    assert!(log.contains("names=FROM_FILE"), "{log}");
    assert!(log.contains(&file.display().to_string()), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
    assert!(!log.contains("readable by every user"), "{log}");
}

#[test]
fn the_env_file_wins_over_env() {
    let setup = Setup::new(&["layered:1"]);
    let file = write_env_file(&setup, "BOTH=from-file\nFROM_FILE=yes\n", 0o644);
    setup.manifest(&format!(
        "name: layered\ntopic: layered\n{}\nenv_file: {}\nenv:\n  BOTH: from-env\n  ONLY_ENV: kept\n{KAFKA}",
        env_recording_command(),
        file.display()
    ));
    let mut worker = setup.worker("layered:1", &[]);
    wait_for("ready", LONG, || worker.log_text().contains(": ready"));
    assert_eq!(
        common::lines_of(&setup.path("env.log")),
        ["yes|from-file|kept"]
    );
    assert!(worker.signal_and_wait(libc::SIGTERM, LONG).success());
    // Mode 644: every user of the host may read it.
    let log = worker.log_text();
    assert!(
        log.contains("readable by every user of this host: chmod 640"),
        "{log}"
    );
}

#[test]
fn a_missing_or_broken_env_file_fails_the_start_naming_it() {
    let setup = Setup::new(&["nofile:1"]);
    let missing = setup.path("missing.env");
    for (env_file, expected) in [
        (
            missing.display().to_string(),
            format!("{}: cannot read the env_file", missing.display()),
        ),
        (
            setup.path("secrets.env").display().to_string(),
            format!(
                "{}:2: expected KEY=VALUE",
                setup.path("secrets.env").display()
            ),
        ),
    ] {
        write_env_file(&setup, "A=1\nnot an assignment s3cret\n", 0o600);
        setup.manifest(&format!(
            "name: nofile\ntopic: nofile\n{}\nenv_file: {env_file}\n{KAFKA}",
            env_recording_command()
        ));
        let mut worker = setup.worker("nofile:1", &[]);
        let status = worker.wait_exit(LONG);
        let log = worker.log_text();
        assert_eq!(status.code(), Some(2), "{log}");
        assert!(log.contains(&expected), "{log}");
        assert!(!log.contains(": ready") && !log.contains("s3cret"), "{log}");
        assert!(!setup.path("env.log").exists(), "no handler started");
    }

    // `-`: a missing file is no error.
    setup.manifest(&format!(
        "name: nofile\ntopic: nofile\n{}\nenv_file: -{}\n{KAFKA}",
        env_recording_command(),
        missing.display()
    ));
    let mut worker = setup.worker("nofile:1", &[]);
    wait_for("ready", LONG, || worker.log_text().contains(": ready"));
    assert_eq!(common::lines_of(&setup.path("env.log")), ["||"]);
    assert!(worker.signal_and_wait(libc::SIGTERM, LONG).success());
    assert!(worker.log_text().contains("env_file missing; optional"));
}
