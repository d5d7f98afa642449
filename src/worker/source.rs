//! Where the worker loop gets its messages and keeps its offsets: a seam over librdkafka's
//! `StreamConsumer`, so the loop also runs on a scripted source in unit tests.
//!
//! Errors stay librdkafka's own: the loop tells a revoked partition from a real failure by
//! the error code, and a fake must be able to say either.

use super::batch::Record;
use super::client_context::WorkerContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use std::sync::atomic::Ordering;

/// A subscription whose messages the worker hands on, and whose offsets it stores only once
/// the handler acked them.
pub(crate) trait MessageSource {
    /// Subscribes to `topics`.
    fn subscribe(&self, topics: &[&str]) -> KafkaResult<()>;

    /// The next message, copied out. Waits as long as it takes: the loop bounds the wait and
    /// drops the future, so it must be cancel-safe.
    async fn recv(&self) -> KafkaResult<Record>;

    /// Marks `offset` of `topic`/`partition` processed: the next commit writes `offset + 1`,
    /// where the next owner of the partition starts.
    fn store_offset(&self, topic: &str, partition: i32, offset: i64) -> KafkaResult<()>;

    /// Commits the stored offsets, waiting for the broker.
    fn commit_sync(&self) -> KafkaResult<()>;

    /// The partitions revoked since the last call, as `(topic, partition)`. librdkafka
    /// revokes them (and the rebalance callback commits what was stored) inside `recv`; the
    /// loop then drops what it still holds of them.
    fn revoked(&self) -> Vec<(String, i32)>;

    /// Says the shutdown's final commit is done, so partitions revoked as the consumer leaves
    /// commit nothing more.
    fn final_commit_done(&self);

    /// Leaves the subscription.
    fn unsubscribe(&self);
}

impl MessageSource for StreamConsumer<WorkerContext> {
    fn subscribe(&self, topics: &[&str]) -> KafkaResult<()> {
        Consumer::subscribe(self, topics)
    }

    async fn recv(&self) -> KafkaResult<Record> {
        StreamConsumer::recv(self)
            .await
            .map(|message| Record::from_kafka(&message))
    }

    fn store_offset(&self, topic: &str, partition: i32, offset: i64) -> KafkaResult<()> {
        Consumer::store_offset(self, topic, partition, offset)
    }

    fn commit_sync(&self) -> KafkaResult<()> {
        self.commit_consumer_state(CommitMode::Sync)
    }

    fn revoked(&self) -> Vec<(String, i32)> {
        let mut revoked = self
            .context()
            .revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *revoked)
    }

    fn final_commit_done(&self) {
        self.context()
            .final_commit_done
            .store(true, Ordering::Release);
    }

    fn unsubscribe(&self) {
        Consumer::unsubscribe(self);
    }
}
