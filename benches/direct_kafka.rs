//! The ceiling for `scripts/bench-proxy.sh`: librdkafka (through the rdkafka crate) talking to
//! the broker directly, with no proxy in between.
//!
//! * produce: a `BaseProducer` queues N messages of S bytes (librdkafka's default partitioner,
//!   or round-robin over the partitions with `--round-robin`) and the clock stops when the
//!   last delivery report arrives (every message acknowledged by the broker);
//! * consume: a `BaseConsumer` in a fresh group reads N messages from the beginning of the
//!   topic; the rate is measured from the first message to the N-th (the group join is
//!   printed separately);
//! * create: creates the topics of `--topic NAME[:PARTITIONS],...` (default `--partitions`)
//!   with the broker's default replication factor through the Admin API, and waits until
//!   every partition has a leader. Real Kafka as users run it has auto topic creation off;
//!   the scripts that run on `scripts/kafka.sh` create their topics with this (a topic that
//!   already exists is fine), so no further tool (Kafka's Java `kafka-topics`) is needed.
//!
//! Run by the script as the bench binary (`cargo bench --bench direct_kafka --no-run` builds
//! it), or on its own: `cargo bench --bench direct_kafka` hosts an in-process mock cluster.
//!
//! ```text
//! direct_kafka [--bootstrap HOST:PORT] [--topic T] [--messages N] [--size BYTES]
//!              [--mode produce|consume|all|create] [--group G] [--partitions P] [--timeout-secs S]
//!              [--round-robin]
//! ```
//!
//! The mock cluster keeps only ~5 MiB per partition and silently drops older data. To consume
//! N messages, load them with `--round-robin` into enough partitions (500k x 100 B: 16); the
//! default sticky partitioner fills one random partition per batch and can overflow one.
//!
//! Machine-readable results are lines starting with `RESULT `, `key=value` separated:
//! `RESULT direct_produce msgs=.. secs=.. msgs_per_sec=.. errors=..` and
//! `RESULT direct_consume msgs=.. secs=.. msgs_per_sec=.. join_secs=..`.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Produce,
    Consume,
    All,
    Create,
}

#[derive(Debug)]
struct Options {
    bootstrap: Option<String>,
    topic: String,
    messages: u64,
    size: usize,
    mode: Mode,
    group: Option<String>,
    partitions: i32,
    timeout: Duration,
    round_robin: bool,
}

const USAGE: &str = "usage: direct_kafka [--bootstrap HOST:PORT] [--topic T] [--messages N] \
[--size BYTES] [--mode produce|consume|all|create] [--group G] [--partitions P] [--timeout-secs S] \
[--round-robin]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        bootstrap: None,
        topic: "direct_bench".into(),
        messages: 500_000,
        size: 100,
        mode: Mode::All,
        group: None,
        partitions: 16,
        timeout: Duration::from_secs(120),
        round_robin: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            "--bootstrap" => o.bootstrap = Some(value("--bootstrap")?),
            "--topic" => o.topic = value("--topic")?,
            "--messages" => {
                o.messages = value("--messages")?
                    .parse()
                    .map_err(|e| format!("--messages: {e}"))?
            }
            "--size" => {
                o.size = value("--size")?
                    .parse()
                    .map_err(|e| format!("--size: {e}"))?
            }
            "--mode" => {
                o.mode = match value("--mode")?.as_str() {
                    "produce" => Mode::Produce,
                    "consume" => Mode::Consume,
                    "all" => Mode::All,
                    "create" => Mode::Create,
                    other => return Err(format!("--mode: unknown mode {other}")),
                }
            }
            "--group" => o.group = Some(value("--group")?),
            "--round-robin" => o.round_robin = true,
            "--partitions" => {
                o.partitions = value("--partitions")?
                    .parse()
                    .map_err(|e| format!("--partitions: {e}"))?
            }
            "--timeout-secs" => {
                o.timeout = Duration::from_secs(
                    value("--timeout-secs")?
                        .parse()
                        .map_err(|e| format!("--timeout-secs: {e}"))?,
                )
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.messages == 0 {
        return Err("--messages must be at least 1".into());
    }
    if o.mode == Mode::Create && o.bootstrap.is_none() {
        return Err("--mode create needs --bootstrap".into());
    }
    Ok(o)
}

/// Counts delivery reports.
#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn produce(o: &Options, bootstrap: &str) -> Result<(), String> {
    let producer: BaseProducer<Counting> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create_with_context(Counting::default())
        .map_err(|e| format!("creating producer: {e}"))?;
    // Learn the topic's metadata first so that the timing covers producing only.
    let metadata = producer
        .client()
        .fetch_metadata(Some(&o.topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata for {}: {e}", o.topic))?;
    // With --round-robin, spread messages evenly over the partitions: the default sticky
    // partitioner fills one partition per batch at random, and an unlucky partition can
    // exceed what the mock cluster keeps (~5 MiB), losing the oldest messages before a
    // consume reads them.
    let partitions = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    if partitions == 0 {
        return Err(format!("topic {} has no partitions", o.topic));
    }
    let payload = vec![b'd'; o.size];
    let deadline = Instant::now() + o.timeout;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut full_waits = 0u64;
    // Serve delivery reports every so many sends, so that librdkafka's queue keeps draining.
    let mut since_poll = 0u32;
    while sent < o.messages {
        let mut record = BaseRecord::to(&o.topic).payload(&payload[..]);
        if o.round_robin {
            record = record.partition((sent % partitions as u64) as i32);
        }
        match producer.send::<[u8], [u8]>(record) {
            Ok(()) => {
                sent += 1;
                since_poll += 1;
                if since_poll == 1024 {
                    since_poll = 0;
                    producer.poll(Duration::ZERO);
                }
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                full_waits += 1;
                producer.poll(Duration::from_millis(5));
                if Instant::now() > deadline {
                    return Err(format!("timed out producing ({sent} queued)"));
                }
            }
            Err((err, _)) => return Err(format!("produce failed after {sent}: {err}")),
        }
    }
    let ctx = producer.context();
    while ctx.delivered.load(Ordering::Relaxed) + ctx.failed.load(Ordering::Relaxed) < o.messages {
        producer.poll(Duration::from_millis(1));
        if Instant::now() > deadline {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    eprintln!(
        "direct produce: {delivered}/{} delivered in {secs:.3} s ({failed} failed, {full_waits} queue-full waits)",
        o.messages
    );
    println!(
        "RESULT direct_produce msgs={delivered} secs={secs:.6} msgs_per_sec={:.0} errors={failed}",
        delivered as f64 / secs
    );
    if delivered < o.messages {
        return Err(format!(
            "only {delivered} of {} messages delivered",
            o.messages
        ));
    }
    Ok(())
}

fn consume(o: &Options, bootstrap: &str) -> Result<(), String> {
    let group = o.group.clone().unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("direct-bench-{}-{nanos}", std::process::id())
    });
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("log_level", "3")
        .create()
        .map_err(|e| format!("creating consumer: {e}"))?;
    // What the broker still holds: the mock cluster drops the oldest data of a partition
    // beyond ~5 MiB, and a consume of more than is there would only time out.
    let metadata = consumer
        .fetch_metadata(Some(&o.topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata for {}: {e}", o.topic))?;
    let mut available = 0i64;
    let mut trimmed = false;
    for topic in metadata.topics() {
        for p in topic.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(&o.topic, p.id(), Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {}/{}: {e}", o.topic, p.id()))?;
            available += high - low;
            trimmed |= low > 0;
        }
    }
    let want = if (available as u64) < o.messages {
        eprintln!(
            "direct consume: only {available} messages in {} (wanted {}){}",
            o.topic,
            o.messages,
            if trimmed {
                "; the broker dropped old data: use more partitions"
            } else {
                ""
            }
        );
        available.max(0) as u64
    } else {
        o.messages
    };
    if want == 0 {
        return Err(format!("topic {} is empty", o.topic));
    }
    consumer
        .subscribe(&[&o.topic])
        .map_err(|e| format!("subscribe: {e}"))?;
    let subscribed = Instant::now();
    let deadline = subscribed + o.timeout;
    let mut first: Option<Instant> = None;
    let mut count = 0u64;
    let mut bytes = 0usize;
    while count < want {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                first.get_or_insert_with(Instant::now);
                bytes += msg.payload().map_or(0, <[u8]>::len);
                count += 1;
            }
            Some(Err(err)) => eprintln!("direct consume: {err}"),
            None => {}
        }
        if Instant::now() > deadline {
            eprintln!("direct consume: timed out after {count} messages");
            break;
        }
    }
    let end = Instant::now();
    let first = first.unwrap_or(end);
    let secs = (end - first).as_secs_f64().max(1e-9);
    let join_secs = (first - subscribed).as_secs_f64();
    eprintln!(
        "direct consume: {count} messages ({bytes} bytes) in {secs:.3} s after a {join_secs:.3} s group join (group {group})"
    );
    println!(
        "RESULT direct_consume msgs={count} secs={secs:.6} msgs_per_sec={:.0} join_secs={join_secs:.3}",
        count as f64 / secs
    );
    if count < o.messages {
        return Err(format!("consumed {count} of {} messages", o.messages));
    }
    Ok(())
}

/// Creates every `NAME[:PARTITIONS]` of `--topic` (comma-separated) and waits for leaders.
fn create(o: &Options, bootstrap: &str) -> Result<(), String> {
    let mut topics = Vec::new();
    for spec in o.topic.split(',').filter(|s| !s.is_empty()) {
        let (name, partitions) = match spec.split_once(':') {
            Some((name, p)) => (name, p.parse().map_err(|e| format!("{spec}: {e}"))?),
            None => (spec, o.partitions),
        };
        topics.push((name, partitions));
    }
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .map_err(|e| format!("creating admin client: {e}"))?;
    // -1: the broker's default.replication.factor.
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, p)| NewTopic::new(name, *p, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = futures::executor::block_on(admin.create_topics(&new, &options))
        .map_err(|e| format!("CreateTopics: {e}"))?;
    for result in results {
        match result {
            Ok(name) => eprintln!("direct_kafka: created topic {name}"),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                eprintln!("direct_kafka: topic {name} exists already")
            }
            Err((name, code)) => return Err(format!("cannot create topic {name}: {code}")),
        }
    }
    let deadline = Instant::now() + o.timeout;
    loop {
        let metadata = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .map_err(|e| format!("metadata: {e}"))?;
        let ready = topics.iter().all(|(name, _)| {
            metadata.topics().iter().any(|t| {
                t.name() == *name
                    && !t.partitions().is_empty()
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            })
        });
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("topics have no leader yet".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main() -> ExitCode {
    let mut o = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    // Without --bootstrap, host librdkafka's mock cluster in this process.
    let mock;
    let bootstrap = match &o.bootstrap {
        Some(b) => b.clone(),
        None => {
            mock = match MockCluster::new(1) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("cannot start a mock cluster: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = mock.create_topic(&o.topic, o.partitions, 1) {
                eprintln!("cannot create topic {}: {e}", o.topic);
                return ExitCode::FAILURE;
            }
            eprintln!(
                "direct_kafka: in-process mock cluster at {} (topic {} with {} partitions)",
                mock.bootstrap_servers(),
                o.topic,
                o.partitions
            );
            if o.mode == Mode::All && !o.round_robin {
                eprintln!(
                    "direct_kafka: producing round-robin so that the consume finds every message"
                );
                o.round_robin = true;
            }
            mock.bootstrap_servers()
        }
    };
    if o.mode == Mode::Create {
        return match create(&o, &bootstrap) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("direct_kafka: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut ok = true;
    if matches!(o.mode, Mode::Produce | Mode::All) {
        if let Err(e) = produce(&o, &bootstrap) {
            eprintln!("direct produce: {e}");
            ok = false;
        }
    }
    if ok && matches!(o.mode, Mode::Consume | Mode::All) {
        if let Err(e) = consume(&o, &bootstrap) {
            eprintln!("direct consume: {e}");
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
