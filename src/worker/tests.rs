//! The worker loop (batches, acks, retries, splitting, dead letters, handler restarts, stop)
//! on the fakes in [`super::fakes`]: no broker, no handler process, no systemd. The clock is
//! tokio's paused one, so backoffs cost no real time and the waits asserted are exact.

use super::batch::Record;
use super::fakes::{
    Answer, Event, FakeDeadLetters, FakeLauncher, FakeSource, Incoming, Journal, Received,
};
use super::protocol::FromHandler;
use super::settings::{self, WorkerSettings};
use super::{Worker, WorkerOptions, MAX_HANDLER_FAILURES};
use crate::manifest::Manifest;
use crate::metrics::Metrics;
use crate::units::Instance;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "product_changes";
const DEAD_LETTER_TOPIC: &str = "price_drops.dlq";
/// `--drain-timeout` in these tests.
const DRAIN: Duration = Duration::from_secs(20);

/// The loop with no Kafka, no dead-letter producer and no handler process behind it.
type FakeWorker = Worker<FakeSource, FakeDeadLetters, FakeLauncher>;

/// The settings of `price_drops:1` on host `server1`, with `extra` lines added to the
/// consumer's entry (`batch: ...`, `retry: ...`).
fn consumer_settings(extra: &[&str]) -> WorkerSettings {
    let mut text = format!(
        "app: myapp\nbrokers: k1:9092\nconsumers:\n  - name: price_drops\n    topics: [{TOPIC}, refunds]\n    command: [./handler]\n"
    );
    for line in extra {
        text.push_str(&format!("    {line}\n"));
    }
    let manifest = Manifest::parse(&text, "kc.yml").unwrap();
    settings::resolve(
        &manifest,
        &Instance::new("price_drops", 1),
        "server1",
        None,
        None,
    )
    .unwrap()
}

/// A worker on fakes, with the default `--drain-timeout` and `--handler-grace`.
fn worker(
    settings: WorkerSettings,
    source: FakeSource,
    launcher: FakeLauncher,
    dead_letters: Option<FakeDeadLetters>,
) -> FakeWorker {
    let options = WorkerOptions {
        instance: "price_drops:1".into(),
        manifest: "kc.yml".into(),
        brokers: None,
        statsd: None,
        metrics_listen: None,
        drain_timeout: DRAIN,
        handler_grace: Duration::from_secs(5),
        ready_timeout: Duration::from_secs(60),
    };
    Worker::from_parts(
        settings,
        &options,
        source,
        Arc::new(AtomicBool::new(false)),
        Arc::new(Metrics::default()),
        launcher,
        dead_letters,
    )
}

/// A message whose key, value and one header name its offset.
fn record(topic: &str, partition: i32, offset: i64) -> Record {
    Record {
        topic: topic.to_string(),
        partition,
        offset,
        timestamp_ms: Some(1_523_450_393_000),
        key: Some(format!("key-{offset}").into_bytes()),
        value: Some(format!("value-{offset}").into_bytes()),
        headers: vec![("trace".to_string(), format!("trace-{offset}").into_bytes())],
    }
}

/// Messages at `offsets` of partition 0 of [`TOPIC`].
fn messages(offsets: &[i64]) -> Vec<Incoming> {
    offsets
        .iter()
        .map(|&offset| Incoming::Message(record(TOPIC, 0, offset)))
        .collect()
}

fn sent(id: u64, offsets: &[i64]) -> Event {
    Event::Sent {
        id,
        offsets: offsets.to_vec(),
    }
}

fn stored(topic: &str, partition: i32, offset: i64) -> Event {
    Event::Stored {
        topic: topic.to_string(),
        partition,
        offset,
    }
}

/// What happens before the first batch: the handler starts, then the subscription.
fn started() -> Vec<Event> {
    vec![
        Event::HandlerStarted,
        Event::Subscribed(vec![TOPIC.to_string(), "refunds".to_string()]),
    ]
}

fn count(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The waits between consecutive batches sent.
fn gaps(journal: &Journal) -> Vec<Duration> {
    journal
        .sent_at()
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .collect()
}

/// Whether a paused-clock wait is `expected`: tokio's timer wheel may round a deadline up to
/// its next millisecond tick.
fn about(actual: Duration, expected: Duration) -> bool {
    actual >= expected && actual <= expected + Duration::from_millis(2)
}

/// Answers the script's `n`th batch (from 1) with `answer(n)`.
fn nth(
    mut answer: impl FnMut(u32) -> Answer + Send + 'static,
) -> impl FnMut(&Received) -> Answer + Send + 'static {
    let mut n = 0;
    move |_| {
        n += 1;
        answer(n)
    }
}

#[tokio::test(start_paused = true)]
async fn an_acked_batch_stores_the_highest_offset_of_each_partition() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let script = [
        record(TOPIC, 0, 5),
        record(TOPIC, 1, 9),
        record(TOPIC, 0, 6),
        record("refunds", 0, 2),
    ]
    .map(Incoming::Message);
    let mut worker = worker(
        consumer_settings(&["batch: {max_size: 4, max_wait_ms: 100}"]),
        FakeSource::new(script, &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Ack),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));
    let summary = worker.shut_down(false).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[5, 9, 6, 2]),
        stored(TOPIC, 0, 6),
        stored(TOPIC, 1, 9),
        stored("refunds", 0, 2),
        Event::Committed,
        Event::FinalCommitDone,
        Event::HandlerShutDown("sigterm".into()),
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
    // librdkafka commits the stored offset + 1: each partition resumes after the batch.
    let committed: BTreeMap<(String, i32), i64> = [
        ((TOPIC.to_string(), 0), 7),
        ((TOPIC.to_string(), 1), 10),
        (("refunds".to_string(), 0), 3),
    ]
    .into();
    assert_eq!(journal.committed(), committed);
    assert_eq!(count(&worker.metrics.batches), 1);
    assert_eq!(count(&worker.metrics.processed), 4);
    assert_eq!(
        summary,
        "stopped: offsets committed, handler exited (fake); 4 messages processed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retryable_fail_is_retried_with_doubling_backoff_and_the_later_ack_stores() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 3, backoff_ms: 100, max_backoff_ms: 1000}"]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            nth(|n| match n {
                1 | 2 => Answer::fail("PG::ConnectionBad"),
                _ => Answer::Ack,
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    // A retry resends the batch with the same id; nothing is stored before the ack.
    expected.extend([
        sent(1, &[5]),
        sent(1, &[5]),
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
    ]);
    assert_eq!(journal.events(), expected);
    let gaps = gaps(&journal);
    assert!(about(gaps[0], Duration::from_millis(100)), "{gaps:?}");
    assert!(about(gaps[1], Duration::from_millis(200)), "{gaps:?}");
    assert_eq!(count(&worker.metrics.errors), 2);
    assert_eq!(count(&worker.metrics.retries), 2);
    assert_eq!(count(&worker.metrics.processed), 1);
    assert_eq!(count(&worker.metrics.handler_restarts), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_keeps_failing_is_split_and_only_the_poison_message_is_dead_lettered() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let dead_letters = FakeDeadLetters::new(&journal);
    let mut worker = worker(
        consumer_settings(&[
            "batch: {max_size: 3, max_wait_ms: 100}",
            "retry: {max_attempts: 2, backoff_ms: 100, on_exhausted: dead_letter, dead_letter_topic: price_drops.dlq}",
        ]),
        FakeSource::new(messages(&[10, 11, 12]), &stop, &journal),
        FakeLauncher::new(&journal, |batch: &Received| {
            if batch.offsets().contains(&11) {
                Answer::fail("PG::ConnectionBad: boom")
            } else {
                Answer::Ack
            }
        }),
        Some(dead_letters.clone()),
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[10, 11, 12]),
        sent(1, &[10, 11, 12]),
        // Attempts ran out: one message at a time, one attempt each.
        sent(2, &[10]),
        stored(TOPIC, 0, 10),
        sent(3, &[11]),
        Event::DeadLettered(11),
        stored(TOPIC, 0, 11),
        sent(4, &[12]),
        stored(TOPIC, 0, 12),
    ]);
    assert_eq!(journal.events(), expected);

    let copies = dead_letters.copies();
    assert_eq!(copies.len(), 1);
    let copy = &copies[0];
    assert_eq!(copy.topic, DEAD_LETTER_TOPIC);
    assert_eq!(copy.key.as_deref(), Some(&b"key-11"[..]));
    assert_eq!(copy.value.as_deref(), Some(&b"value-11"[..]));
    assert_eq!(copy.headers[0], ("trace".into(), b"trace-11".to_vec()));
    let header = |name: &str| copy.header(name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(header("kafkactl.error"), "PG::ConnectionBad: boom");
    // The batch's attempts, not the single one the split made.
    assert_eq!(header("kafkactl.attempts"), "2");
    assert_eq!(header("kafkactl.source.topic"), TOPIC);
    assert_eq!(header("kafkactl.source.partition"), "0");
    assert_eq!(header("kafkactl.source.offset"), "11");
    assert_eq!(header("kafkactl.consumer"), "price_drops");
    assert_eq!(header("kafkactl.group"), "myapp-price_drops");
    assert_eq!(header("kafkactl.client_id"), "server1-price_drops-1");
    assert!(header("kafkactl.failed_at_ms").parse::<i64>().unwrap() > 0);
    assert_eq!(copy.headers.len(), 1 + 9);
    assert_eq!(count(&worker.metrics.dead_lettered), 1);
    assert_eq!(count(&worker.metrics.processed), 2);
}

#[tokio::test(start_paused = true)]
async fn on_exhausted_stop_ends_fatally_and_stores_nothing_for_the_failing_message() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&[
            "batch: {max_size: 2, max_wait_ms: 100}",
            "retry: {max_attempts: 2, backoff_ms: 100, on_exhausted: stop}",
        ]),
        FakeSource::new(messages(&[20, 21, 22]), &stop, &journal),
        FakeLauncher::new(&journal, |batch: &Received| {
            if batch.offsets().contains(&21) {
                Answer::fail("boom")
            } else {
                Answer::Ack
            }
        }),
        None,
    );

    assert_eq!(
        worker.work(&stop).await,
        Err(
            "product_changes/0@21 failed 2 time(s), last: boom; stopping without acking it \
             (retry.on_exhausted: stop)"
                .to_string()
        )
    );
    let summary = worker.shut_down(true).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[20, 21]),
        sent(1, &[20, 21]),
        sent(2, &[20]),
        stored(TOPIC, 0, 20),
        sent(3, &[21]),
        // No batch after the fatal one: 22 stays for the next owner.
        Event::Committed,
        Event::FinalCommitDone,
        Event::HandlerShutDown("error".into()),
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
    // The next owner starts at the message that failed.
    assert_eq!(
        journal.committed(),
        BTreeMap::from([((TOPIC.to_string(), 0), 21)])
    );
    assert!(summary.ends_with("1 messages processed"), "{summary}");
}

#[tokio::test(start_paused = true)]
async fn a_crashed_handler_is_restarted_after_a_backoff_and_gets_the_batch_again() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 3, backoff_ms: 100}"]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            nth(|n| if n == 1 { Answer::Crash } else { Answer::Ack }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        Event::HandlerKilled,
        Event::HandlerStarted,
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
    ]);
    assert_eq!(journal.events(), expected);
    // The retry's backoff, then the restart's (1 s after a first failure).
    let gaps = gaps(&journal);
    assert!(about(gaps[0], Duration::from_millis(1100)), "{gaps:?}");
    assert_eq!(count(&worker.metrics.handler_restarts), 1);
    assert_eq!(worker.handler_failures, 0, "an ack resets the count");
}

#[tokio::test(start_paused = true)]
async fn max_handler_failures_in_a_row_end_the_loop() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 10, backoff_ms: 100}"]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Crash),
        None,
    );

    assert_eq!(
        worker.work(&stop).await,
        Err(format!(
            "the handler failed {MAX_HANDLER_FAILURES} times in a row, last: the handler closed \
             its stdout"
        ))
    );
    let summary = worker.shut_down(true).await;

    let mut expected = started();
    expected.extend([sent(1, &[5]), Event::HandlerKilled]);
    for _ in 1..MAX_HANDLER_FAILURES {
        expected.extend([Event::HandlerStarted, sent(1, &[5]), Event::HandlerKilled]);
    }
    expected.extend([
        Event::Committed,
        Event::FinalCommitDone,
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
    assert!(journal.stored().is_empty());
    assert!(summary.contains("no handler running"), "{summary}");
}

#[tokio::test(start_paused = true)]
async fn handler_failures_end_the_loop_only_when_consecutive() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 10, backoff_ms: 100}"]),
        FakeSource::new(messages(&[5, 6]), &stop, &journal),
        // One failure short of the limit before each ack.
        FakeLauncher::new(
            &journal,
            nth(|n| {
                if n % MAX_HANDLER_FAILURES == 0 {
                    Answer::Ack
                } else {
                    Answer::Crash
                }
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    assert_eq!(
        journal.stored(),
        [(TOPIC.to_string(), 0, 5), (TOPIC.to_string(), 0, 6)]
    );
    assert_eq!(
        count(&worker.metrics.handler_restarts),
        2 * u64::from(MAX_HANDLER_FAILURES - 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_cannot_start_max_times_in_a_row_ends_the_loop_before_subscribing() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let launcher =
        FakeLauncher::new(&journal, |_| Answer::Ack).failing_starts(MAX_HANDLER_FAILURES as usize);
    let mut worker = worker(
        consumer_settings(&[]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        launcher,
        None,
    );

    assert_eq!(
        worker.work(&stop).await,
        Err(format!(
            "the handler failed {MAX_HANDLER_FAILURES} times in a row, last: the handler did \
             not answer init with ready within 60s"
        ))
    );
    assert_eq!(
        journal.events(),
        vec![Event::HandlerStartFailed; MAX_HANDLER_FAILURES as usize]
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_starts_after_failed_starts_gets_to_work() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let launcher = FakeLauncher::new(&journal, |_| Answer::Ack)
        .failing_starts(MAX_HANDLER_FAILURES as usize - 1);
    let mut worker = worker(
        consumer_settings(&[]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        launcher,
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = vec![Event::HandlerStartFailed; MAX_HANDLER_FAILURES as usize - 1];
    expected.extend(started());
    expected.extend([sent(1, &[5]), stored(TOPIC, 0, 5)]);
    assert_eq!(journal.events(), expected);
    // Restarts back off 1, 2, 4 and 8 s.
    let waited = journal.sent_at()[0] - began;
    assert!(about(waited, Duration::from_secs(15)), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_reply_for_another_batch_is_a_protocol_violation_that_restarts_the_handler() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 3, backoff_ms: 100}"]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            nth(|n| match n {
                1 => Answer::Reply(FromHandler::Ack { id: 99 }),
                // A `fail` for another batch is no `fail` of this one either.
                2 => Answer::Reply(FromHandler::Fail {
                    id: 98,
                    error: "boom".into(),
                    retryable: false,
                }),
                _ => Answer::Ack,
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        Event::HandlerKilled,
        Event::HandlerStarted,
        sent(1, &[5]),
        Event::HandlerKilled,
        Event::HandlerStarted,
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
    ]);
    assert_eq!(journal.events(), expected);
    assert_eq!(count(&worker.metrics.handler_restarts), 2);
    assert_eq!(count(&worker.metrics.errors), 2);
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_a_batch_abandons_it_after_the_drain_timeout_and_stores_nothing() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let stopping = stop.clone();
    let mut worker = worker(
        consumer_settings(&[]),
        FakeSource::new(messages(&[5, 6]), &stop, &journal),
        FakeLauncher::new(&journal, move |_| {
            stopping.cancel();
            Answer::Hang
        }),
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));
    let waited = began.elapsed();
    let summary = worker.shut_down(false).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        Event::HandlerKilled,
        Event::Committed,
        Event::FinalCommitDone,
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
    assert!(about(waited, DRAIN), "{waited:?}");
    assert!(summary.contains("no handler running"), "{summary}");
}

#[tokio::test(start_paused = true)]
async fn a_batch_answered_within_the_drain_timeout_is_stored_and_no_other_follows() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let stopping = stop.clone();
    let mut worker = worker(
        consumer_settings(&[]),
        FakeSource::new(messages(&[5, 6]), &stop, &journal),
        FakeLauncher::new(&journal, move |_| {
            stopping.cancel();
            Answer::After(Duration::from_secs(1), Box::new(Answer::Ack))
        }),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));
    worker.shut_down(false).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        Event::Committed,
        Event::FinalCommitDone,
        Event::HandlerShutDown("sigterm".into()),
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_the_retry_backoff_abandons_the_batch() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let stopping = stop.clone();
    let mut worker = worker(
        consumer_settings(&["retry: {max_attempts: 3, backoff_ms: 60000}"]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(&journal, move |_| {
            stopping.cancel();
            Answer::fail("boom")
        }),
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.push(sent(1, &[5]));
    assert_eq!(journal.events(), expected);
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "the backoff was cut short"
    );
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_fail_goes_straight_to_the_dead_letter_topic() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let dead_letters = FakeDeadLetters::new(&journal);
    let mut worker = worker(
        consumer_settings(&[
            "retry: {max_attempts: 5, backoff_ms: 100, on_exhausted: dead_letter, dead_letter_topic: price_drops.dlq}",
        ]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Fail {
            error: "bad json".into(),
            retryable: false,
        }),
        Some(dead_letters.clone()),
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([sent(1, &[5]), Event::DeadLettered(5), stored(TOPIC, 0, 5)]);
    assert_eq!(journal.events(), expected);
    let copy = &dead_letters.copies()[0];
    assert_eq!(copy.header("kafkactl.attempts").as_deref(), Some("1"));
    assert_eq!(copy.header("kafkactl.error").as_deref(), Some("bad json"));
    assert_eq!(count(&worker.metrics.retries), 0);
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_fail_of_a_batch_splits_it_at_once() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let dead_letters = FakeDeadLetters::new(&journal);
    let mut worker = worker(
        consumer_settings(&[
            "batch: {max_size: 2, max_wait_ms: 100}",
            "retry: {max_attempts: 5, backoff_ms: 100, on_exhausted: dead_letter, dead_letter_topic: price_drops.dlq}",
        ]),
        FakeSource::new(messages(&[5, 6]), &stop, &journal),
        FakeLauncher::new(&journal, |batch: &Received| {
            if batch.offsets().contains(&6) {
                Answer::Fail {
                    error: "bad json".into(),
                    retryable: false,
                }
            } else {
                Answer::Ack
            }
        }),
        Some(dead_letters.clone()),
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5, 6]),
        sent(2, &[5]),
        stored(TOPIC, 0, 5),
        sent(3, &[6]),
        Event::DeadLettered(6),
        stored(TOPIC, 0, 6),
    ]);
    assert_eq!(journal.events(), expected);
    // A message given up on after a split is labelled with the policy's attempts, however
    // few were made.
    let copy = &dead_letters.copies()[0];
    assert_eq!(copy.header("kafkactl.attempts").as_deref(), Some("5"));
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_the_broker_refuses_stops_the_instance_without_storing() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let refusing = FakeDeadLetters::refusing(
        &journal,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
    );
    let mut worker = worker(
        consumer_settings(&[
            "retry: {max_attempts: 1, on_exhausted: dead_letter, dead_letter_topic: price_drops.dlq}",
        ]),
        FakeSource::new(messages(&[5]), &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::fail("boom")),
        Some(refusing),
    );

    let reason = worker.work(&stop).await.unwrap_err();

    assert!(
        reason.starts_with("cannot dead-letter product_changes/0@5 to price_drops.dlq: "),
        "{reason}"
    );
    assert!(reason.ends_with("; stopping without acking it"), "{reason}");
    let mut expected = started();
    expected.push(sent(1, &[5]));
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_revoked_partition_is_not_stored_and_is_no_error() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let script = [record(TOPIC, 0, 5), record(TOPIC, 1, 9)].map(Incoming::Message);
    let mut worker = worker(
        consumer_settings(&["batch: {max_size: 2, max_wait_ms: 100}"]),
        FakeSource::new(script, &stop, &journal).revoke(TOPIC, 1),
        FakeLauncher::new(&journal, |_| Answer::Ack),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    assert_eq!(journal.stored(), [(TOPIC.to_string(), 0, 5)]);
    assert_eq!(count(&worker.metrics.kafka_errors), 0);
}

#[tokio::test(start_paused = true)]
async fn a_consume_error_is_counted_and_the_loop_goes_on() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut script = vec![Incoming::Error(KafkaError::MessageConsumption(
        RDKafkaErrorCode::BrokerTransportFailure,
    ))];
    script.extend(messages(&[5]));
    let mut worker = worker(
        consumer_settings(&[]),
        FakeSource::new(script, &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Ack),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([sent(1, &[5]), stored(TOPIC, 0, 5)]);
    assert_eq!(journal.events(), expected);
    assert_eq!(count(&worker.metrics.kafka_errors), 1);
}

#[tokio::test(start_paused = true)]
async fn a_batch_closes_after_max_wait_and_a_stop_while_one_fills_drops_it_unsent() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut script = messages(&[5, 6]);
    script.push(Incoming::Quiet);
    // The script then ends, which stops the loop while this one waits for company.
    script.extend(messages(&[7]));
    let mut worker = worker(
        consumer_settings(&["batch: {max_size: 10, max_wait_ms: 250}"]),
        FakeSource::new(script, &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Ack),
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([sent(1, &[5, 6]), stored(TOPIC, 0, 6)]);
    assert_eq!(journal.events(), expected);
    let waited = journal.sent_at()[0] - began;
    assert!(about(waited, Duration::from_millis(250)), "{waited:?}");
}

// ---------------------------------------------------------------- pipelining (batch.in_flight)

/// Answers every batch `after` its previous one (the fake handler works in order), with
/// `answer(offsets of the batch)`.
fn each_after(
    after: Duration,
    mut answer: impl FnMut(&[i64]) -> Answer + Send + 'static,
) -> impl FnMut(&Received) -> Answer + Send + 'static {
    move |batch: &Received| Answer::After(after, Box::new(answer(&batch.offsets())))
}

/// The most batches sent and not yet stored at any point, from the journal (each batch
/// stores one offset of partition 0 here).
fn most_in_flight(journal: &Journal) -> usize {
    let (mut open, mut most) = (0usize, 0usize);
    for event in journal.events() {
        match event {
            Event::Sent { .. } => open += 1,
            Event::Stored { .. } => open -= 1,
            _ => {}
        }
        most = most.max(open);
    }
    most
}

#[tokio::test(start_paused = true)]
async fn batches_are_pipelined_up_to_in_flight_and_stored_in_the_order_of_the_acks() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}"]),
        FakeSource::new(messages(&[5, 6, 7, 8, 9]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), |_| Answer::Ack),
        ),
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        // Three before the first answer...
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        // ...then one more for each ack, which stores in order.
        stored(TOPIC, 0, 5),
        sent(4, &[8]),
        stored(TOPIC, 0, 6),
        sent(5, &[9]),
        stored(TOPIC, 0, 7),
        stored(TOPIC, 0, 8),
        stored(TOPIC, 0, 9),
    ]);
    assert_eq!(journal.events(), expected);
    assert_eq!(most_in_flight(&journal), 3);
    assert!(journal.sent_at()[..3].iter().all(|&at| at == began));
    // The handler was never idle: five batches of 10 ms took 50 ms.
    assert!(
        about(began.elapsed(), Duration::from_millis(50)),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(count(&worker.metrics.processed), 5);
}

#[tokio::test(start_paused = true)]
async fn in_flight_1_is_lockstep() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 1}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), |_| Answer::Ack),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        sent(2, &[6]),
        stored(TOPIC, 0, 6),
        sent(3, &[7]),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_reply_for_a_later_batch_in_flight_is_a_violation_and_nothing_is_stored_out_of_order() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}", "retry: {backoff_ms: 100}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        // The first handler answers the second batch first; the next one is correct.
        FakeLauncher::new(
            &journal,
            nth(|n| {
                let answer = if n == 1 {
                    Answer::Reply(FromHandler::Ack { id: 2 })
                } else {
                    Answer::Ack
                };
                Answer::After(Duration::from_millis(10), Box::new(answer))
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        Event::HandlerKilled,
        Event::HandlerStarted,
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        sent(4, &[6]),
        sent(5, &[7]),
        stored(TOPIC, 0, 6),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
    assert_eq!(count(&worker.metrics.handler_restarts), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_is_settled_alone_and_the_batches_behind_it_are_sent_again_after_it() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut failed_once = false;
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}", "retry: {backoff_ms: 100}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), move |offsets| {
                if offsets == [5] && !failed_once {
                    failed_once = true;
                    Answer::fail("PG::ConnectionBad")
                } else {
                    Answer::Ack
                }
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        // 6 and 7 were acked behind the failure: discarded, not stored. 5 is retried alone
        // after its backoff, then 6 and 7 go again, in order.
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        sent(4, &[6]),
        sent(5, &[7]),
        stored(TOPIC, 0, 6),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
    // The retry waited for the failure and the two replies behind it (30 ms), then the
    // backoff.
    let gaps = gaps(&journal);
    assert!(about(gaps[2], Duration::from_millis(130)), "{gaps:?}");
    assert_eq!(count(&worker.metrics.errors), 1);
    assert_eq!(count(&worker.metrics.retries), 1);
    assert_eq!(count(&worker.metrics.handler_restarts), 0);
    assert_eq!(count(&worker.metrics.processed), 3);
}

#[tokio::test(start_paused = true)]
async fn a_poison_message_with_batches_behind_it_is_dead_lettered_before_they_are_stored() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let dead_letters = FakeDeadLetters::new(&journal);
    let mut worker = worker(
        consumer_settings(&[
            "batch: {in_flight: 2}",
            "retry: {max_attempts: 2, backoff_ms: 100, on_exhausted: dead_letter, dead_letter_topic: price_drops.dlq}",
        ]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), |offsets| {
                if offsets == [6] {
                    Answer::fail("bad json")
                } else {
                    Answer::Ack
                }
            }),
        ),
        Some(dead_letters.clone()),
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        stored(TOPIC, 0, 5),
        sent(3, &[7]),
        sent(2, &[6]),
        Event::DeadLettered(6),
        stored(TOPIC, 0, 6),
        sent(4, &[7]),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
    assert_eq!(dead_letters.copies().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn on_exhausted_stop_with_batches_behind_stores_nothing_past_the_failing_one() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}", "retry: {max_attempts: 1}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), |offsets| {
                if offsets == [5] {
                    Answer::fail("boom")
                } else {
                    Answer::Ack
                }
            }),
        ),
        None,
    );

    let reason = worker.work(&stop).await.unwrap_err();
    worker.shut_down(true).await;

    assert!(
        reason.contains("product_changes/0@5 failed 1 time(s)"),
        "{reason}"
    );
    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        // Their replies were read (the handler is idle again) and dropped.
        Event::Committed,
        Event::FinalCommitDone,
        Event::HandlerShutDown("error".into()),
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_stop_with_batches_in_flight_stores_those_acked_within_the_drain_timeout() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    // The script ends after 7, which stops the loop with three batches in flight (there is
    // room for a fourth, so it asks for one at once), answered at 8, 16 and 24 s: the third
    // misses the 20 s drain.
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 4}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_secs(8), |_| Answer::Ack),
        ),
        None,
    );
    let began = Instant::now();

    assert_eq!(worker.work(&stop).await, Ok(()));
    let waited = began.elapsed();
    let summary = worker.shut_down(false).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        stored(TOPIC, 0, 5),
        stored(TOPIC, 0, 6),
        Event::HandlerKilled,
        Event::Committed,
        Event::FinalCommitDone,
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
    assert!(about(waited, DRAIN), "{waited:?}");
    assert!(summary.contains("no handler running"), "{summary}");
}

#[tokio::test(start_paused = true)]
async fn a_stop_with_batches_in_flight_that_all_answer_shuts_the_handler_down_gracefully() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_secs(1), |offsets| {
                // A failure while stopping: it and what is behind it are not stored.
                if offsets == [6] {
                    Answer::fail("boom")
                } else {
                    Answer::Ack
                }
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));
    worker.shut_down(false).await;

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        stored(TOPIC, 0, 5),
        Event::Committed,
        Event::FinalCommitDone,
        Event::HandlerShutDown("sigterm".into()),
        Event::Unsubscribed,
    ]);
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_revoke_drops_the_revoked_partitions_batches_in_flight() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let script = vec![
        Incoming::Message(record(TOPIC, 0, 5)),
        Incoming::Message(record(TOPIC, 1, 9)),
        Incoming::Revoke(TOPIC.to_string(), 1),
        Incoming::Message(record(TOPIC, 0, 6)),
        // The replies come before the stop.
        Incoming::Pause(Duration::from_secs(1)),
    ];
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 4}", "retry: {backoff_ms: 100}"]),
        FakeSource::new(script, &stop, &journal),
        // The revoked partition's batch fails: it is no longer ours to retry, and the batch
        // behind it need not go again.
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), |offsets| {
                if offsets == [9] {
                    Answer::fail("boom")
                } else {
                    Answer::Ack
                }
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[9]),
        Event::Revoked(TOPIC.to_string(), 1),
        sent(3, &[6]),
        stored(TOPIC, 0, 5),
        stored(TOPIC, 0, 6),
    ]);
    assert_eq!(journal.events(), expected);
    assert_eq!(count(&worker.metrics.retries), 0);
    assert_eq!(count(&worker.metrics.kafka_errors), 0);
}

#[tokio::test(start_paused = true)]
async fn a_revoke_drops_the_revoked_partitions_messages_from_a_batch_that_is_retried() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let script = vec![
        Incoming::Message(record(TOPIC, 0, 5)),
        Incoming::Message(record(TOPIC, 1, 9)),
        Incoming::Pause(Duration::from_millis(5)),
        Incoming::Revoke(TOPIC.to_string(), 1),
        Incoming::Message(record(TOPIC, 0, 6)),
        Incoming::Message(record(TOPIC, 0, 7)),
    ];
    let mut first = true;
    let mut worker = worker(
        consumer_settings(&[
            "batch: {max_size: 2, max_wait_ms: 100, in_flight: 2}",
            "retry: {backoff_ms: 100}",
        ]),
        FakeSource::new(script, &stop, &journal),
        FakeLauncher::new(
            &journal,
            each_after(Duration::from_millis(10), move |_| {
                if std::mem::take(&mut first) {
                    Answer::fail("boom")
                } else {
                    Answer::Ack
                }
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5, 9]),
        Event::Revoked(TOPIC.to_string(), 1),
        sent(2, &[6, 7]),
        // The retry carries partition 0's message only; 6 and 7 go again behind it.
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        sent(3, &[6, 7]),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_handler_crash_with_batches_in_flight_sends_them_all_to_the_new_handler_in_order() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 3}", "retry: {backoff_ms: 100}"]),
        FakeSource::new(messages(&[5, 6, 7]), &stop, &journal),
        FakeLauncher::new(
            &journal,
            nth(|n| {
                let answer = if n == 1 { Answer::Crash } else { Answer::Ack };
                Answer::After(Duration::from_millis(10), Box::new(answer))
            }),
        ),
        None,
    );

    assert_eq!(worker.work(&stop).await, Ok(()));

    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        Event::HandlerKilled,
        Event::HandlerStarted,
        sent(1, &[5]),
        stored(TOPIC, 0, 5),
        sent(4, &[6]),
        sent(5, &[7]),
        stored(TOPIC, 0, 6),
        stored(TOPIC, 0, 7),
    ]);
    assert_eq!(journal.events(), expected);
    // The retry's backoff, then the restart's.
    let gaps = gaps(&journal);
    assert!(about(gaps[2], Duration::from_millis(1110)), "{gaps:?}");
    assert_eq!(count(&worker.metrics.handler_restarts), 1);
    assert_eq!(worker.handler_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn a_handler_stuck_on_a_batch_stops_the_heartbeat_while_more_messages_come() {
    let stop = CancellationToken::new();
    let journal = Journal::default();
    let mut script = messages(&[5]);
    script.push(Incoming::Pause(Duration::from_secs(10)));
    script.extend(messages(&[6]));
    script.push(Incoming::Pause(Duration::from_secs(10)));
    script.extend(messages(&[7]));
    script.push(Incoming::Quiet);
    let mut worker = worker(
        consumer_settings(&["batch: {in_flight: 4}"]),
        FakeSource::new(script, &stop, &journal),
        FakeLauncher::new(&journal, |_| Answer::Hang),
        None,
    );
    let heartbeat = worker.heartbeat.clone();
    let stopping = stop.clone();

    let (result, quiet) = tokio::join!(worker.work(&stop), async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let quiet = heartbeat.age();
        stopping.cancel();
        quiet
    });

    assert_eq!(result, Ok(()));
    // The loop sent 6 and 7 and polled the source every second, but made no progress.
    assert!(quiet >= Duration::from_secs(59), "{quiet:?}");
    let mut expected = started();
    expected.extend([
        sent(1, &[5]),
        sent(2, &[6]),
        sent(3, &[7]),
        Event::HandlerKilled,
    ]);
    assert_eq!(journal.events(), expected);
}
