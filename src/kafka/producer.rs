//! The proxy's one librdkafka producer, shared by every connection, with per-connection
//! delivery accounting so that `DUMP` still answers for the messages of its own connection.

use crate::stats::Stats;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Messages one connection has queued and that are not yet delivered or failed.
#[derive(Debug, Default)]
pub struct Deliveries {
    pending: AtomicI64,
    drained: Notify,
}

impl Deliveries {
    /// Messages of this connection still on their way to the broker.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Acquire)
    }

    /// Waits until every message of this connection is delivered (or failed), or `timeout`
    /// passes; returns how many are still pending.
    pub async fn wait_drained(&self, timeout: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            // Register before checking, so a delivery between the check and the await is
            // not missed.
            notified.as_mut().enable();
            let pending = self.pending();
            if pending <= 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.pending().max(0);
            }
        }
    }

    fn settled(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }
}

/// Routes librdkafka's delivery reports to the connection that produced each message.
pub struct DeliveryContext {
    stats: Arc<Stats>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Arc<Deliveries>;

    fn delivery(&self, result: &DeliveryResult<'_>, owner: Arc<Deliveries>) {
        match result {
            Ok(_) => Stats::incr(&self.stats.producer_messages_delivered),
            Err((err, msg)) => {
                Stats::incr(&self.stats.producer_delivery_errors);
                tracing::warn!(topic = msg.topic(), error = %err, "message not delivered");
            }
        }
        Stats::decr(&self.stats.producer_unflushed);
        owner.settled();
    }
}

/// Why a produce call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The queue stayed full for longer than the backpressure limit.
    #[error("Local: Queue full (waited {0:?} for room)")]
    QueueFull(Duration),
    /// librdkafka refused the message.
    #[error("{0}")]
    Kafka(KafkaError),
}

/// The shared producer.
pub struct SharedProducer {
    inner: ThreadedProducer<DeliveryContext>,
    stats: Arc<Stats>,
    /// How long a produce call waits for room in a full queue before failing.
    max_block: Duration,
}

impl SharedProducer {
    /// Creates the producer from its librdkafka config.
    pub fn new(
        config: &ClientConfig,
        stats: Arc<Stats>,
        max_block: Duration,
    ) -> Result<Self, KafkaError> {
        let inner = config.create_with_context(DeliveryContext {
            stats: stats.clone(),
        })?;
        Ok(SharedProducer {
            inner,
            stats,
            max_block,
        })
    }

    /// Queues one message for `owner`'s connection. When librdkafka's queue is full this waits
    /// (backpressure on the client) up to the configured limit instead of failing at once.
    pub async fn produce(
        &self,
        owner: &Arc<Deliveries>,
        topic: &str,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> Result<(), ProduceError> {
        let mut started: Option<Instant> = None;
        loop {
            let mut record: BaseRecord<'_, [u8], [u8], Arc<Deliveries>> =
                BaseRecord::with_opaque_to(topic, owner.clone()).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            owner.pending.fetch_add(1, Ordering::AcqRel);
            Stats::incr(&self.stats.producer_unflushed);
            match self.inner.send(record) {
                Ok(()) => {
                    Stats::incr(&self.stats.producer_messages_queued);
                    return Ok(());
                }
                Err((err, _record)) => {
                    // The record (and its opaque) came back: undo the accounting.
                    Stats::decr(&self.stats.producer_unflushed);
                    owner.settled();
                    let full = matches!(
                        err,
                        KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
                    );
                    if !full {
                        return Err(ProduceError::Kafka(err));
                    }
                    let since = *started.get_or_insert_with(|| {
                        Stats::incr(&self.stats.producer_queue_full_waits);
                        Instant::now()
                    });
                    if since.elapsed() >= self.max_block {
                        return Err(ProduceError::QueueFull(self.max_block));
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    }

    /// Topic names in the cluster (blocking: call from a blocking context).
    pub fn topic_names(&self, timeout: Duration) -> Result<Vec<String>, KafkaError> {
        let metadata = self.inner.client().fetch_metadata(None, timeout)?;
        let mut names: Vec<String> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| t.name().to_string())
            .filter(|n| !n.starts_with("__"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Flushes every queued message, waiting up to `timeout` (blocking); returns how many
    /// could not be delivered in time.
    pub fn flush(&self, timeout: Duration) -> i32 {
        let _ = self.inner.flush(timeout);
        self.inner.in_flight_count()
    }
}
