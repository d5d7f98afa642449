//! The systemd watchdog: pet it only while the worker loop makes progress or waits healthily
//! for messages, so a handler that hangs gets the instance killed and restarted.

use crate::notify;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
// tokio's clock is std's, unless a test paused it: the worker loop's tests then read the age
// of a heartbeat on the paused clock.
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// When the worker loop last made progress.
#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    last_ms: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    /// The loop made progress (or waited for messages and is fine).
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Whether to pet a watchdog of `interval` after the loop was quiet for `age`. Half the
/// interval: the last pet then comes at most half an interval after the loop stopped, and
/// systemd acts one interval later.
pub fn healthy(age: Duration, interval: Duration) -> bool {
    age < interval / 2
}

/// Pets the watchdog every quarter interval while the heartbeat is healthy, and always once
/// `stopping` is cancelled (the stop has its own deadline, TimeoutStopSec).
pub async fn run(heartbeat: Arc<Heartbeat>, interval: Duration, stopping: CancellationToken) {
    let mut tick = tokio::time::interval(interval / 4);
    let mut stuck = false;
    loop {
        tick.tick().await;
        let age = heartbeat.age();
        if stopping.is_cancelled() || healthy(age, interval) {
            if stuck {
                tracing::info!("the worker loop moves again");
                stuck = false;
            }
            notify::watchdog();
        } else if !stuck {
            stuck = true;
            tracing::error!(
                quiet_s = age.as_secs(),
                watchdog_s = interval.as_secs(),
                "no progress (the handler is not answering): no longer petting the systemd \
                 watchdog, so systemd will restart this instance"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_means_younger_than_half_the_interval() {
        let interval = Duration::from_secs(30);
        assert!(healthy(Duration::from_secs(1), interval));
        assert!(healthy(Duration::from_millis(14_999), interval));
        assert!(!healthy(Duration::from_secs(15), interval));
    }

    #[test]
    fn beats_reset_the_age() {
        let heartbeat = Heartbeat::default();
        std::thread::sleep(Duration::from_millis(20));
        let quiet = heartbeat.age();
        assert!(quiet >= Duration::from_millis(20));
        heartbeat.beat();
        assert!(heartbeat.age() <= quiet);
    }
}
