//! One connection's librdkafka consumer: created by its first BLPOP, committing what was acked
//! when partitions are revoked, and closed (commit + leave group) off the async runtime.

use crate::stats::Stats;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use std::sync::Arc;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Commits stored offsets when partitions are revoked, so that a rebalance hands the next
/// owner exactly what this connection's client acked (Rafka did not, and redelivered 11-16 %
/// of messages around a rebalance).
pub struct RebalanceContext {
    stats: Arc<Stats>,
    id: String,
}

impl ClientContext for RebalanceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        Stats::incr(&self.stats.consumer_errors);
        tracing::warn!(client = %self.id, %error, reason, "consumer error");
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            Stats::incr(&self.stats.consumer_rebalances);
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => {}
                // Nothing stored since the last commit.
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(err) => {
                    Stats::incr(&self.stats.consumer_errors);
                    tracing::warn!(client = %self.id, error = %err, "commit on revoke failed");
                }
            }
            tracing::debug!(client = %self.id, count = partitions.count(), "partitions revoked");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(err) => {
                Stats::incr(&self.stats.consumer_errors);
                tracing::warn!(client = %self.id, error = %err, "offset commit failed");
            }
        }
    }
}

/// The consumer type every proxy connection uses.
pub type KafkaConsumer = StreamConsumer<RebalanceContext>;

/// What an ack did.
#[derive(Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The offset was stored and will be committed.
    Stored,
    /// This consumer no longer owns the partition (it was revoked in a rebalance); the new
    /// owner will receive the message again, which is what at-least-once requires.
    NotOwned,
}

/// A connection's consumer with its subscription.
pub struct ProxyConsumer {
    consumer: Option<KafkaConsumer>,
    topics: Vec<String>,
    stats: Arc<Stats>,
    /// Keeps the server's shutdown waiting until this consumer has committed and left.
    tracked: Option<TaskTrackerToken>,
}

impl ProxyConsumer {
    /// Creates a consumer and subscribes it to `topics`.
    pub fn create(
        config: &ClientConfig,
        topics: Vec<String>,
        id: &str,
        stats: Arc<Stats>,
        tracked: TaskTrackerToken,
    ) -> KafkaResult<ProxyConsumer> {
        let context = RebalanceContext {
            stats: stats.clone(),
            id: id.to_string(),
        };
        let consumer: KafkaConsumer = config.create_with_context(context)?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        Stats::incr(&stats.consumers_active);
        Ok(ProxyConsumer {
            consumer: Some(consumer),
            topics,
            stats,
            tracked: Some(tracked),
        })
    }

    /// The topics this consumer is subscribed to, in the client's order.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The librdkafka consumer.
    pub fn kafka(&self) -> &KafkaConsumer {
        self.consumer
            .as_ref()
            .expect("consumer is present until closed")
    }

    /// Stores `offset + 1` for a partition, to be committed.
    pub fn ack(&self, topic: &str, partition: i32, offset: i64) -> KafkaResult<AckOutcome> {
        // rd_kafka_offset_store stores offset+1, the next message to read.
        match self.kafka().store_offset(topic, partition, offset) {
            Ok(()) => Ok(AckOutcome::Stored),
            Err(KafkaError::StoreOffset(RDKafkaErrorCode::State))
            | Err(KafkaError::StoreOffset(RDKafkaErrorCode::UnknownPartition)) => {
                Ok(AckOutcome::NotOwned)
            }
            Err(err) => Err(err),
        }
    }

    /// Closes the consumer off the async runtime: stored offsets are committed and the member
    /// leaves its group. The server's shutdown waits for this. (Dropping does the same.)
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for ProxyConsumer {
    fn drop(&mut self) {
        let Some(consumer) = self.consumer.take() else {
            return;
        };
        let tracked = self.tracked.take();
        let stats = self.stats.clone();
        // Closing blocks until the group is left, so it never runs on a runtime thread.
        let close = move || {
            drop(consumer);
            Stats::decr(&stats.consumers_active);
            drop(tracked);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(close)),
            Err(_) => drop(std::thread::spawn(close)),
        }
    }
}
