//! What happens after a handler fails a batch: wait and retry, or give up (pure).

use crate::manifest::Retry;
use std::time::Duration;

/// The worker's next move after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try the batch again after this wait.
    RetryAfter(Duration),
    /// No attempts left (or the failure is permanent): dead-letter or stop, per the manifest.
    Exhausted,
}

/// The wait before retry number `retry` (1 = the first retry): `backoff_ms` doubling each
/// time, capped at `max_backoff_ms`.
pub fn backoff(policy: &Retry, retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1).min(40);
    let ms = policy
        .backoff_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.max_backoff_ms);
    Duration::from_millis(ms)
}

/// Decides what follows failed attempt number `attempts_made` (1 = the first try).
/// `retryable: false` from the handler skips the attempts that are left.
pub fn after_failure(policy: &Retry, attempts_made: u32, retryable: bool) -> AfterFailure {
    if !retryable || attempts_made >= policy.max_attempts {
        AfterFailure::Exhausted
    } else {
        AfterFailure::RetryAfter(backoff(policy, attempts_made))
    }
}

/// The wait before restarting a handler that exited or broke the protocol `crashes` times in
/// a row: 1 s doubling to 30 s.
pub fn restart_backoff(crashes: u32) -> Duration {
    let doublings = crashes.saturating_sub(1).min(5);
    Duration::from_millis((1000u64 << doublings).min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::OnExhausted;

    fn policy(max_attempts: u32) -> Retry {
        Retry {
            max_attempts,
            backoff_ms: 100,
            max_backoff_ms: 350,
            on_exhausted: OnExhausted::Stop,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy(10);
        let waits: Vec<u128> = (1..=5).map(|n| backoff(&p, n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
        // No overflow for absurd retry counts.
        assert_eq!(backoff(&p, u32::MAX).as_millis(), 350);
    }

    #[test]
    fn attempts_count_the_first_try() {
        let p = policy(3);
        assert_eq!(
            after_failure(&p, 1, true),
            AfterFailure::RetryAfter(Duration::from_millis(100))
        );
        assert_eq!(
            after_failure(&p, 2, true),
            AfterFailure::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(after_failure(&p, 3, true), AfterFailure::Exhausted);
        assert_eq!(after_failure(&policy(1), 1, true), AfterFailure::Exhausted);
    }

    #[test]
    fn a_permanent_failure_skips_the_remaining_attempts() {
        assert_eq!(after_failure(&policy(5), 1, false), AfterFailure::Exhausted);
    }

    #[test]
    fn handler_restarts_back_off() {
        let waits: Vec<u64> = (1..=8).map(|n| restart_backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
