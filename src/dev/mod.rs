//! Development tools: a local Kafka-protocol broker for the quickstart and the tests.

pub mod broker;
