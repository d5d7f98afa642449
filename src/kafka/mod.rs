//! librdkafka below the proxy: config loading, the shared producer, per-connection consumers.

pub mod config;
pub mod consumer;
pub mod producer;
