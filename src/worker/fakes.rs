//! Scripted stand-ins for Kafka, the dead-letter producer and the handler process, so the
//! worker loop runs in unit tests without a broker, a child process or systemd.
//!
//! Every fake writes what the loop did with it into one shared [`Journal`], in order, so a
//! test can assert, say, that an offset was stored only after the handler answered.

use super::batch::Record;
use super::dead_letter::{DeadLetter, DeadLetterSink, Delivered};
use super::handler::{HandlerConnection, HandlerError, HandlerLauncher};
use super::protocol::{FromHandler, ToHandler, WireMessage};
use super::source::MessageSource;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the loop did to the outside world, as the fakes saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    /// The source was subscribed to these topics.
    Subscribed(Vec<String>),
    /// A handler started and answered `init`.
    HandlerStarted,
    /// A handler could not be started.
    HandlerStartFailed,
    /// Batch `id` with messages at these offsets went to the handler.
    Sent {
        /// The batch id.
        id: u64,
        /// Offsets of its messages, in order.
        offsets: Vec<i64>,
    },
    /// The handler was killed.
    HandlerKilled,
    /// The handler was shut down gracefully, with this reason.
    HandlerShutDown(String),
    /// The loop stored this offset (librdkafka would commit `offset + 1`).
    Stored {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset as the loop passed it.
        offset: i64,
    },
    /// A copy of the message at this source offset was produced to the dead-letter topic.
    DeadLettered(i64),
    /// The stored offsets were committed synchronously.
    Committed,
    /// The source was told the final commit is done.
    FinalCommitDone,
    /// The source was unsubscribed.
    Unsubscribed,
    /// A partition was revoked (librdkafka's callback commits what was stored).
    Revoked(String, i32),
}

/// The shared, ordered record of [`Event`]s, each with the (test-paused) time it happened.
#[derive(Debug, Clone, Default)]
pub(super) struct Journal(Arc<Mutex<Vec<(Instant, Event)>>>);

impl Journal {
    fn record(&self, event: Event) {
        self.0.lock().unwrap().push((Instant::now(), event));
    }

    /// Everything so far, in order.
    pub(super) fn events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// When each batch was sent, in order.
    pub(super) fn sent_at(&self) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| matches!(e, Event::Sent { .. }))
            .map(|(at, _)| *at)
            .collect()
    }

    /// Only the [`Event::Stored`] ones, as `(topic, partition, offset)`.
    pub(super) fn stored(&self) -> Vec<(String, i32, i64)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Stored {
                    topic,
                    partition,
                    offset,
                } => Some((topic, partition, offset)),
                _ => None,
            })
            .collect()
    }

    /// What a commit would write per partition, as librdkafka's `rd_kafka_offset_store`
    /// makes it: the last stored offset + 1, where the next owner starts.
    pub(super) fn committed(&self) -> BTreeMap<(String, i32), i64> {
        self.stored()
            .into_iter()
            .map(|(topic, partition, offset)| ((topic, partition), offset + 1))
            .collect()
    }
}

/// What the fake source hands out on one `recv`.
#[derive(Debug)]
pub(super) enum Incoming {
    /// A message.
    Message(Record),
    /// A consume error.
    Error(KafkaError),
    /// Nothing: `recv` waits until the loop stops waiting (a poll or `max_wait_ms` timeout).
    Quiet,
    /// Nothing for this long, then the script goes on (the loop may stop waiting before).
    Pause(Duration),
    /// The partition is revoked, as librdkafka does inside a poll; the script goes on.
    Revoke(String, i32),
}

/// A source that hands out a script, then asks the loop to stop (and waits forever), so
/// that every test ends once its script is played.
pub(super) struct FakeSource {
    script: Mutex<VecDeque<Incoming>>,
    stop: CancellationToken,
    journal: Journal,
    /// Partitions that were revoked: storing an offset of theirs fails as librdkafka does.
    revoked: Mutex<BTreeSet<(String, i32)>>,
    /// Revoked since the loop last asked ([`MessageSource::revoked`]).
    newly_revoked: Mutex<Vec<(String, i32)>>,
    /// When the [`Incoming::Pause`] at the front of the script ends.
    paused_until: Mutex<Option<Instant>>,
}

impl FakeSource {
    /// Hands out `script`, then cancels `stop`.
    pub(super) fn new(
        script: impl IntoIterator<Item = Incoming>,
        stop: &CancellationToken,
        journal: &Journal,
    ) -> FakeSource {
        FakeSource {
            script: Mutex::new(script.into_iter().collect()),
            stop: stop.clone(),
            journal: journal.clone(),
            revoked: Mutex::new(BTreeSet::new()),
            newly_revoked: Mutex::new(Vec::new()),
            paused_until: Mutex::new(None),
        }
    }

    /// Storing offsets of `topic`/`partition` fails with `State`, as for a revoked partition
    /// (one the loop was not told about).
    pub(super) fn revoke(self, topic: &str, partition: i32) -> FakeSource {
        self.revoked
            .lock()
            .unwrap()
            .insert((topic.to_string(), partition));
        self
    }
}

impl MessageSource for FakeSource {
    fn subscribe(&self, topics: &[&str]) -> KafkaResult<()> {
        let topics = topics.iter().map(|t| t.to_string()).collect();
        self.journal.record(Event::Subscribed(topics));
        Ok(())
    }

    async fn recv(&self) -> KafkaResult<Record> {
        loop {
            // Peeked, not taken: a pause the loop cuts short (its poll timed out) goes on
            // until its end at the next recv.
            let pause = self
                .script
                .lock()
                .unwrap()
                .front()
                .and_then(|next| match next {
                    Incoming::Pause(wait) => Some(*wait),
                    _ => None,
                });
            if let Some(wait) = pause {
                let until = *self
                    .paused_until
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| Instant::now() + wait);
                tokio::time::sleep_until(until).await;
                *self.paused_until.lock().unwrap() = None;
            }
            let next = self.script.lock().unwrap().pop_front();
            match next {
                Some(Incoming::Message(record)) => return Ok(record),
                Some(Incoming::Error(e)) => return Err(e),
                Some(Incoming::Quiet) => std::future::pending().await,
                Some(Incoming::Pause(_)) => {}
                Some(Incoming::Revoke(topic, partition)) => {
                    self.journal
                        .record(Event::Revoked(topic.clone(), partition));
                    self.revoked
                        .lock()
                        .unwrap()
                        .insert((topic.clone(), partition));
                    self.newly_revoked.lock().unwrap().push((topic, partition));
                }
                None => {
                    self.stop.cancel();
                    std::future::pending().await
                }
            }
        }
    }

    fn revoked(&self) -> Vec<(String, i32)> {
        std::mem::take(&mut *self.newly_revoked.lock().unwrap())
    }

    fn store_offset(&self, topic: &str, partition: i32, offset: i64) -> KafkaResult<()> {
        if self
            .revoked
            .lock()
            .unwrap()
            .contains(&(topic.to_string(), partition))
        {
            return Err(KafkaError::StoreOffset(RDKafkaErrorCode::State));
        }
        self.journal.record(Event::Stored {
            topic: topic.to_string(),
            partition,
            offset,
        });
        Ok(())
    }

    fn commit_sync(&self) -> KafkaResult<()> {
        self.journal.record(Event::Committed);
        Ok(())
    }

    fn final_commit_done(&self) {
        self.journal.record(Event::FinalCommitDone);
    }

    fn unsubscribe(&self) {
        self.journal.record(Event::Unsubscribed);
    }
}

/// One copy the fake dead-letter sink took.
#[derive(Debug, Clone)]
pub(super) struct DeadLetterCopy {
    /// The topic it was produced to.
    pub topic: String,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl DeadLetterCopy {
    /// The value of header `name` as text.
    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    }
}

/// A dead-letter topic that keeps what it was given, or refuses everything.
#[derive(Debug, Clone, Default)]
pub(super) struct FakeDeadLetters {
    copies: Arc<Mutex<Vec<DeadLetterCopy>>>,
    journal: Journal,
    refuse: Option<KafkaError>,
}

impl FakeDeadLetters {
    /// A sink that takes everything.
    pub(super) fn new(journal: &Journal) -> FakeDeadLetters {
        FakeDeadLetters {
            journal: journal.clone(),
            ..FakeDeadLetters::default()
        }
    }

    /// A sink whose every produce fails with `error`.
    pub(super) fn refusing(journal: &Journal, error: KafkaError) -> FakeDeadLetters {
        FakeDeadLetters {
            refuse: Some(error),
            ..FakeDeadLetters::new(journal)
        }
    }

    /// The copies taken so far (shared with clones of this sink).
    pub(super) fn copies(&self) -> Vec<DeadLetterCopy> {
        self.copies.lock().unwrap().clone()
    }
}

impl DeadLetterSink for FakeDeadLetters {
    async fn produce(&self, letter: DeadLetter<'_>) -> KafkaResult<Delivered> {
        if let Some(error) = &self.refuse {
            return Err(error.clone());
        }
        let source_offset = letter
            .headers
            .iter()
            .find(|(k, _)| k == "kafkactl.source.offset")
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            .expect("a dead letter names its source offset");
        self.journal.record(Event::DeadLettered(source_offset));
        let mut copies = self.copies.lock().unwrap();
        copies.push(DeadLetterCopy {
            topic: letter.topic.to_string(),
            key: letter.key.map(<[u8]>::to_vec),
            value: letter.value.map(<[u8]>::to_vec),
            headers: letter.headers.to_vec(),
        });
        Ok(Delivered {
            partition: 0,
            offset: copies.len() as i64 - 1,
        })
    }
}

/// How a fake handler answers one batch.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// `ack` for the batch.
    Ack,
    /// `fail` for the batch.
    Fail {
        /// The error it reports.
        error: String,
        /// Whether retrying may help.
        retryable: bool,
    },
    /// This reply, whatever it is (a wrong id, `ready`, ...).
    Reply(FromHandler),
    /// Exits: stdout closes.
    Crash,
    /// Never answers.
    Hang,
    /// Answers after this long.
    After(Duration, Box<Answer>),
}

impl Answer {
    /// A retryable `fail`.
    pub(super) fn fail(error: &str) -> Answer {
        Answer::Fail {
            error: error.to_string(),
            retryable: true,
        }
    }
}

/// A batch as the fake handler received it.
#[derive(Debug, Clone)]
pub(super) struct Received {
    /// Its messages.
    pub messages: Vec<WireMessage>,
}

impl Received {
    /// The offsets of its messages, in order.
    pub(super) fn offsets(&self) -> Vec<i64> {
        self.messages.iter().map(|m| m.offset).collect()
    }
}

/// Decides every fake handler's answer to each batch.
type Script = Box<dyn FnMut(&Received) -> Answer + Send>;

/// What all handlers of one launcher share: the script and the start failures to come.
struct Scripted {
    answers: Script,
    failed_starts: VecDeque<HandlerError>,
}

/// Starts fake handlers that answer batches as the script says.
#[derive(Clone)]
pub(super) struct FakeLauncher {
    scripted: Arc<Mutex<Scripted>>,
    journal: Journal,
}

impl FakeLauncher {
    /// Handlers whose answers `answers` decides, batch by batch.
    pub(super) fn new(
        journal: &Journal,
        answers: impl FnMut(&Received) -> Answer + Send + 'static,
    ) -> FakeLauncher {
        FakeLauncher {
            scripted: Arc::new(Mutex::new(Scripted {
                answers: Box::new(answers),
                failed_starts: VecDeque::new(),
            })),
            journal: journal.clone(),
        }
    }

    /// The next `count` starts fail (the handler does not answer `init` in time).
    pub(super) fn failing_starts(self, count: usize) -> FakeLauncher {
        let failures = (0..count).map(|_| HandlerError::NotReady(Duration::from_secs(60)));
        self.scripted.lock().unwrap().failed_starts.extend(failures);
        self
    }
}

impl HandlerLauncher for FakeLauncher {
    type Handler = FakeHandler;

    async fn start(&self) -> Result<FakeHandler, HandlerError> {
        let failed = self.scripted.lock().unwrap().failed_starts.pop_front();
        if let Some(error) = failed {
            self.journal.record(Event::HandlerStartFailed);
            return Err(error);
        }
        self.journal.record(Event::HandlerStarted);
        Ok(FakeHandler {
            scripted: self.scripted.clone(),
            journal: self.journal.clone(),
            queued: VecDeque::new(),
            busy_until: Instant::now(),
        })
    }

    fn command(&self) -> String {
        "fake-handler".to_string()
    }
}

/// A handler that answers as its launcher's script says. Like a real one, it works through
/// the batches it was sent one after another: a batch's answer comes its `After` wait after
/// the previous batch's answer (or after it was sent, if that is later).
pub(super) struct FakeHandler {
    scripted: Arc<Mutex<Scripted>>,
    journal: Journal,
    /// Batches sent and not yet answered: id, answer, and when the answer is due.
    queued: VecDeque<(u64, Answer, Instant)>,
    /// When the last queued batch is answered.
    busy_until: Instant,
}

impl HandlerConnection for FakeHandler {
    fn pid(&self) -> Option<u32> {
        None
    }

    async fn send(&mut self, message: &ToHandler) -> Result<(), HandlerError> {
        let ToHandler::Batch { id, messages } = message else {
            panic!("the loop sends batches only, not {message:?}");
        };
        let received = Received {
            messages: messages.clone(),
        };
        self.journal.record(Event::Sent {
            id: *id,
            offsets: received.offsets(),
        });
        let mut answer = (self.scripted.lock().unwrap().answers)(&received);
        let mut due = self.busy_until.max(Instant::now());
        while let Answer::After(wait, then) = answer {
            due += wait;
            answer = *then;
        }
        self.busy_until = due;
        self.queued.push_back((*id, answer, due));
        Ok(())
    }

    async fn recv(&mut self) -> Result<FromHandler, HandlerError> {
        let Some((_, _, due)) = self.queued.front() else {
            // Nothing sent: a real handler would say nothing either.
            return std::future::pending().await;
        };
        tokio::time::sleep_until(*due).await;
        let (id, answer, _) = self.queued.front().cloned().expect("peeked above");
        match answer {
            // Hung: this and everything behind it wait for ever.
            Answer::Hang => std::future::pending().await,
            // Its stdout stays closed: every later read ends the same way.
            Answer::Crash => Err(HandlerError::Exited(None)),
            answer => {
                self.queued.pop_front();
                Ok(reply(answer, id))
            }
        }
    }

    async fn shutdown(self, reason: &str, _grace: Duration) -> String {
        self.journal
            .record(Event::HandlerShutDown(reason.to_string()));
        "exited (fake)".to_string()
    }

    async fn kill(self) {
        self.journal.record(Event::HandlerKilled);
    }
}

/// The reply an [`Answer`] (not a wait, a crash or a hang) makes for batch `id`.
fn reply(answer: Answer, id: u64) -> FromHandler {
    match answer {
        Answer::Ack => FromHandler::Ack { id },
        Answer::Fail { error, retryable } => FromHandler::Fail {
            id,
            error,
            retryable,
        },
        Answer::Reply(reply) => reply,
        Answer::Crash | Answer::Hang | Answer::After(..) => {
            unreachable!("played by recv()")
        }
    }
}
