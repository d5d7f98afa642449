//! `kafkactl dev broker`: librdkafka's in-memory mock cluster as a long-running process.
//!
//! The mock cluster is librdkafka's own protocol-level broker (the one librdkafka tests
//! itself with). It binds random ports, so the bootstrap address is printed and optionally
//! written to a file for scripts. Its limits: data lives in memory only, each partition keeps
//! at most ~5 MiB, auto-created topics always get the mock's fixed 4 partitions (librdkafka
//! has no setter for that default; pre-create topics with `--topic NAME:PARTITIONS`).
//!
//! Consumer groups: under the classic protocol the mock holds every rebalance for the members'
//! session.timeout.ms minus one second, and refuses offset commits while a rebalance is in
//! progress (real Kafka accepts them from the current generation), so acked offsets cannot be
//! committed when partitions are revoked. Under `group.protocol=consumer` (KIP-848) neither
//! happens: clients of the dev broker should use it (examples/proxy.dev.json does).

use anyhow::{bail, Context, Result};
use rdkafka::client::Client;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use rdkafka_sys as rdsys;
use std::ffi::{CStr, CString};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A topic to create at start: `NAME` or `NAME:PARTITIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count; `None` uses `--partitions`.
    pub partitions: Option<i32>,
}

impl std::str::FromStr for TopicSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, partitions) = match s.split_once(':') {
            Some((name, count)) => {
                let n: i32 = count
                    .parse()
                    .map_err(|_| format!("partition count in '{s}' is not a number"))?;
                if !(1..=1000).contains(&n) {
                    return Err(format!("partition count in '{s}' must be 1..=1000"));
                }
                (name, Some(n))
            }
            None => (s, None),
        };
        if !crate::kafka::valid_topic_name(name) {
            return Err(format!(
                "'{name}' is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)"
            ));
        }
        Ok(TopicSpec {
            name: name.to_string(),
            partitions,
        })
    }
}

/// Settings of the development broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Number of mock brokers.
    pub brokers: i32,
    /// Partitions of `--topic` entries given without a count.
    pub partitions: i32,
    /// Topics to create at start.
    pub topics: Vec<TopicSpec>,
    /// Where to write the bootstrap address.
    pub address_file: Option<PathBuf>,
    /// The group initial rebalance delay in ms (the mock's default is 3000).
    pub rebalance_delay_ms: i32,
    /// Heartbeat interval the broker asks of `group.protocol=consumer` members, in ms (the
    /// mock's default is 3000; assignments propagate on heartbeats).
    pub consumer_heartbeat_ms: i32,
    /// Session timeout of `group.protocol=consumer` members, in ms.
    pub consumer_session_timeout_ms: i32,
}

/// A running mock cluster. Dropping it stops the cluster.
pub struct MockBroker {
    // The mock cluster belongs to this client handle and lives as long as it does.
    client: BaseProducer,
    bootstrap: String,
}

impl MockBroker {
    /// Starts the mock cluster and creates the requested topics.
    pub fn start(options: &BrokerOptions) -> Result<MockBroker> {
        if !(1..=9).contains(&options.brokers) {
            bail!("--brokers must be 1..=9, got {}", options.brokers);
        }
        let client: BaseProducer = ClientConfig::new()
            .set("test.mock.num.brokers", options.brokers.to_string())
            .set("log_level", "3")
            .create()
            .context("starting librdkafka's mock cluster")?;
        let broker = MockBroker {
            bootstrap: String::new(),
            client,
        };
        let mock = broker.raw()?;
        // SAFETY: `mock` belongs to `broker.client`, which outlives these calls.
        let bootstrap = unsafe {
            rdsys::rd_kafka_mock_group_initial_rebalance_delay_ms(mock, options.rebalance_delay_ms);
            rdsys::rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(
                mock,
                options.consumer_heartbeat_ms,
            );
            rdsys::rd_kafka_mock_set_group_consumer_session_timeout_ms(
                mock,
                options.consumer_session_timeout_ms,
            );
            CStr::from_ptr(rdsys::rd_kafka_mock_cluster_bootstraps(mock))
                .to_string_lossy()
                .into_owned()
        };
        for topic in &options.topics {
            let partitions = topic.partitions.unwrap_or(options.partitions);
            let name = CString::new(topic.name.as_str())?;
            let replication = options.brokers.min(3);
            // SAFETY: as above; `name` is a valid C string for the call.
            let err = unsafe {
                rdsys::rd_kafka_mock_topic_create(mock, name.as_ptr(), partitions, replication)
            };
            if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                bail!("cannot create topic {}: {:?}", topic.name, err);
            }
        }
        Ok(MockBroker {
            bootstrap,
            ..broker
        })
    }

    fn raw(&self) -> Result<*mut rdsys::rd_kafka_mock_cluster_t> {
        let client: &Client<_> = self.client.client();
        // SAFETY: the handle is valid for the life of `self.client`.
        let mock = unsafe { rdsys::rd_kafka_handle_mock_cluster(client.native_ptr()) };
        if mock.is_null() {
            bail!("librdkafka did not create a mock cluster");
        }
        Ok(mock)
    }

    /// The bootstrap address clients use (`host:port[,host:port...]`).
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }
}

/// Runs the broker until `shutdown` fires: prints and writes the bootstrap address, then waits.
pub async fn run(options: BrokerOptions, shutdown: CancellationToken) -> Result<()> {
    let broker = tokio::task::spawn_blocking({
        let options = options.clone();
        move || MockBroker::start(&options)
    })
    .await??;
    let address = broker.bootstrap_servers().to_string();
    if let Some(path) = &options.address_file {
        // Write then rename, so a script polling for the file never reads half an address.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{address}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{address}");
    tracing::info!(bootstrap = %address, "dev broker running (librdkafka mock cluster)");
    crate::notify::ready(&format!("bootstrap {address}"));
    shutdown.cancelled().await;
    crate::notify::stopping();
    tracing::info!("dev broker stopping");
    if let Some(path) = &options.address_file {
        let _ = std::fs::remove_file(path);
    }
    tokio::task::spawn_blocking(move || {
        drop(broker);
    })
    .await?;
    // The mock's threads may take a moment to close their sockets.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs_parse_and_validate() {
        assert_eq!(
            "orders:8".parse::<TopicSpec>().unwrap(),
            TopicSpec {
                name: "orders".into(),
                partitions: Some(8)
            }
        );
        assert_eq!("a.b-c_d".parse::<TopicSpec>().unwrap().partitions, None);
        assert!("bad name".parse::<TopicSpec>().is_err());
        assert!("t:0".parse::<TopicSpec>().is_err());
        assert!("t:x".parse::<TopicSpec>().is_err());
        assert!(":3".parse::<TopicSpec>().is_err());
    }
}
