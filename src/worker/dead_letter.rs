//! Where messages go whose attempts ran out under `retry.on_exhausted: dead_letter`: a seam
//! over the dead-letter `FutureProducer`, so unit tests can see what would be produced.

use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// How long a dead-lettered copy may wait in the producer's queue for the broker.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// One copy to dead-letter: the original key and value, and the headers to give it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadLetter<'a> {
    /// The dead-letter topic.
    pub topic: &'a str,
    /// The original key.
    pub key: Option<&'a [u8]>,
    /// The original value (`None` for a tombstone).
    pub value: Option<&'a [u8]>,
    /// The original headers, then the `kafkactl.*` ones ([`super::batch::dead_letter_headers`]).
    pub headers: &'a [(String, Vec<u8>)],
}

/// Where the broker put a dead-lettered copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
}

/// Takes dead-lettered copies. A message is acked only once its copy was delivered.
pub(crate) trait DeadLetterSink {
    /// Produces one copy and waits until the broker has it.
    async fn produce(&self, letter: DeadLetter<'_>) -> KafkaResult<Delivered>;
}

impl DeadLetterSink for FutureProducer {
    async fn produce(&self, letter: DeadLetter<'_>) -> KafkaResult<Delivered> {
        let mut headers = OwnedHeaders::new();
        for (name, value) in letter.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut copy: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(letter.topic).headers(headers);
        if let Some(key) = letter.key {
            copy = copy.key(key);
        }
        if let Some(value) = letter.value {
            copy = copy.payload(value);
        }
        match self.send(copy, QUEUE_TIMEOUT).await {
            Ok(delivery) => Ok(Delivered {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((e, _)) => Err(e),
        }
    }
}
