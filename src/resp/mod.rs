//! The Rafka-compatible RESP server behind `kafkactl proxy`.
//!
//! `frame` parses and encodes RESP with no I/O; `connection` owns one client socket;
//! `cmd` has one file per command; `server` accepts connections and runs the shutdown order.

pub mod cmd;
pub mod connection;
pub mod frame;
pub mod monitor;
pub mod server;
pub mod session;

use crate::kafka::config::KafkaSettings;
use crate::kafka::producer::SharedProducer;
use crate::stats::Stats;
use frame::Limits;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Settings of the proxy server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// RESP parsing limits.
    pub limits: Limits,
    /// Most client connections at once; further ones get an error and are closed.
    pub max_connections: usize,
    /// Most consumers at once; a BLPOP that would create one more gets a `CONS` error.
    pub max_consumers: usize,
    /// With `requirepass`: how long a connection may stay unauthenticated.
    pub auth_timeout: Duration,
    /// How long a write to a client may block before the connection is closed.
    pub write_timeout: Duration,
    /// When set, clients must AUTH with it before any other command.
    pub requirepass: Option<String>,
    /// BLPOP timeout when the client's last argument is not an integer.
    pub default_blpop_timeout: Duration,
    /// How long the whole shutdown may take.
    pub shutdown_timeout: Duration,
}

/// The stages of the shutdown, as tokens that connections watch.
#[derive(Debug, Clone, Default)]
pub struct ShutdownStages {
    /// Stage 1: no new consumers; connections that own one close.
    pub consumers: CancellationToken,
    /// Stage 3: stop accepting connections.
    pub accept: CancellationToken,
    /// Stage 4: close every remaining connection.
    pub connections: CancellationToken,
}

/// State shared by every connection.
pub struct Shared {
    /// Server settings.
    pub options: ServerOptions,
    /// librdkafka settings from the config file.
    pub kafka: KafkaSettings,
    /// The one producer.
    pub producer: SharedProducer,
    /// Counters for HGETALL stats.
    pub stats: Arc<Stats>,
    /// Client ids (CLIENT SETNAME) of live connections.
    pub client_ids: Mutex<HashSet<String>>,
    /// MONITOR subscribers.
    pub monitor: monitor::MonitorHub,
    /// Shutdown stages.
    pub shutdown: ShutdownStages,
    /// Open consumers; shutdown waits for each to commit and leave its group.
    pub consumers: TaskTracker,
    /// The caps on unparsed client input, and what all connections hold now.
    pub input: Arc<connection::InputBudget>,
}
