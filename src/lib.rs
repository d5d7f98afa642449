//! kafkactl: run Kafka consumers on a fleet of Linux servers.
//!
//! One binary:
//! - `kafkactl proxy` ([`proxy`], [`resp`], [`kafka`]): a Kafka gateway that speaks Rafka's
//!   subset of the Redis protocol, so Redis clients and rafka-rb work unchanged;
//! - `kafkactl worker` ([`worker`], [`metrics`]): one consumer instance under systemd, feeding
//!   the app's handler process over a line protocol, at least once;
//! - the control plane (`spawn`, `status`, `deploy`, ...: [`control`], [`systemd`], [`plan`]),
//!   on this host and across a fleet over SSH ([`fleet`], [`transport`]);
//! - monitoring (`lag`, `status --lag`, the `check` plugin: [`monitor`]);
//! - `kafkactl dev broker` ([`dev`]): librdkafka's mock cluster for the quickstart and tests.

pub mod cli;
pub mod control;
pub mod dev;
pub mod error;
pub mod fleet;
pub mod kafka;
pub mod logs;
pub mod manifest;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod plan;
pub mod proctitle;
pub mod proxy;
pub mod resp;
pub mod stats;
pub mod systemd;
pub mod transport;
pub mod units;
pub mod worker;
