//! kafkactl's integration tests, in one test binary (as casey/just's tests/lib.rs): each file
//! of tests/ is a module here, and they share one rig (tests/common/). One binary links
//! librdkafka once, where thirteen binaries each linked it.
//!
//! The tests drive the real `kafkactl` binary against real peers: the dev broker or Apache
//! Kafka (`KAFKACTL_TEST_BROKER`, see common::real_kafka), the systemd user manager of
//! scripts/systemd-user.sh, booted Debian hosts with sshd (scripts/hosts.sh), Redis clients,
//! Ruby and Python.

mod common;

mod cli;
mod control_plane;
mod fuzz_corpora;
mod handler_libraries;
mod hosts;
mod kafka_failover;
mod lag_check;
mod live_view;
mod manifest_corpus;
mod proxy_commands;
mod proxy_groups;
mod proxy_systemd;
mod real_kafka;
mod ruby_client;
mod systemd_bus;
mod worker;
mod worker_systemd;
