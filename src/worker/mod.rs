//! `kafkactl worker NAME:N`: one consumer instance under systemd. It consumes the consumer's
//! topics with librdkafka, hands messages to the app's handler process over the protocol in
//! [`protocol`] (docs/handler-protocol.md), stores an offset only once the handler acked it,
//! retries and dead-letters per the manifest, and talks sd_notify (READY, STATUS, WATCHDOG,
//! STOPPING).
//!
//! Batches are pipelined: up to `batch.in_flight` (W) are sent before the first is answered,
//! so the handler never waits for a round trip. The handler still processes them one after
//! another and answers in order, so the oldest batch in flight is the only one a reply can
//! answer, and an ack covers everything before it on its partitions: offsets are stored only
//! for batches acked in order ("store the highest offset of each acked batch").
//!
//! A batch that fails (a `fail`, a crash, a protocol violation) is settled alone: the batches
//! sent behind it are still answered by a live handler, but their outcomes are discarded;
//! the failed batch is retried in lockstep (backoff, split, dead letter or stop, as with
//! W = 1), and only then are the ones behind it sent again, in order. A partition's messages
//! are therefore never acked out of order, and the handler sees every message again after an
//! earlier one failed (at least once: a message behind a failure may be processed twice).
//! A revoked partition's messages are dropped wherever the loop holds them (in flight, to be
//! sent again, being batched): the partition's next owner starts after what was acked.
//!
//! The loop reaches Kafka and the handler only through the traits `source::MessageSource`,
//! `dead_letter::DeadLetterSink` and `handler::HandlerLauncher`: librdkafka and a child
//! process in production, scripted fakes in the unit tests, as watchexec tests its supervisor
//! without processes.

pub mod batch;
mod client_context;
mod dead_letter;
mod env_file;
mod handler;
pub mod protocol;
pub mod retry;
pub mod settings;
mod source;
pub mod status;
pub mod watchdog;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;

use crate::error::Failure;
use crate::manifest::{EnvFile, Manifest, OnExhausted, Retry};
use crate::metrics::{self, Metrics};
use crate::notify;
use crate::units::Instance;
use batch::{DeadLetterReason, Record};
use client_context::WorkerContext;
use dead_letter::{DeadLetter, DeadLetterSink};
use handler::{HandlerConnection, HandlerError, HandlerLauncher, HandlerSpec};
use protocol::{FromHandler, ToHandler};
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;
use retry::AfterFailure;
use settings::WorkerSettings;
use source::MessageSource;
use status::{State, Throttle};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use watchdog::Heartbeat;

/// A handler that fails this many times in a row (crash, protocol violation, not starting)
/// without acking anything makes the worker exit 1; systemd restarts it, and its
/// StartLimitBurst fails the unit if that keeps happening.
pub const MAX_HANDLER_FAILURES: u32 = 5;

/// How long a poll for messages waits before the loop checks in (beats, status).
const POLL: Duration = Duration::from_secs(1);
/// The wait for a message until READY was sent: joining is noticed (and READY sent) within
/// this, rather than at the end of a whole idle POLL. systemd holds `start` (and deploy its
/// rolling batches) until READY, so this is the floor under every start.
const READY_POLL: Duration = Duration::from_millis(25);

/// What `kafkactl worker` was asked to do.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// `NAME:N`.
    pub instance: String,
    /// The manifest.
    pub manifest: PathBuf,
    /// `--brokers` / `KAFKACTL_BROKERS`.
    pub brokers: Option<String>,
    /// `--statsd` / `KAFKACTL_STATSD`.
    pub statsd: Option<String>,
    /// `--metrics-listen`: Prometheus text on this address's port + N.
    pub metrics_listen: Option<SocketAddr>,
    /// After SIGTERM, how long the batch in flight may still take.
    pub drain_timeout: Duration,
    /// After `shutdown`, how long the handler may take to exit.
    pub handler_grace: Duration,
    /// How long the handler may take to answer `init`.
    pub ready_timeout: Duration,
}

/// Runs one instance until `stop` (SIGTERM/SIGINT), then shuts down in order.
///
/// # Errors
/// [`Failure::Usage`] for a bad instance argument or manifest; any other error when the
/// instance had to stop (its handler keeps failing, or a message exhausted its attempts
/// under `on_exhausted: stop`): systemd then restarts it.
pub async fn run(options: WorkerOptions, stop: CancellationToken) -> anyhow::Result<()> {
    let instance = Instance::parse(&options.instance).map_err(Failure::Usage)?;
    let manifest = Manifest::load(&options.manifest).map_err(|e| Failure::Usage(e.to_string()))?;
    let settings = settings::resolve(
        &manifest,
        &instance,
        &settings::hostname(),
        options.brokers.as_deref(),
        options.statsd.as_deref(),
    )
    .map_err(Failure::Usage)?;
    // The unit's WorkingDirectory= is the app's root, which a relative env_file starts from.
    let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let env_file = settings.env_file(&root);
    if let Some(file) = &env_file {
        // Read again at every handler start; reading it now makes a missing or broken one fail
        // the start, before READY, where `systemctl status` shows it.
        env_file::read(file).map_err(Failure::Usage)?;
    }
    let config = settings.consumer_config();
    let worker = KafkaWorker::new(settings, &config, &options, env_file)?;
    worker.run(stop, &options).await
}

/// How a batch ended.
enum Outcome {
    /// Acked (or dead-lettered): its offsets are stored.
    Done,
    /// Given up on during shutdown: not stored; the next owner gets it again.
    Abandoned,
    /// Attempts ran out.
    Exhausted { error: String, attempts: u32 },
    /// The instance must stop (exit 1).
    Fatal(String),
}

/// One instance's loop over its message source, its handler and, under
/// `on_exhausted: dead_letter`, its dead-letter sink.
struct Worker<S, D, L: HandlerLauncher> {
    settings: WorkerSettings,
    label: String,
    source: S,
    /// Shared with librdkafka's callbacks, which set it on the first assignment.
    joined: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    heartbeat: Arc<Heartbeat>,
    launcher: L,
    handler: Option<L::Handler>,
    /// Handler failures (not `fail` replies) since the last ack.
    handler_failures: u32,
    next_batch_id: u64,
    /// Batches sent and not yet answered, oldest first: the handler answers in this order.
    in_flight: VecDeque<InFlight>,
    /// Batches that were in flight behind a failed one, to send again (before anything new)
    /// once it is settled.
    resend: VecDeque<Vec<Record>>,
    /// Messages received for the next batch; kept here, not in a future, so that a reply can
    /// interrupt the wait for more without losing them.
    filling: Vec<Record>,
    /// When the batch being filled closes (`batch.max_wait_ms` after its first message).
    filling_deadline: Option<tokio::time::Instant>,
    throttle: Throttle,
    position: Option<(i64, i32)>,
    ready: bool,
    dead_letters: Option<D>,
    drain_timeout: Duration,
    handler_grace: Duration,
}

/// The worker as it runs: librdkafka and the handler's child process.
type KafkaWorker = Worker<StreamConsumer<WorkerContext>, FutureProducer, HandlerSpec>;

impl KafkaWorker {
    fn new(
        settings: WorkerSettings,
        config: &ClientConfig,
        options: &WorkerOptions,
        env_file: Option<EnvFile>,
    ) -> anyhow::Result<KafkaWorker> {
        let joined = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(Metrics::default());
        let context = WorkerContext {
            joined: joined.clone(),
            metrics: metrics.clone(),
            final_commit_done: AtomicBool::new(false),
            revoked: std::sync::Mutex::new(Vec::new()),
        };
        let consumer: StreamConsumer<WorkerContext> = config
            .create_with_context(context)
            .map_err(|e| Failure::Usage(format!("invalid kafka settings: {e}")))?;
        let handler_spec = HandlerSpec {
            argv: settings
                .consumer
                .command
                .as_ref()
                .expect("resolve() checked the command")
                .argv(),
            env: settings.consumer.env.clone(),
            env_file,
            worker_env: settings.worker_env(),
            init: settings.init_message(),
            ready_timeout: options.ready_timeout,
        };
        let dead_letters = match &settings.consumer.retry.on_exhausted {
            OnExhausted::DeadLetter { .. } => Some(
                settings
                    .dead_letter_config()
                    .create()
                    .map_err(|e| anyhow::anyhow!("cannot create the dead-letter producer: {e}"))?,
            ),
            OnExhausted::Stop => None,
        };
        Ok(Worker::from_parts(
            settings,
            options,
            consumer,
            joined,
            metrics,
            handler_spec,
            dead_letters,
        ))
    }

    async fn run(mut self, stop: CancellationToken, options: &WorkerOptions) -> anyhow::Result<()> {
        let name = self.settings.consumer.name.clone();
        tracing::info!(
            instance = %self.settings.instance,
            group = %self.settings.group,
            client_id = %self.settings.client_id,
            topics = %self.settings.consumer.topics.join(","),
            "starting"
        );
        self.heartbeat.beat();
        self.show(State::Starting);
        let background = CancellationToken::new();
        // Stopping: STOPPING=1 as soon as the signal arrives, while the batch in flight
        // finishes.
        {
            let stop = stop.clone();
            let label = self.label.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                notify::stopping();
                crate::proctitle::set(&status::process_title(&label, State::ShuttingDown));
                tracing::info!("stop requested: finishing the batch in flight");
            });
        }
        if let Some(interval) = notify::watchdog_interval() {
            tokio::spawn(watchdog::run(
                self.heartbeat.clone(),
                interval,
                stop.clone(),
            ));
        }
        let statsd = self.settings.statsd.clone().map(|target| {
            tokio::spawn(metrics::run_statsd(
                self.metrics.clone(),
                name.clone(),
                target,
                background.clone(),
            ))
        });
        if let Some(base) = options.metrics_listen {
            let index = self.settings.instance.index;
            let address = metrics::instance_address(base, index).ok_or_else(|| {
                Failure::Usage(format!(
                    "--metrics-listen {base}: port + {index} is out of range"
                ))
            })?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| anyhow::anyhow!("cannot serve metrics on {address}: {e}"))?;
            tracing::info!(%address, "serving Prometheus metrics");
            tokio::spawn(metrics::serve_prometheus(
                listener,
                self.metrics.clone(),
                name.clone(),
                index,
                background.clone(),
            ));
        }

        let result = self.work(&stop).await;
        let code = self.shut_down(result.is_err()).await;
        leave_group(self.source).await;
        background.cancel();
        if let Some(statsd) = statsd {
            // Its last flush carries what the shutdown counted.
            let _ = statsd.await;
        }
        match result {
            Ok(()) => {
                tracing::info!("{code}");
                Ok(())
            }
            Err(reason) => Err(anyhow::anyhow!("{reason} ({code})")),
        }
    }
}

impl<S: MessageSource, D: DeadLetterSink, L: HandlerLauncher> Worker<S, D, L> {
    /// A worker on these parts, before anything started. `joined` and `metrics` are shared
    /// with whatever else reports into them (librdkafka's callbacks in production).
    fn from_parts(
        settings: WorkerSettings,
        options: &WorkerOptions,
        source: S,
        joined: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
        launcher: L,
        dead_letters: Option<D>,
    ) -> Worker<S, D, L> {
        Worker {
            label: status::consumer_label(&settings.group, &settings.client_id),
            settings,
            source,
            joined,
            metrics,
            heartbeat: Arc::new(Heartbeat::default()),
            launcher,
            handler: None,
            handler_failures: 0,
            next_batch_id: 1,
            in_flight: VecDeque::new(),
            resend: VecDeque::new(),
            filling: Vec::new(),
            filling_deadline: None,
            throttle: Throttle::new(Duration::from_secs(1)),
            position: None,
            ready: false,
            dead_letters,
            drain_timeout: options.drain_timeout,
            handler_grace: options.handler_grace,
        }
    }

    /// The main loop: until `stop`, or `Err` when the instance must stop.
    async fn work(&mut self, stop: &CancellationToken) -> Result<(), String> {
        self.ensure_handler(stop).await?;
        let topics: Vec<&str> = self
            .settings
            .consumer
            .topics
            .iter()
            .map(String::as_str)
            .collect();
        self.source
            .subscribe(&topics)
            .map_err(|e| format!("cannot subscribe to {}: {e}", topics.join(",")))?;
        let window = self.settings.consumer.batch.in_flight.max(1) as usize;
        while !stop.is_cancelled() {
            // Progress, for the watchdog, is "nothing awaited from the handler" or a reply
            // (below): a handler stuck on a batch stops the beats however busy the source is.
            if self.in_flight.is_empty() {
                self.heartbeat.beat();
            }
            let _ = self.drop_revoked();
            if self.in_flight.len() < window {
                if let Some(batch) = self.resend.pop_front() {
                    self.send_batch(batch, stop).await?;
                    continue;
                }
            }
            match self.next_event(window, stop).await {
                Next::Batch(mut batch) => {
                    // Revoked while this batch filled: the callback ran in the source's recv.
                    let revoked = self.drop_revoked();
                    batch.retain(|r| !is_revoked(&revoked, r));
                    if !batch.is_empty() {
                        self.send_batch(batch, stop).await?;
                    }
                }
                Next::Reply(reply) => {
                    let _ = self.drop_revoked();
                    self.on_reply(reply, stop).await?;
                }
                Next::Nothing => {}
            }
        }
        self.drain().await;
        Ok(())
    }

    /// Waits for whichever comes first: a full batch to send (while there is room in the
    /// window), the reply to the oldest batch in flight, or `stop`.
    async fn next_event(&mut self, window: usize, stop: &CancellationToken) -> Next {
        let max = self.settings.consumer.batch.max_size as usize;
        let max_wait = Duration::from_millis(self.settings.consumer.batch.max_wait_ms);
        let first_wait = if self.ready { POLL } else { READY_POLL };
        // The next batch, polled only while the window has room (a future does nothing until
        // polled; what it gathered lives in `self.filling`).
        let filling = fill(
            &self.source,
            &mut self.filling,
            &mut self.filling_deadline,
            max,
            max_wait,
            first_wait,
        );
        let filled = if self.in_flight.is_empty() {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Next::Nothing,
                filled = filling => filled,
            }
        } else {
            let handler = self
                .handler
                .as_mut()
                .expect("batches are in flight only to a running handler");
            if self.in_flight.len() >= window {
                return tokio::select! {
                    biased;
                    _ = stop.cancelled() => Next::Nothing,
                    reply = handler.recv() => Next::Reply(reply),
                };
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Next::Nothing,
                reply = handler.recv() => return Next::Reply(reply),
                filled = filling => filled,
            }
        };
        match filled {
            Filled::Batch(batch) => {
                self.joined.store(true, Ordering::Release);
                self.check_ready();
                Next::Batch(batch)
            }
            Filled::Idle => {
                self.check_ready();
                if self.in_flight.is_empty() {
                    self.show(if self.position.is_none() {
                        State::WaitingForMessages
                    } else {
                        State::Idle
                    });
                }
                Next::Nothing
            }
            Filled::Failed(e) => {
                Metrics::incr(&self.metrics.kafka_errors);
                tracing::warn!(error = %e, "consume error");
                Next::Nothing
            }
        }
    }

    /// Sends a batch behind those in flight (starting the handler first if it is not
    /// running). `Err` when the instance must stop.
    async fn send_batch(
        &mut self,
        batch: Vec<Record>,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        if let Err(reason) = self.ensure_handler(stop).await {
            // Stopped while the handler restarted: the batch was not sent; the next owner
            // gets it.
            return if stop.is_cancelled() {
                Ok(())
            } else {
                Err(reason)
            };
        }
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        let message = ToHandler::Batch {
            id,
            messages: batch.iter().map(Record::to_wire).collect(),
        };
        self.show(State::Working);
        self.in_flight.push_back(InFlight {
            id,
            records: batch,
            sent: Instant::now(),
        });
        let drain = self.drain_timeout;
        let handler = self.handler.as_mut().expect("ensure_handler() started it");
        // A handler that stopped reading its stdin blocks this write: after `stop`, it gets
        // the drain timeout, as a batch in flight does.
        let sent = {
            let send = handler.send(&message);
            tokio::pin!(send);
            tokio::select! {
                sent = &mut send => Some(sent),
                _ = stop.cancelled() => tokio::select! {
                    sent = &mut send => Some(sent),
                    _ = tokio::time::sleep(drain) => None,
                },
            }
        };
        match sent {
            Some(Ok(())) => Ok(()),
            // The handler is gone: the oldest batch in flight failed its attempt.
            Some(Err(e)) => self.front_failed(Failed::Handler(e), stop).await,
            None => {
                self.abandon_in_flight().await;
                Ok(())
            }
        }
    }

    /// A reply arrived: it must answer the oldest batch in flight.
    async fn on_reply(
        &mut self,
        reply: Result<FromHandler, HandlerError>,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let front = self
            .in_flight
            .front()
            .expect("a reply is awaited only for a batch")
            .id;
        let checked = reply.and_then(|reply| {
            protocol::check_answer(&reply, front).map_err(HandlerError::Violation)?;
            Ok(reply)
        });
        match checked {
            Ok(FromHandler::Ack { .. }) => {
                let batch = self.in_flight.pop_front().expect("checked above");
                self.acked(&batch);
                Ok(())
            }
            Ok(FromHandler::Fail {
                error, retryable, ..
            }) => {
                self.front_failed(Failed::Reply { error, retryable }, stop)
                    .await
            }
            Ok(other) => unreachable!("check_answer() lets acks and fails through only: {other:?}"),
            Err(e) => self.front_failed(Failed::Handler(e), stop).await,
        }
    }

    /// The oldest batch in flight was acked: store its offsets.
    fn acked(&mut self, batch: &InFlight) {
        self.heartbeat.beat();
        self.handler_failures = 0;
        self.metrics.record_batch_time(batch.sent.elapsed());
        if batch.records.is_empty() {
            // Every message of it belonged to revoked partitions.
            return;
        }
        self.store(&batch.records);
        Metrics::incr(&self.metrics.batches);
        Metrics::add(&self.metrics.processed, batch.records.len() as u64);
    }

    /// The oldest batch in flight failed its first attempt. The replies to the batches
    /// behind it are read and discarded (a live handler answers them in order), the failed
    /// batch is settled alone, and the ones behind it are queued to be sent again.
    async fn front_failed(
        &mut self,
        failed: Failed,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let front = self
            .in_flight
            .pop_front()
            .expect("a failure is of a batch in flight");
        if front.records.is_empty() && matches!(failed, Failed::Reply { .. }) {
            // All its partitions were revoked: what it says concerns no one, and nothing
            // behind it comes after it on a partition that is still ours.
            return Ok(());
        }
        let (error, retryable) = match failed {
            Failed::Reply { error, retryable } => {
                tracing::warn!(
                    batch = front.id,
                    first = %front.records.first().map_or_else(String::new, Record::position),
                    size = front.records.len(),
                    behind = self.in_flight.len(),
                    attempt = 1,
                    %error,
                    retryable,
                    "handler failed the batch"
                );
                (error, retryable)
            }
            Failed::Handler(e) => {
                if let Some(handler) = self.handler.take() {
                    handler.kill().await;
                }
                self.handler_failed(&e, front.id, &front.records)?;
                (e.to_string(), true)
            }
        };
        let behind: Vec<InFlight> = self.in_flight.drain(..).collect();
        if !behind.is_empty() && self.handler.is_some() {
            self.discard_replies(&behind, stop).await?;
        }
        for batch in behind.into_iter().rev() {
            if !batch.records.is_empty() {
                self.resend.push_front(batch.records);
            }
        }
        if front.records.is_empty() {
            // Its partitions were revoked: nothing of it is ours to settle.
            return Ok(());
        }
        let first = FirstAttempt {
            id: front.id,
            error,
            retryable,
        };
        match self.handle(front.records, Some(first), stop).await {
            Outcome::Done | Outcome::Abandoned => Ok(()),
            Outcome::Fatal(reason) => Err(reason),
            Outcome::Exhausted { .. } => unreachable!("handle() resolves exhaustion"),
        }
    }

    /// Counts a handler failure (it exited, broke the protocol, could not be written to) that
    /// batch `id` saw. `Err` after [`MAX_HANDLER_FAILURES`] in a row.
    fn handler_failed(
        &mut self,
        e: &HandlerError,
        id: u64,
        batch: &[Record],
    ) -> Result<(), String> {
        self.handler_failures += 1;
        Metrics::incr(&self.metrics.handler_restarts);
        tracing::error!(
            batch = id,
            first = %batch.first().map_or_else(String::new, Record::position),
            size = batch.len(),
            behind = self.in_flight.len(),
            error = %e,
            "batch not acked; restarting the handler"
        );
        if self.handler_failures >= MAX_HANDLER_FAILURES {
            return Err(format!(
                "the handler failed {MAX_HANDLER_FAILURES} times in a row, last: {e}"
            ));
        }
        Ok(())
    }

    /// Reads the replies to `behind` (sent after a failed batch), in order, and drops them:
    /// those batches are sent again once the failed one is settled. A handler that breaks
    /// the protocol meanwhile is killed; after `stop`, it gets the drain timeout.
    async fn discard_replies(
        &mut self,
        behind: &[InFlight],
        stop: &CancellationToken,
    ) -> Result<(), String> {
        let drain = self.drain_timeout;
        for batch in behind {
            let Some(handler) = self.handler.as_mut() else {
                return Ok(());
            };
            let reply = {
                let recv = handler.recv();
                tokio::pin!(recv);
                tokio::select! {
                    reply = &mut recv => Some(reply),
                    _ = stop.cancelled() => tokio::select! {
                        reply = &mut recv => Some(reply),
                        _ = tokio::time::sleep(drain) => None,
                    },
                }
            };
            let checked = match reply {
                None => {
                    self.abandon_in_flight().await;
                    return Ok(());
                }
                Some(reply) => reply.and_then(|reply| {
                    protocol::check_answer(&reply, batch.id).map_err(HandlerError::Violation)
                }),
            };
            if let Err(e) = checked {
                if let Some(handler) = self.handler.take() {
                    handler.kill().await;
                }
                self.handler_failed(&e, batch.id, &batch.records)?;
                return Ok(());
            }
            // Progress: the handler answers.
            self.heartbeat.beat();
        }
        Ok(())
    }

    /// After `stop`: the batches in flight may still be answered within `--drain-timeout`.
    /// Acks are stored in order, up to the first batch that is not acked; the acks behind it
    /// are not (the next owner gets those batches again). At the deadline the handler is
    /// killed.
    async fn drain(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        tracing::info!(
            batches = self.in_flight.len(),
            "stop requested: waiting for the batches in flight"
        );
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        let mut failed = false;
        while let Some(front) = self.in_flight.front() {
            let id = front.id;
            let Some(handler) = self.handler.as_mut() else {
                self.in_flight.clear();
                return;
            };
            let Ok(reply) = tokio::time::timeout_at(deadline, handler.recv()).await else {
                self.abandon_in_flight().await;
                return;
            };
            let batch = self.in_flight.pop_front().expect("front() above");
            let checked = reply.and_then(|reply| {
                protocol::check_answer(&reply, id).map_err(HandlerError::Violation)?;
                Ok(reply)
            });
            match checked {
                Ok(FromHandler::Ack { .. }) if !failed => self.acked(&batch),
                Ok(FromHandler::Ack { .. }) => {}
                // All its partitions were revoked: its outcome concerns no one.
                Ok(_) if batch.records.is_empty() => {}
                Ok(_) => {
                    failed = true;
                    Metrics::incr(&self.metrics.errors);
                    tracing::warn!(
                        batch = id,
                        behind = self.in_flight.len(),
                        "a batch failed while stopping: it and the batches behind it are not \
                         acked; the next owner gets them again"
                    );
                }
                Err(e) => {
                    tracing::error!(batch = id, error = %e, "the handler failed while stopping");
                    if let Some(handler) = self.handler.take() {
                        handler.kill().await;
                    }
                    self.in_flight.clear();
                    return;
                }
            }
        }
    }

    /// The drain timeout passed with batches unanswered: kill the handler; nothing of them is
    /// stored, and the next owner gets them again.
    async fn abandon_in_flight(&mut self) {
        tracing::warn!(
            drain_s = self.drain_timeout.as_secs(),
            batches = self.in_flight.len(),
            "the batches in flight were not answered in time: killing the handler; they are \
             not acked and will be consumed again"
        );
        self.in_flight.clear();
        if let Some(handler) = self.handler.take() {
            handler.kill().await;
        }
    }

    /// Drops the messages of partitions revoked since the last call from every batch the loop
    /// holds: their next owner starts after what was acked (librdkafka committed it in the
    /// revoke callback), and storing one of their offsets later could skip messages. A batch
    /// in flight that loses all its messages stays in flight (its reply is still read) and
    /// stores nothing.
    /// Returns the partitions revoked, for a batch the loop holds elsewhere.
    fn drop_revoked(&mut self) -> Vec<(String, i32)> {
        let revoked = self.source.revoked();
        if revoked.is_empty() {
            return revoked;
        }
        let gone = |r: &Record| is_revoked(&revoked, r);
        let mut dropped = 0;
        for batch in &mut self.in_flight {
            let before = batch.records.len();
            batch.records.retain(|r| !gone(r));
            dropped += before - batch.records.len();
        }
        for batch in &mut self.resend {
            let before = batch.len();
            batch.retain(|r| !gone(r));
            dropped += before - batch.len();
        }
        self.resend.retain(|batch| !batch.is_empty());
        let before = self.filling.len();
        self.filling.retain(|r| !gone(r));
        dropped += before - self.filling.len();
        if self.filling.is_empty() {
            self.filling_deadline = None;
        }
        let partitions: Vec<String> = revoked.iter().map(|(t, p)| format!("{t}/{p}")).collect();
        tracing::info!(
            partitions = %partitions.join(","),
            dropped,
            "partitions revoked: their messages not yet acked are left to the next owner"
        );
        revoked
    }

    /// Sends READY=1 once the group was joined (first assignment or first message).
    fn check_ready(&mut self) {
        if !self.ready && self.joined.load(Ordering::Acquire) {
            self.ready = true;
            let line = status::status_line(
                &self.label,
                self.position,
                &status::clock_now(),
                State::WaitingForMessages,
            );
            notify::ready(&line);
            tracing::info!("joined group {}: ready", self.settings.group);
        }
    }

    /// STATUS= and the process title, throttled.
    fn show(&mut self, state: State) {
        if !self.throttle.allow(state, Instant::now()) {
            return;
        }
        let line = status::status_line(&self.label, self.position, &status::clock_now(), state);
        notify::status(&line);
        crate::proctitle::set(&status::process_title(&self.label, state));
    }

    /// Settles a batch whose `first` attempt failed (in the pipeline), alone: retries with
    /// backoff; when they run out, a batch of several is split so that only the messages that
    /// keep failing are dead-lettered (or stop the instance).
    async fn handle(
        &mut self,
        batch: Vec<Record>,
        first: Option<FirstAttempt>,
        stop: &CancellationToken,
    ) -> Outcome {
        let policy = self.settings.consumer.retry.clone();
        match self.attempt(&batch, &policy, first, stop).await {
            Outcome::Exhausted { error, attempts } if batch.len() == 1 => {
                self.exhausted(&batch, &error, attempts).await
            }
            Outcome::Exhausted { error, .. } => {
                tracing::warn!(
                    size = batch.len(),
                    %error,
                    "batch failed on every attempt: trying its messages one by one"
                );
                let single = Retry {
                    max_attempts: 1,
                    ..policy
                };
                for record in batch {
                    let one = vec![record];
                    match self.attempt(&one, &single, None, stop).await {
                        Outcome::Done => {}
                        Outcome::Exhausted { error, .. } => {
                            let outcome = self.exhausted(&one, &error, policy.max_attempts).await;
                            if !matches!(outcome, Outcome::Done) {
                                return outcome;
                            }
                        }
                        other => return other,
                    }
                }
                Outcome::Done
            }
            other => other,
        }
    }

    /// Tries a batch up to `policy.max_attempts` times, one batch in flight; `first` is a
    /// first attempt already made (in the pipeline), whose id the retries keep.
    async fn attempt(
        &mut self,
        batch: &[Record],
        policy: &Retry,
        mut first: Option<FirstAttempt>,
        stop: &CancellationToken,
    ) -> Outcome {
        let id = match &first {
            Some(made) => made.id,
            None => {
                self.next_batch_id += 1;
                self.next_batch_id - 1
            }
        };
        let message = ToHandler::Batch {
            id,
            messages: batch.iter().map(Record::to_wire).collect(),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            // A first attempt made in the pipeline comes with its outcome (and counted its
            // handler failure there).
            let (error, retryable) = match first.take() {
                Some(made) => (made.error, made.retryable),
                None => match self.try_once(id, &message, batch, attempts, stop).await {
                    Ok(failed) => failed,
                    Err(outcome) => return outcome,
                },
            };
            Metrics::incr(&self.metrics.errors);
            match retry::after_failure(policy, attempts, retryable) {
                AfterFailure::Exhausted => return Outcome::Exhausted { error, attempts },
                AfterFailure::RetryAfter(wait) => {
                    Metrics::incr(&self.metrics.retries);
                    self.show(State::Retrying);
                    if !self.pause(wait, stop).await {
                        return Outcome::Abandoned;
                    }
                }
            }
        }
    }

    /// One lockstep attempt of batch `id` (`batch` in wire form: `message`). `Err` with how
    /// the batch ended (acked, abandoned, or the instance must stop), else why it failed
    /// (error, retryable).
    async fn try_once(
        &mut self,
        id: u64,
        message: &ToHandler,
        batch: &[Record],
        attempt: u32,
        stop: &CancellationToken,
    ) -> Result<(String, bool), Outcome> {
        if let Err(reason) = self.ensure_handler(stop).await {
            return Err(if stop.is_cancelled() {
                Outcome::Abandoned
            } else {
                Outcome::Fatal(reason)
            });
        }
        self.show(State::Working);
        let started = Instant::now();
        let reply = self.call(id, message, stop).await;
        self.metrics.record_batch_time(started.elapsed());
        match reply {
            CallResult::Reply(FromHandler::Ack { .. }) => {
                self.handler_failures = 0;
                self.store(batch);
                Metrics::incr(&self.metrics.batches);
                Metrics::add(&self.metrics.processed, batch.len() as u64);
                Err(Outcome::Done)
            }
            CallResult::Reply(FromHandler::Fail {
                error, retryable, ..
            }) => {
                tracing::warn!(
                    batch = id,
                    first = %batch[0].position(),
                    size = batch.len(),
                    attempt,
                    %error,
                    retryable,
                    "handler failed the batch"
                );
                Ok((error, retryable))
            }
            CallResult::Reply(other) => unreachable!("call() checks the answer: {other:?}"),
            CallResult::HandlerFailed(e) => {
                self.handler_failed(&e, id, batch).map_err(Outcome::Fatal)?;
                Ok((e.to_string(), true))
            }
            CallResult::Abandoned => Err(Outcome::Abandoned),
        }
    }

    /// Sends batch `id` to the handler and waits for its answer. After `stop`, the answer
    /// may take `drain_timeout` more; then the handler is killed and the batch abandoned.
    async fn call(&mut self, id: u64, message: &ToHandler, stop: &CancellationToken) -> CallResult {
        let drain = self.drain_timeout;
        let handler = self.handler.as_mut().expect("ensure_handler() started it");
        let result = {
            let call = async {
                let reply = handler.exchange(message).await?;
                protocol::check_answer(&reply, id).map_err(HandlerError::Violation)?;
                Ok(reply)
            };
            tokio::pin!(call);
            tokio::select! {
                result = &mut call => Some(result),
                _ = stop.cancelled() => {
                    tokio::select! {
                        result = &mut call => Some(result),
                        _ = tokio::time::sleep(drain) => None,
                    }
                }
            }
        };
        match result {
            Some(Ok(reply)) => CallResult::Reply(reply),
            Some(Err(e)) => {
                if let Some(handler) = self.handler.take() {
                    handler.kill().await;
                }
                CallResult::HandlerFailed(e)
            }
            None => {
                tracing::warn!(
                    drain_s = drain.as_secs(),
                    "the batch in flight was not answered in time: killing the handler; the \
                     batch is not acked and will be consumed again"
                );
                if let Some(handler) = self.handler.take() {
                    handler.kill().await;
                }
                CallResult::Abandoned
            }
        }
    }

    /// Starts the handler if it is not running, with backoff between failed starts.
    async fn ensure_handler(&mut self, stop: &CancellationToken) -> Result<(), String> {
        while self.handler.is_none() {
            if self.handler_failures > 0 {
                self.show(State::RestartingHandler);
                let wait = retry::restart_backoff(self.handler_failures);
                if !self.pause(wait, stop).await {
                    return Err("stopped while restarting the handler".into());
                }
            }
            match self.launcher.start().await {
                Ok(handler) => {
                    tracing::info!(
                        pid = handler.pid().unwrap_or(0),
                        command = %self.launcher.command(),
                        "handler ready"
                    );
                    self.handler = Some(handler);
                }
                Err(e) => {
                    self.handler_failures += 1;
                    tracing::error!(error = %e, attempt = self.handler_failures, "handler start failed");
                    if self.handler_failures >= MAX_HANDLER_FAILURES {
                        return Err(format!(
                            "the handler failed {MAX_HANDLER_FAILURES} times in a row, last: {e}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sleeps `wait` in slices, beating (a deliberate wait is healthy). `false` on `stop`.
    async fn pause(&self, wait: Duration, stop: &CancellationToken) -> bool {
        // tokio's clock, which is std's unless a test paused it: backoffs then cost no time.
        let until = tokio::time::Instant::now() + wait;
        loop {
            self.heartbeat.beat();
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(left.min(POLL)) => {}
            }
        }
    }

    /// Stores the offsets an acked batch covers.
    fn store(&mut self, batch: &[Record]) {
        for ((topic, partition), offset) in batch::offsets_to_store(batch) {
            match self.source.store_offset(&topic, partition, offset) {
                Ok(()) => {}
                // Revoked while the handler worked: the new owner gets these again, which is
                // what at-least-once allows.
                Err(KafkaError::StoreOffset(
                    RDKafkaErrorCode::State | RDKafkaErrorCode::UnknownPartition,
                )) => {
                    tracing::info!(%topic, partition, offset, "partition no longer ours; not stored");
                }
                Err(e) => {
                    Metrics::incr(&self.metrics.kafka_errors);
                    tracing::warn!(%topic, partition, offset, error = %e, "cannot store offset");
                }
            }
            self.position = Some((offset, partition));
        }
    }

    /// A batch's attempts ran out: dead-letter it, or stop the instance.
    async fn exhausted(&mut self, batch: &[Record], error: &str, attempts: u32) -> Outcome {
        let OnExhausted::DeadLetter { topic } = self.settings.consumer.retry.on_exhausted.clone()
        else {
            return Outcome::Fatal(format!(
                "{} failed {attempts} time(s), last: {error}; stopping without acking it \
                 (retry.on_exhausted: stop)",
                batch[0].position()
            ));
        };
        let producer = self.dead_letters.as_ref().expect("created for dead_letter");
        let failed_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for record in batch {
            let why = DeadLetterReason {
                error,
                attempts,
                consumer: &self.settings.consumer.name,
                group: &self.settings.group,
                client_id: &self.settings.client_id,
                failed_at_ms,
            };
            let headers = batch::dead_letter_headers(record, &why);
            let copy = DeadLetter {
                topic: &topic,
                key: record.key.as_deref(),
                value: record.value.as_deref(),
                headers: &headers,
            };
            self.heartbeat.beat();
            match producer.produce(copy).await {
                Ok(delivery) => tracing::warn!(
                    source = %record.position(),
                    dead_letter = %format!("{topic}/{}@{}", delivery.partition, delivery.offset),
                    attempts,
                    %error,
                    "dead-lettered"
                ),
                Err(e) => {
                    return Outcome::Fatal(format!(
                        "cannot dead-letter {} to {topic}: {e}; stopping without acking it",
                        record.position()
                    ))
                }
            }
        }
        self.store(batch);
        Metrics::add(&self.metrics.dead_lettered, batch.len() as u64);
        Outcome::Done
    }

    /// The ordered stop: commit what was acked, tell the handler to shut down, leave the
    /// group. Returns a summary for the log.
    async fn shut_down(&mut self, failed: bool) -> String {
        notify::stopping();
        self.show(State::ShuttingDown);
        let commit = match self.source.commit_sync() {
            Ok(()) => "offsets committed".to_string(),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {
                "nothing new to commit".to_string()
            }
            Err(e) => format!("final commit failed: {e}"),
        };
        // No batch is sent after a stop was requested, so nothing is acked after this commit.
        self.source.final_commit_done();
        let handler = match self.handler.take() {
            Some(handler) => {
                let reason = if failed { "error" } else { "sigterm" };
                format!(
                    "handler {}",
                    handler.shutdown(reason, self.handler_grace).await
                )
            }
            None => "no handler running".to_string(),
        };
        self.source.unsubscribe();
        format!(
            "stopped: {commit}, {handler}; {} messages processed",
            self.metrics.processed.load(Ordering::Relaxed)
        )
    }
}

/// How long leaving the group may take at exit.
const LEAVE_GRACE: Duration = Duration::from_secs(10);

/// Closes the consumer (librdkafka leaves the group) on a thread of its own, waiting at most
/// [`LEAVE_GRACE`]: with the brokers gone, librdkafka's close waits ~45 s for a group
/// coordinator, which held every stop (and so every rolling restart) during an outage. What
/// the handler acked was committed before this; a member that could not leave is dropped by
/// the group when its session times out.
async fn leave_group(consumer: StreamConsumer<WorkerContext>) {
    let (left, closed) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: the runtime would wait for that one at exit.
    std::thread::spawn(move || {
        drop(consumer);
        let _ = left.send(());
    });
    if tokio::time::timeout(LEAVE_GRACE, closed).await.is_err() {
        tracing::warn!(
            "leaving the group did not finish within {LEAVE_GRACE:?} (brokers unreachable?); \
             exiting anyway: the group drops this member when its session times out"
        );
    }
}

/// What came of sending a batch.
enum CallResult {
    /// A valid answer for this batch.
    Reply(FromHandler),
    /// The handler exited, broke the protocol or could not be written to; it was killed.
    HandlerFailed(HandlerError),
    /// Shutdown's deadline passed without an answer; the handler was killed.
    Abandoned,
}

/// A batch sent to the handler and not yet answered.
struct InFlight {
    /// Its id, which the reply must carry.
    id: u64,
    /// Its messages (less those of partitions revoked since it was sent).
    records: Vec<Record>,
    /// When it was sent, for the batch-time metric.
    sent: Instant,
}

/// What the main loop waited for.
enum Next {
    /// A batch to send.
    Batch(Vec<Record>),
    /// A reply, or why none came: for the oldest batch in flight.
    Reply(Result<FromHandler, HandlerError>),
    /// An idle poll, a consume error, or `stop`.
    Nothing,
}

/// A batch's first attempt, made in the pipeline, that failed.
struct FirstAttempt {
    /// The batch's id, which its retries keep.
    id: u64,
    /// Why it failed.
    error: String,
    /// Whether retrying may help.
    retryable: bool,
}

/// How the oldest batch in flight failed its attempt.
enum Failed {
    /// The handler answered `fail`.
    Reply {
        /// Its error.
        error: String,
        /// Whether retrying may help.
        retryable: bool,
    },
    /// The handler exited, broke the protocol or could not be written to.
    Handler(HandlerError),
}

/// What waiting for messages came to.
enum Filled {
    /// A batch is complete: `batch.max_size` messages, or `batch.max_wait_ms` passed since its
    /// first.
    Batch(Vec<Record>),
    /// No message within the poll.
    Idle,
    /// A consume error before the batch's first message.
    Failed(KafkaError),
}

/// Fills the batch `filling` from `source`: waits `first_wait` for its first message, then
/// until it has `max` or `max_wait` passed since the first (`deadline`). Cancel-safe: what
/// was received stays in `filling`, the deadline in `deadline`, so that a reply that comes
/// first loses nothing.
async fn fill<S: MessageSource>(
    source: &S,
    filling: &mut Vec<Record>,
    deadline: &mut Option<tokio::time::Instant>,
    max: usize,
    max_wait: Duration,
    first_wait: Duration,
) -> Filled {
    loop {
        if filling.len() >= max {
            *deadline = None;
            return Filled::Batch(std::mem::take(filling));
        }
        let received = match *deadline {
            None => tokio::time::timeout(first_wait, source.recv()).await,
            Some(at) => tokio::time::timeout_at(at, source.recv()).await,
        };
        match received {
            Ok(Ok(record)) => {
                if filling.is_empty() {
                    *deadline = Some(tokio::time::Instant::now() + max_wait);
                }
                filling.push(record);
            }
            Ok(Err(e)) if filling.is_empty() => return Filled::Failed(e),
            Err(_) if filling.is_empty() => return Filled::Idle,
            // A consume error or the deadline closes the batch with what it has.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "consume error");
                *deadline = None;
                return Filled::Batch(std::mem::take(filling));
            }
            Err(_) => {
                *deadline = None;
                return Filled::Batch(std::mem::take(filling));
            }
        }
    }
}

/// Whether `record` is of one of the `revoked` partitions.
fn is_revoked(revoked: &[(String, i32)], record: &Record) -> bool {
    revoked
        .iter()
        .any(|(topic, partition)| *partition == record.partition && *topic == record.topic)
}
