//! The instance's one-line status, as the seed's worker showed it in `systemctl status`:
//! `myapp-price_drops:server1-price_drops-1 (offset=347720,partition=5) | 16:03:56 Working...`.

use std::time::{Duration, Instant};

/// What the worker is doing, for STATUS= and the process title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Starting the handler and joining the group.
    Starting,
    /// Joined; nothing has arrived yet.
    WaitingForMessages,
    /// Handing messages to the handler.
    Working,
    /// No message within the poll interval.
    Idle,
    /// Waiting before retrying a failed batch.
    Retrying,
    /// Restarting a handler that exited or broke the protocol.
    RestartingHandler,
    /// SIGTERM/SIGINT received.
    ShuttingDown,
}

impl State {
    /// The seed's wording.
    pub fn text(self) -> &'static str {
        match self {
            State::Starting => "Starting...",
            State::WaitingForMessages => "Waiting for messages...",
            State::Working => "Working...",
            State::Idle => "Working (consume timeout)...",
            State::Retrying => "Retrying...",
            State::RestartingHandler => "Restarting handler...",
            State::ShuttingDown => "Shutting down...",
        }
    }
}

/// `<group>:<client id>`, the name the seed used in status lines and process titles.
pub fn consumer_label(group: &str, client_id: &str) -> String {
    format!("{group}:{client_id}")
}

/// The STATUS= line. `position` is the last handled (offset, partition); `clock` is `HH:MM:SS`.
pub fn status_line(label: &str, position: Option<(i64, i32)>, clock: &str, state: State) -> String {
    let (offset, partition) = match position {
        Some((offset, partition)) => (offset.to_string(), partition.to_string()),
        None => ("-".to_string(), "-".to_string()),
    };
    format!(
        "{label} (offset={offset},partition={partition}) | {clock} {}",
        state.text()
    )
}

/// The process title: `consumer=<label> <state>`.
pub fn process_title(label: &str, state: State) -> String {
    format!("consumer={label} {}", state.text())
}

/// Local wall-clock time as `HH:MM:SS`.
pub fn clock_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we pass.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return "--:--:--".to_string();
    }
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// Lets a status update through at most once per `interval`, unless the state changed:
/// systemd keeps every STATUS= it is sent, so a worker at 50k msgs/s must not send each.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last: Option<(Instant, State)>,
}

impl Throttle {
    /// A throttle letting one update per `interval` through.
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            last: None,
        }
    }

    /// Whether an update in `state` at `now` should be sent (and records it if so).
    pub fn allow(&mut self, state: State, now: Instant) -> bool {
        let due = match self.last {
            None => true,
            Some((at, last_state)) => {
                last_state != state || now.saturating_duration_since(at) >= self.interval
            }
        };
        if due {
            self.last = Some((now, state));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_matches_the_seed() {
        let label = consumer_label("myapp-price_drops", "server1-price_drops-1");
        assert_eq!(
            status_line(&label, Some((347_720, 5)), "16:03:56", State::Working),
            "myapp-price_drops:server1-price_drops-1 (offset=347720,partition=5) | 16:03:56 Working..."
        );
        assert_eq!(
            status_line(&label, None, "16:03:56", State::WaitingForMessages),
            "myapp-price_drops:server1-price_drops-1 (offset=-,partition=-) | 16:03:56 Waiting for messages..."
        );
        assert_eq!(
            process_title(&label, State::Idle),
            "consumer=myapp-price_drops:server1-price_drops-1 Working (consume timeout)..."
        );
    }

    #[test]
    fn clock_is_hh_mm_ss() {
        let clock = clock_now();
        assert_eq!(clock.len(), 8, "{clock}");
        assert_eq!(clock.as_bytes()[2], b':');
        assert_eq!(clock.as_bytes()[5], b':');
    }

    #[test]
    fn throttle_passes_state_changes_and_one_update_per_interval() {
        let mut throttle = Throttle::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(throttle.allow(State::Working, t0));
        assert!(!throttle.allow(State::Working, t0 + Duration::from_millis(500)));
        assert!(throttle.allow(State::Idle, t0 + Duration::from_millis(600)));
        assert!(!throttle.allow(State::Idle, t0 + Duration::from_millis(900)));
        assert!(throttle.allow(State::Idle, t0 + Duration::from_millis(1600)));
    }
}
