//! The worker's librdkafka consumer: commits what was acked when partitions are revoked (and
//! tells the worker loop which, so it drops what it still holds of them), records when the
//! group was joined, and keeps per-partition lag from librdkafka's statistics for the
//! metrics.

use crate::metrics::Metrics;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Callbacks librdkafka runs while the worker polls (statistics: once a second).
pub struct WorkerContext {
    /// Set once the first assignment arrived: the instance has joined its group.
    pub joined: Arc<AtomicBool>,
    /// Where lag and errors go.
    pub metrics: Arc<Metrics>,
    /// Set by the shutdown once its final commit is done: the partitions revoked as the
    /// consumer leaves then have nothing left to commit, and a second (synchronous) commit
    /// would wait ~45 s for a group coordinator when the brokers are gone.
    pub final_commit_done: AtomicBool,
    /// Partitions revoked since the worker loop last looked (`MessageSource::revoked`): it
    /// drops the messages of theirs it still holds (batches in flight, batches to re-send).
    pub revoked: Mutex<Vec<(String, i32)>>,
}

impl ClientContext for WorkerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        Metrics::incr(&self.metrics.kafka_errors);
        tracing::warn!(%error, reason, "kafka error");
    }

    fn stats(&self, statistics: Statistics) {
        if let Some(group) = &statistics.cgrp {
            // An instance beyond the partition count gets no assignment, and under the
            // consumer protocol no assign callback either: "up" (coordinator found, member
            // heartbeating) is as joined as it gets, and it must still report READY.
            if group.state == "up" && !self.joined.swap(true, Ordering::AcqRel) {
                tracing::info!(
                    assigned = group.assignment_size,
                    "group coordinator up (no partitions assigned yet)"
                );
            }
        }
        let mut lag = Vec::new();
        for (topic, t) in &statistics.topics {
            for (id, p) in &t.partitions {
                // -1 is librdkafka's internal UA partition; lag -1 means unknown (not ours).
                if *id >= 0 && p.consumer_lag >= 0 {
                    lag.push((topic.clone(), *id, p.consumer_lag));
                }
            }
        }
        self.metrics.set_lag(lag);
    }
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            self.revoked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(
                    partitions
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition())),
                );
            if self.final_commit_done.load(Ordering::Acquire) {
                tracing::info!(
                    count = partitions.count(),
                    "leaving the group: partitions released"
                );
                return;
            }
            // The next owner starts exactly after what this instance's handler acked.
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(err) => {
                    Metrics::incr(&self.metrics.kafka_errors);
                    tracing::warn!(error = %err, "commit on revoke failed");
                }
            }
            Metrics::incr(&self.metrics.rebalances);
            tracing::info!(count = partitions.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let list: Vec<String> = partitions
                .elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect();
            tracing::info!(partitions = %list.join(","), "partitions assigned");
            self.joined.store(true, Ordering::Release);
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) => Metrics::incr(&self.metrics.commits),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(err) => {
                Metrics::incr(&self.metrics.kafka_errors);
                tracing::warn!(error = %err, "offset commit failed");
            }
        }
    }
}
