//! Test rig: starts the real `kafkactl dev broker` and `kafkactl proxy` binaries and talks to
//! them over their real protocols. Every process is killed when its handle drops.
#![allow(dead_code)]

pub mod group_drain;
pub mod kafka;
pub mod schema;
pub mod user_manager;

use bytes::BytesMut;
use kafkactl::testing::{encode_array_header, encode_bulk, Frame};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The kafkactl binary under test.
pub fn kafkactl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kafkactl"))
}

/// Waits for `cond`, failing the test with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `BLPOP key 30` on `c` and returns once the proxy at `addr` has read it (a MONITOR
/// connection shows it). A drill that signals the proxy or freezes its broker right after
/// sending would otherwise race the proxy's read: a BLPOP still in the socket at the signal
/// finds its connection idle, which is another test (found with two suites at once).
pub fn blpop_in_flight(addr: SocketAddr, c: &mut Raw, key: &str) {
    let mut monitor = Raw::connect(addr);
    assert_eq!(monitor.cmd("MONITOR"), Frame::Simple("OK".into()));
    c.send(&[b"BLPOP", key.as_bytes(), b"30"]);
    let seen = format!(r#""BLPOP" "{key}" "30""#);
    loop {
        match monitor.read() {
            Some(Frame::Simple(line)) if line.ends_with(&seen) => return,
            Some(Frame::Simple(_)) => {}
            other => panic!("MONITOR while waiting for {seen}: {other:?}"),
        }
    }
}

/// Takes the named lock (flock(2), exclusive, waiting as long as it takes), shared by the
/// tests and scripts that use the same rig. Lock files live in a directory of this user's
/// (`$XDG_CACHE_HOME/kafkactl/locks`, else `~/.cache/kafkactl/locks`, mode 0700), not under a
/// fixed name in /tmp, where anyone could plant a link for root to truncate.
pub fn lock(name: &str) -> std::fs::File {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        })
        .join("kafkactl/locks");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .unwrap();
    let file = std::fs::File::create(dir.join(format!("{name}.lock"))).unwrap();
    // SAFETY: flock on a file descriptor we own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) },
        0
    );
    file
}

/// A child process killed on drop, with its stderr captured to a file for diagnostics.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal and waits (bounded) for the exit status.
    pub fn signal_and_wait(&mut self, sig: i32, limit: Duration) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        self.wait_exit(limit)
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "process did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Produces `values` to `topic` with librdkafka (no proxy), spread over partitions by key, and
/// waits for delivery.
pub fn produce_direct(bootstrap: &str, topic: &str, values: &[String]) {
    let producer: rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("linger.ms", "5")
            .create()
            .unwrap();
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        let mut record = rdkafka::producer::BaseRecord::to(topic)
            .key(&key)
            .payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                // The producer's queue is full: wait for deliveries to make room.
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30)).unwrap();
}

/// Starts `kafkactl -f MANIFEST worker INSTANCE [extra...]` outside systemd, as the drills
/// do: its handlers log what they handled to `dir`/handled.log (KAFKACTL_HANDLED_LOG) and find
/// their drill files in `dir` (DRILL_DIR); the worker's stderr goes to `log`. The manifest's
/// `brokers:` applies (a KAFKACTL_BROKERS of the caller's would override it).
pub fn spawn_worker(
    manifest: &Path,
    instance: &str,
    extra: &[&str],
    dir: &Path,
    log: PathBuf,
) -> Proc {
    let child = Command::new(kafkactl())
        .arg("-f")
        .arg(manifest)
        .args(["worker", instance])
        .args(extra)
        .env("KAFKACTL_HANDLED_LOG", dir.join("handled.log"))
        .env("DRILL_DIR", dir)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("KAFKACTL_BROKERS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Proc { child, log }
}

/// The lines of a file (none when it does not exist yet), such as a handler's handled log.
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A finished command's stdout then stderr, for assertion messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `command` (stdin null, stdout and stderr together into a file) until it exits or
/// `deadline` passes (then kills it: status `None`), and returns its output. `what` names the
/// program in the panic when it is not installed.
pub fn run_to_end(
    mut command: Command,
    what: &str,
    deadline: Duration,
) -> (Option<std::process::ExitStatus>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("output");
    let out = std::fs::File::create(&out_path).unwrap();
    let spawned = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{what}` is not installed: run scripts/deps.sh")
        }
        Err(e) => panic!("cannot start {what}: {e}"),
    };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status,
        std::fs::read_to_string(&out_path).unwrap_or_default(),
    )
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which broker the broker-dependent tests run against: `KAFKACTL_TEST_BROKER=dev` (the
/// default: `kafkactl dev broker`, librdkafka's mock cluster) or `kafka` (Apache Kafka itself,
/// one KRaft node per test, started by scripts/kafka.sh). scripts/test.sh runs both.
pub fn real_kafka() -> bool {
    match std::env::var("KAFKACTL_TEST_BROKER").as_deref() {
        Ok("kafka") => true,
        Ok("dev") | Ok("") | Err(_) => false,
        Ok(other) => panic!("KAFKACTL_TEST_BROKER must be 'dev' or 'kafka', not '{other}'"),
    }
}

/// The broker a test talks to: the dev broker or a real Kafka node, per [`real_kafka`].
pub struct Broker {
    pub bootstrap: String,
    backend: Backend,
}

enum Backend {
    Dev { proc: Proc, _dir: tempfile::TempDir },
    Kafka(kafka::Kafka),
}

/// The topics named by dev-broker style arguments (`--topic NAME[:PARTITIONS]`,
/// `--partitions N` for entries without a count; the dev broker's default is 4).
fn topic_args(args: &[&str]) -> Vec<(String, i32)> {
    let mut default_partitions = 4;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "--topic" => names.push(it.next().expect("--topic needs a value").to_string()),
            "--partitions" => {
                default_partitions = it
                    .next()
                    .expect("--partitions needs a value")
                    .parse()
                    .unwrap()
            }
            other => panic!("Broker::start: unsupported argument {other}"),
        }
    }
    names
        .into_iter()
        .map(|spec| match spec.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap()),
            None => (spec, default_partitions),
        })
        .collect()
}

impl Broker {
    /// Starts the test broker with `topics` created (dev-broker arguments: `--topic t:4`).
    /// Every topic a test uses must be named here: real Kafka creates none by itself.
    pub fn start(args: &[&str]) -> Broker {
        if real_kafka() {
            let kafka = kafka::Kafka::start(1);
            let topics = topic_args(args);
            let refs: Vec<(&str, i32)> = topics.iter().map(|(n, p)| (n.as_str(), *p)).collect();
            kafka.create_topics(&refs);
            Broker {
                bootstrap: kafka.bootstrap.clone(),
                backend: Backend::Kafka(kafka),
            }
        } else {
            Self::dev(args)
        }
    }

    /// Starts `kafkactl dev broker` with the given extra arguments, whatever the setting.
    pub fn dev(args: &[&str]) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let addr_file = dir.path().join("bootstrap");
        let log = dir.path().join("broker.log");
        let child = Command::new(kafkactl())
            .args(["dev", "broker", "--address-file"])
            .arg(&addr_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let proc = Proc { child, log };
        wait_for(
            "the dev broker's address file",
            Duration::from_secs(20),
            || addr_file.exists(),
        );
        let bootstrap = std::fs::read_to_string(&addr_file)
            .unwrap()
            .trim()
            .to_string();
        Broker {
            bootstrap,
            backend: Backend::Dev { proc, _dir: dir },
        }
    }

    /// Whether this is Apache Kafka (not the dev broker).
    pub fn is_kafka(&self) -> bool {
        matches!(self.backend, Backend::Kafka(_))
    }

    /// The dev broker's process (panics on real Kafka).
    pub fn dev_proc(&mut self) -> &mut Proc {
        match &mut self.backend {
            Backend::Dev { proc, .. } => proc,
            Backend::Kafka(_) => panic!("not the dev broker"),
        }
    }

    /// Kills the broker (every node of a real cluster) with SIGKILL: the brokers are gone.
    pub fn kill(&mut self) {
        match &mut self.backend {
            Backend::Dev { proc, .. } => {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
            }
            Backend::Kafka(kafka) => {
                for n in 1..=kafka.nodes {
                    kafka.kill_node(n);
                }
            }
        }
    }

    /// Which broker this is, for messages and figures.
    pub fn label(&self) -> &'static str {
        if self.is_kafka() {
            "Apache Kafka"
        } else {
            "dev broker"
        }
    }
}

/// A running proxy.
pub struct Proxy {
    pub proc: Proc,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// The development proxy config shipped in examples/.
pub fn dev_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/proxy.dev.json")
}

impl Proxy {
    /// Starts `kafkactl proxy` against `bootstrap` with extra arguments, using the
    /// development config (examples/proxy.dev.json: Rafka's format, short session timeouts,
    /// because the mock cluster holds every rebalance for session.timeout.ms - 1 s).
    pub fn start(bootstrap: &str, args: &[&str]) -> Proxy {
        Self::start_with_config(bootstrap, Some(&dev_config()), args)
    }

    /// Starts the proxy with a Rafka JSON config file, on a port the kernel picks (it listens
    /// on port 0 and logs the address it got: no port is probed and then reused).
    pub fn start_with_config(bootstrap: &str, config: Option<&Path>, args: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("proxy.log");
        let mut cmd = Command::new(kafkactl());
        cmd.args(["proxy", "--listen", "127.0.0.1:0", "--brokers", bootstrap])
            .args(args)
            .env("KAFKACTL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let child = cmd.spawn().unwrap();
        let mut proc = Proc { child, log };
        let start = Instant::now();
        loop {
            let text = proc.log_text();
            // tracing's line: `... proxy listening local=127.0.0.1:PORT`
            if let Some(addr) = text
                .lines()
                .find_map(|l| l.split("proxy listening local=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse::<SocketAddr>().ok())
            {
                return Proxy {
                    proc,
                    addr,
                    _dir: dir,
                };
            }
            assert!(
                proc.child.try_wait().unwrap().is_none(),
                "proxy exited at start:\n{text}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "proxy did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A `redis` crate connection (a real Redis client).
    pub fn redis(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.addr)).unwrap();
        let con = client.get_connection().unwrap();
        con.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        con
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.addr)
    }
}

/// A raw RESP client: sends exact bytes, reads frames with the crate's own reply parser.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a command as a RESP array of bulk strings.
    pub fn send(&mut self, args: &[&[u8]]) {
        let mut out = BytesMut::new();
        encode_array_header(&mut out, args.len());
        for a in args {
            encode_bulk(&mut out, a);
        }
        self.send_raw(&out);
    }

    /// Reads one reply frame; `None` when the server closed the connection.
    pub fn read(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = Frame::parse(&mut self.buf).unwrap() {
                return Some(frame);
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command (words split on spaces) and reads its reply.
    pub fn cmd(&mut self, line: &str) -> Frame {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.send(&words);
        self.read().expect("connection closed before the reply")
    }

    /// Whether the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0))
    }
}

/// The proxy's counters (`HGETALL stats`), by name.
pub fn stats(raw: &mut Raw) -> std::collections::HashMap<String, i64> {
    try_stats(raw).unwrap_or_else(|reply| panic!("HGETALL stats: {reply:?}"))
}

/// [`stats`], or the reply when it is not the counters (an error the proxy sent instead).
pub fn try_stats(raw: &mut Raw) -> Result<std::collections::HashMap<String, i64>, Frame> {
    let items = match raw.cmd("HGETALL stats") {
        Frame::Array(items) => items,
        other => return Err(other),
    };
    Ok(items
        .chunks(2)
        .map(|kv| match (&kv[0], &kv[1]) {
            (Frame::Bulk(k), Frame::Bulk(v)) => (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).parse().unwrap(),
            ),
            other => panic!("{other:?}"),
        })
        .collect())
}

/// An error frame's text, or a panic showing what came instead.
pub fn error_text(frame: Frame) -> String {
    match frame {
        Frame::Error(text) => text,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// A consumed message, from Rafka's 8-element BLPOP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub value: Vec<u8>,
}

impl Msg {
    /// Parses Rafka's reply shape, checking the field names.
    pub fn from_frame(frame: Frame) -> Option<Msg> {
        let items = match frame {
            Frame::NullArray => return None,
            Frame::Array(items) => items,
            other => panic!("expected a message array, got {other:?}"),
        };
        assert_eq!(items.len(), 8, "{items:?}");
        let name = |i: usize, want: &str| match &items[i] {
            Frame::Bulk(b) => assert_eq!(b.as_ref(), want.as_bytes()),
            other => panic!("field {i}: {other:?}"),
        };
        name(0, "topic");
        name(2, "partition");
        name(4, "offset");
        name(6, "value");
        let bulk = |i: usize| match &items[i] {
            Frame::Bulk(b) => b.to_vec(),
            other => panic!("field {i}: {other:?}"),
        };
        let int = |i: usize| match &items[i] {
            Frame::Integer(n) => *n,
            other => panic!("field {i}: {other:?}"),
        };
        Some(Msg {
            topic: String::from_utf8(bulk(1)).unwrap(),
            partition: int(3),
            offset: int(5),
            value: bulk(7),
        })
    }

    /// The RPUSH acks argument for this message.
    pub fn ack(&self) -> String {
        format!("{}:{}:{}", self.topic, self.partition, self.offset)
    }
}

/// A consumer connection that has run CLIENT SETNAME.
pub fn consumer(proxy: &Proxy, id: &str) -> Raw {
    let mut raw = proxy.raw();
    assert_eq!(
        raw.cmd(&format!("CLIENT SETNAME {id}")),
        Frame::bulk_str("OK")
    );
    raw
}

/// BLPOP once with a timeout in seconds.
pub fn blpop(raw: &mut Raw, key: &str, timeout_secs: u64) -> Option<Msg> {
    raw.send(&[
        b"BLPOP",
        key.as_bytes(),
        timeout_secs.to_string().as_bytes(),
    ]);
    Msg::from_frame(raw.read().expect("reply"))
}

/// Produces `values` to `topic` through a fresh connection and waits until delivered.
/// Keyless, so librdkafka's sticky partitioner may put a quick burst in one partition.
pub fn produce(proxy: &Proxy, topic: &str, values: &[String]) {
    produce_to(proxy, topic, values, false);
}

/// Produces `values` keyed by themselves, so they spread over the topic's partitions.
pub fn produce_spread(proxy: &Proxy, topic: &str, values: &[String]) {
    produce_to(proxy, topic, values, true);
}

fn produce_to(proxy: &Proxy, topic: &str, values: &[String], keyed: bool) {
    let mut raw = proxy.raw();
    for v in values {
        let target = if keyed {
            format!("topics:{topic}:{v}")
        } else {
            format!("topics:{topic}")
        };
        raw.send(&[b"RPUSHX", target.as_bytes(), v.as_bytes()]);
    }
    for _ in values {
        assert_eq!(raw.read(), Some(Frame::Integer(1)));
    }
    assert_eq!(raw.cmd("DUMP 10000"), Frame::Integer(0));
}

/// `n` distinct values with a prefix.
pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}
