//! The proxy's counters, shown by `HGETALL stats` and reset by `DEL stats`.

use std::sync::atomic::{AtomicI64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $name:literal ),* $(,)?) => {
        /// Counters shared by every connection. All are monotonic between resets except the
        /// gauges listed in [`Stats::GAUGES`].
        #[derive(Debug, Default)]
        pub struct Stats {
            $( $(#[$doc])* pub $field: AtomicI64, )*
        }

        impl Stats {
            /// Every counter with its name, in a stable order.
            fn fields(&self) -> Vec<(&'static str, &AtomicI64)> {
                vec![ $( ($name, &self.$field), )* ]
            }
        }
    };
}

counters! {
    /// Messages queued in the shared producer and not yet delivered or failed (a gauge).
    producer_unflushed => "producer.unflushed.messages",
    /// Messages the broker did not accept after librdkafka's retries.
    producer_delivery_errors => "producer.delivery.errors",
    /// librdkafka events of a kind the proxy does not handle (kept for Rafka compatibility).
    producer_unknown_events => "producer.unknown.events",
    /// RPUSHX calls accepted into the producer queue.
    producer_messages_queued => "producer.messages.queued",
    /// Messages the broker acknowledged.
    producer_messages_delivered => "producer.messages.delivered",
    /// RPUSHX calls that waited because the producer queue was full (backpressure).
    producer_queue_full_waits => "producer.queue.full.waits",
    /// Messages handed to clients by BLPOP/BLMPOP.
    consumer_messages_delivered => "consumer.messages.delivered",
    /// Acks stored (one per acked offset).
    consumer_acks => "consumer.acks",
    /// Acks for partitions this connection's consumer no longer owns (after a rebalance).
    consumer_acks_stale => "consumer.acks.stale",
    /// BLPOP calls that timed out with no message.
    consumer_timeouts => "consumer.timeouts",
    /// Errors surfaced by consumers (poll, commit, creation).
    consumer_errors => "consumer.errors",
    /// Partition revocations (rebalances) seen by the proxy's consumers.
    consumer_rebalances => "consumer.rebalances",
    /// Consumers currently open (a gauge).
    consumers_active => "consumers.active",
    /// Client connections currently open (a gauge).
    connections_active => "connections.active",
    /// Client connections accepted since start (or the last reset).
    connections_total => "connections.total",
    /// Connections refused because the connection limit was reached.
    connections_rejected => "connections.rejected",
}

impl Stats {
    /// Counters that describe the present, not history; `DEL stats` leaves them alone.
    pub const GAUGES: [&'static str; 3] = [
        "producer.unflushed.messages",
        "consumers.active",
        "connections.active",
    ];

    /// Adds one to a counter.
    pub fn incr(counter: &AtomicI64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicI64, n: i64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts one from a gauge.
    pub fn decr(counter: &AtomicI64) {
        counter.fetch_sub(1, Ordering::Relaxed);
    }

    /// Every counter as (name, value), in a stable order.
    pub fn snapshot(&self) -> Vec<(&'static str, i64)> {
        self.fields()
            .into_iter()
            .map(|(name, value)| (name, value.load(Ordering::Relaxed)))
            .collect()
    }

    /// Resets every counter except the gauges.
    pub fn reset(&self) {
        for (name, value) in self.fields() {
            if !Self::GAUGES.contains(&name) {
                value.store(0, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_rafkas_three_producer_names_first() {
        let names: Vec<_> = Stats::default()
            .snapshot()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            &names[..3],
            &[
                "producer.unflushed.messages",
                "producer.delivery.errors",
                "producer.unknown.events"
            ]
        );
    }

    #[test]
    fn reset_clears_counters_but_not_gauges() {
        let stats = Stats::default();
        Stats::add(&stats.producer_messages_queued, 5);
        Stats::add(&stats.connections_active, 2);
        stats.reset();
        let snap: std::collections::HashMap<_, _> = stats.snapshot().into_iter().collect();
        assert_eq!(snap["producer.messages.queued"], 0);
        assert_eq!(snap["connections.active"], 2);
    }
}
