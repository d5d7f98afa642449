//! Apache Kafka itself under the tests: a KRaft cluster of 1 or 3 nodes started by
//! `scripts/kafka.sh` in a scratch directory, topics created through the Admin API (auto topic
//! creation is off, as on production clusters), and the node handles the failover drills need
//! (kill -9 a node, start it again, find a partition's leader).

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository's scripts/kafka.sh.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka.sh")
}

/// Runs `scripts/kafka.sh ARGS --dir DIR` as the tests do (nodes in the caller's process
/// group, a small heap), failing the test with its output when it fails.
fn run_script(dir: &Path, args: &[&str]) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("KAFKA_NO_SETSID", "1")
        .env("KAFKA_HEAP", "384m")
        .output()
        .expect("bash scripts/kafka.sh");
    assert!(
        out.status.success(),
        "scripts/kafka.sh {args:?} failed:\n{}",
        super::output_text(&out)
    );
}

/// A running Kafka cluster, killed (SIGKILL: its data is scratch) when dropped.
pub struct Kafka {
    /// Every node's address, comma-separated.
    pub bootstrap: String,
    /// Number of nodes (1 or 3).
    pub nodes: usize,
    dir: tempfile::TempDir,
}

impl Kafka {
    /// Starts a cluster of `nodes` combined broker+controller nodes and waits until each
    /// serves. The nodes stay in this test's process group, so a test killed by its runner
    /// takes them along.
    pub fn start(nodes: usize) -> Kafka {
        let dir = tempfile::tempdir().unwrap();
        run_script(dir.path(), &["start", "--nodes", &nodes.to_string()]);
        let bootstrap = std::fs::read_to_string(dir.path().join("bootstrap"))
            .unwrap()
            .trim()
            .to_string();
        Kafka {
            bootstrap,
            nodes,
            dir,
        }
    }

    /// SIGKILLs node `n` (a broker crash) and waits until the process is gone.
    pub fn kill_node(&self, n: usize) {
        run_script(self.dir.path(), &["kill-node", &n.to_string()]);
    }

    /// Starts node `n` again on its address with its data, and waits until it serves.
    pub fn start_node(&self, n: usize) {
        run_script(self.dir.path(), &["start-node", &n.to_string()]);
    }

    /// An Admin API client.
    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client")
    }

    /// Creates topics (name, partitions) with the cluster's replication factor through the
    /// Admin API, and waits until every partition has a leader.
    pub fn create_topics(&self, topics: &[(&str, i32)]) {
        if topics.is_empty() {
            return;
        }
        let replication = if self.nodes >= 3 { 3 } else { 1 };
        let admin = self.admin();
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|(name, partitions)| {
                NewTopic::new(name, *partitions, TopicReplication::Fixed(replication))
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results =
            futures::executor::block_on(admin.create_topics(&new, &options)).expect("CreateTopics");
        for result in results {
            if let Err((name, code)) = result {
                panic!("cannot create topic {name}: {code:?}");
            }
        }
        let names: Vec<&str> = topics.iter().map(|(n, _)| *n).collect();
        self.wait_for_leaders(&names);
    }

    /// Waits until every partition of `topics` has a leader in the cluster's metadata.
    pub fn wait_for_leaders(&self, topics: &[&str]) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        let start = Instant::now();
        loop {
            let ready = topics.iter().all(|t| {
                consumer
                    .fetch_metadata(Some(t), Duration::from_secs(5))
                    .ok()
                    .and_then(|md| {
                        md.topics().first().map(|topic| {
                            topic.error().is_none()
                                && !topic.partitions().is_empty()
                                && topic.partitions().iter().all(|p| p.leader() >= 0)
                        })
                    })
                    .unwrap_or(false)
            });
            if ready {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "topics {topics:?} have no leaders after 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The node id (1-based, as node ids are) leading `topic`'s `partition`.
    pub fn leader_of(&self, topic: &str, partition: i32) -> usize {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let leader = md.topics()[0]
            .partitions()
            .iter()
            .find(|p| p.id() == partition)
            .expect("partition")
            .leader();
        assert!(leader > 0, "{topic}/{partition} has no leader");
        leader as usize
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        for n in 1..=self.nodes {
            let pid_file = self.dir.path().join(format!("node-{n}/pid"));
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
}
