//! A worker's metrics: counters kept in atomics, sent to statsd over UDP once a second and
//! served as Prometheus text. Rendering is pure; [`run_statsd`] and [`serve_prometheus`] do
//! the I/O.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Most processing-time samples sent per flush; more are sampled down (`|@rate`).
const MAX_TIMINGS_PER_FLUSH: usize = 100;

/// Counters of one worker.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages the handler acked.
    pub processed: AtomicU64,
    /// Batches the handler acked.
    pub batches: AtomicU64,
    /// Failed attempts (a `fail` reply, a crash or a protocol violation).
    pub errors: AtomicU64,
    /// Retries of a failed batch.
    pub retries: AtomicU64,
    /// Messages produced to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Handler restarts.
    pub handler_restarts: AtomicU64,
    /// Partition revocations.
    pub rebalances: AtomicU64,
    /// Successful offset commits.
    pub commits: AtomicU64,
    /// librdkafka errors.
    pub kafka_errors: AtomicU64,
    /// Sum of handler time per batch, in µs.
    pub processing_us_total: AtomicU64,
    timings_ms: Mutex<Timings>,
    lag: Mutex<Vec<(String, i32, i64)>>,
}

#[derive(Debug, Default)]
struct Timings {
    samples: Vec<f64>,
    seen: u64,
}

/// The counters in statsd/Prometheus order, with their names.
const COUNTERS: [&str; 9] = [
    "processed",
    "batches",
    "errors",
    "retries",
    "dead_lettered",
    "handler_restarts",
    "rebalances",
    "commits",
    "kafka_errors",
];

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// `(name, value)` in [`COUNTERS`] order.
    pub counters: Vec<(&'static str, u64)>,
    /// Total handler time in seconds.
    pub processing_seconds: f64,
    /// `(topic, partition, lag)` of the assigned partitions.
    pub lag: Vec<(String, i32, i64)>,
}

impl Metrics {
    /// Adds one.
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the handler time of one batch.
    pub fn record_batch_time(&self, elapsed: Duration) {
        Metrics::add(&self.processing_us_total, elapsed.as_micros() as u64);
        let mut timings = self.timings_ms.lock().expect("metrics lock");
        timings.seen += 1;
        if timings.samples.len() < MAX_TIMINGS_PER_FLUSH {
            timings.samples.push(elapsed.as_secs_f64() * 1000.0);
        }
    }

    /// Replaces the per-partition lag (from librdkafka's statistics).
    pub fn set_lag(&self, lag: Vec<(String, i32, i64)>) {
        *self.lag.lock().expect("metrics lock") = lag;
    }

    /// Copies the counters.
    pub fn snapshot(&self) -> Snapshot {
        let values = [
            &self.processed,
            &self.batches,
            &self.errors,
            &self.retries,
            &self.dead_lettered,
            &self.handler_restarts,
            &self.rebalances,
            &self.commits,
            &self.kafka_errors,
        ];
        Snapshot {
            counters: COUNTERS
                .iter()
                .zip(values)
                .map(|(name, v)| (*name, v.load(Ordering::Relaxed)))
                .collect(),
            processing_seconds: self.processing_us_total.load(Ordering::Relaxed) as f64 / 1e6,
            lag: self.lag.lock().expect("metrics lock").clone(),
        }
    }

    /// Takes the timing samples gathered since the last call and how many batches they
    /// stand for.
    fn take_timings(&self) -> (Vec<f64>, u64) {
        let mut timings = self.timings_ms.lock().expect("metrics lock");
        let seen = std::mem::take(&mut timings.seen);
        (std::mem::take(&mut timings.samples), seen)
    }
}

/// A statsd-safe name part: `[A-Za-z0-9_-]`, anything else becomes `_`.
fn statsd_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The statsd lines for one flush: counter deltas since `previous`, processing-time samples
/// (`|ms`, with `|@rate` when sampled down), and lag gauges. Names are
/// `kafkactl.<consumer>.<metric>`, lag `kafkactl.<consumer>.lag.<topic>.<partition>`.
pub fn statsd_lines(
    consumer: &str,
    now: &Snapshot,
    previous: &Snapshot,
    timings_ms: &[f64],
    batches_timed: u64,
) -> Vec<String> {
    let prefix = format!("kafkactl.{}", statsd_part(consumer));
    let mut lines = Vec::new();
    for (i, (name, value)) in now.counters.iter().enumerate() {
        let before = previous.counters.get(i).map_or(0, |(_, v)| *v);
        let delta = value.saturating_sub(before);
        if delta > 0 {
            lines.push(format!("{prefix}.{name}:{delta}|c"));
        }
    }
    if !timings_ms.is_empty() {
        let rate = timings_ms.len() as f64 / batches_timed.max(1) as f64;
        for ms in timings_ms {
            if rate < 1.0 {
                lines.push(format!("{prefix}.processing_time:{ms:.3}|ms|@{rate:.4}"));
            } else {
                lines.push(format!("{prefix}.processing_time:{ms:.3}|ms"));
            }
        }
    }
    for (topic, partition, lag) in &now.lag {
        lines.push(format!(
            "{prefix}.lag.{}.{partition}:{lag}|g",
            statsd_part(topic)
        ));
    }
    lines
}

/// Packs lines into datagrams of at most `max` bytes (statsd reads one line per `\n`).
pub fn datagrams(lines: &[String], max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of a snapshot, labelled with consumer and instance.
pub fn prometheus_text(consumer: &str, instance: u32, now: &Snapshot) -> String {
    let labels = format!("consumer=\"{}\",instance=\"{instance}\"", label(consumer));
    let mut out = String::new();
    for (name, value) in &now.counters {
        out.push_str(&format!(
            "# TYPE kafkactl_{name}_total counter\nkafkactl_{name}_total{{{labels}}} {value}\n"
        ));
    }
    out.push_str(&format!(
        "# TYPE kafkactl_processing_seconds_total counter\nkafkactl_processing_seconds_total{{{labels}}} {}\n",
        now.processing_seconds
    ));
    out.push_str("# TYPE kafkactl_lag gauge\n");
    for (topic, partition, lag) in &now.lag {
        out.push_str(&format!(
            "kafkactl_lag{{{labels},topic=\"{}\",partition=\"{partition}\"}} {lag}\n",
            label(topic)
        ));
    }
    out
}

/// Sends the metrics to statsd at `target` once a second until `stop`, then once more.
pub async fn run_statsd(
    metrics: Arc<Metrics>,
    consumer: String,
    target: String,
    stop: CancellationToken,
) {
    let socket = match tokio::net::UdpSocket::bind("0.0.0.0:0").await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!(error = %e, "statsd disabled: cannot open a UDP socket");
            return;
        }
    };
    let mut previous = Snapshot::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut warned = false;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        let now = metrics.snapshot();
        let (timings, seen) = metrics.take_timings();
        let lines = statsd_lines(&consumer, &now, &previous, &timings, seen);
        previous = now;
        for datagram in datagrams(&lines, 1400) {
            if let Err(e) = socket.send_to(datagram.as_bytes(), target.as_str()).await {
                if !warned {
                    tracing::warn!(error = %e, %target, "cannot send statsd metrics");
                    warned = true;
                }
            }
        }
        if last {
            return;
        }
    }
}

/// Serves [`prometheus_text`] over HTTP on `listener` (any path) until `stop`.
pub async fn serve_prometheus(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    consumer: String,
    instance: u32,
    stop: CancellationToken,
) {
    loop {
        let (mut socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let body = prometheus_text(&consumer, instance, &metrics.snapshot());
        tokio::spawn(async move {
            // The request itself does not matter; read its head so the client sees a reply
            // to what it sent, not a reset.
            let mut head = [0u8; 2048];
            let _ = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut head)).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// `host:port+n`: the port of instance `n` when instances of one consumer share a base
/// address.
pub fn instance_address(base: SocketAddr, instance: u32) -> Option<SocketAddr> {
    let port = u32::from(base.port()).checked_add(instance)?;
    let port = u16::try_from(port).ok()?;
    Some(SocketAddr::new(base.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statsd_sends_counter_deltas_timings_and_lag() {
        let metrics = Metrics::default();
        let before = metrics.snapshot();
        Metrics::add(&metrics.processed, 10);
        Metrics::incr(&metrics.errors);
        metrics.record_batch_time(Duration::from_millis(3));
        metrics.set_lag(vec![("product.changes".into(), 5, 42)]);
        let now = metrics.snapshot();
        let (timings, seen) = metrics.take_timings();
        let lines = statsd_lines("price_drops", &now, &before, &timings, seen);
        assert_eq!(
            lines,
            [
                "kafkactl.price_drops.processed:10|c",
                "kafkactl.price_drops.errors:1|c",
                "kafkactl.price_drops.processing_time:3.000|ms",
                "kafkactl.price_drops.lag.product_changes.5:42|g",
            ]
        );
        // The next flush sends only what changed since.
        let again = statsd_lines("price_drops", &now, &now, &[], 0);
        assert_eq!(again, ["kafkactl.price_drops.lag.product_changes.5:42|g"]);
    }

    #[test]
    fn timings_are_sampled_down_with_a_rate() {
        let metrics = Metrics::default();
        for _ in 0..400 {
            metrics.record_batch_time(Duration::from_millis(1));
        }
        let (timings, seen) = metrics.take_timings();
        assert_eq!((timings.len(), seen), (MAX_TIMINGS_PER_FLUSH, 400));
        let lines = statsd_lines(
            "c",
            &metrics.snapshot(),
            &metrics.snapshot(),
            &timings,
            seen,
        );
        assert!(lines[0].ends_with("|ms|@0.2500"), "{}", lines[0]);
        assert_eq!(metrics.take_timings().1, 0);
    }

    #[test]
    fn datagrams_split_on_lines() {
        let lines: Vec<String> = (0..5).map(|i| format!("m{i}:1|c")).collect();
        let packed = datagrams(&lines, 14);
        assert_eq!(packed, ["m0:1|c\nm1:1|c", "m2:1|c\nm3:1|c", "m4:1|c"]);
        assert!(datagrams(&[], 1400).is_empty());
    }

    #[test]
    fn prometheus_text_has_types_and_labels() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.processed, 7);
        metrics.set_lag(vec![("t".into(), 0, 3)]);
        let text = prometheus_text("price_drops", 2, &metrics.snapshot());
        assert!(text.contains("# TYPE kafkactl_processed_total counter\n"));
        assert!(
            text.contains("kafkactl_processed_total{consumer=\"price_drops\",instance=\"2\"} 7\n")
        );
        assert!(text.contains(
            "kafkactl_lag{consumer=\"price_drops\",instance=\"2\",topic=\"t\",partition=\"0\"} 3\n"
        ));
    }

    #[test]
    fn instance_ports_are_offset_from_the_base() {
        let base: SocketAddr = "127.0.0.1:9400".parse().unwrap();
        assert_eq!(
            instance_address(base, 2),
            Some("127.0.0.1:9402".parse().unwrap())
        );
        assert_eq!(
            instance_address("127.0.0.1:65535".parse().unwrap(), 1),
            None
        );
    }
}
