//! `kafkactl proxy`: builds the shared state from the command line and serves until a signal.

use crate::cli::ProxyArgs;
use crate::error::Failure;
use crate::kafka::config::KafkaSettings;
use crate::kafka::producer::SharedProducer;
use crate::resp::frame::{Limits, DEFAULT_MAX_ARGS};
use crate::resp::{server, ServerOptions, Shared, ShutdownStages};
use crate::stats::Stats;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Loads and checks the librdkafka settings the flags describe.
pub fn kafka_settings(args: &ProxyArgs) -> Result<KafkaSettings> {
    let mut settings = match &args.config {
        Some(path) => KafkaSettings::from_file(path).map_err(|e| Failure::Usage(e.to_string()))?,
        None => KafkaSettings::default(),
    };
    settings
        .validate()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(brokers) = &args.brokers {
        settings.set_brokers(brokers);
    }
    if !settings.general.contains_key("bootstrap.servers")
        && !settings.producer.contains_key("bootstrap.servers")
    {
        return Err(Failure::Usage(
            "no Kafka brokers: pass --brokers HOST:PORT (or KAFKACTL_BROKERS), or a --config file with general.bootstrap.servers".into(),
        )
        .into());
    }
    Ok(settings)
}

/// Runs the proxy until `stop` fires; returns after the shutdown sequence.
pub async fn run(args: ProxyArgs, stop: CancellationToken) -> Result<()> {
    let kafka = kafka_settings(&args)?;
    let stats = Arc::new(Stats::default());
    let producer = SharedProducer::new(
        &kafka.producer_config(),
        stats.clone(),
        Duration::from_millis(args.produce_block_ms),
    )
    .map_err(|e| Failure::Usage(format!("invalid producer settings: {e}")))?;
    let options = ServerOptions {
        limits: Limits {
            max_bulk_len: args.max_bulk_bytes as usize,
            max_args: DEFAULT_MAX_ARGS,
        },
        max_connections: args.max_connections as usize,
        max_consumers: args.max_consumers as usize,
        auth_timeout: Duration::from_secs(args.auth_timeout),
        write_timeout: Duration::from_secs(args.write_timeout),
        requirepass: args.requirepass.clone(),
        default_blpop_timeout: Duration::from_secs(args.blpop_default_timeout),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() && options.requirepass.is_none() {
        tracing::warn!(%local, "listening beyond loopback without --requirepass");
    }
    let shared = Arc::new(Shared {
        options,
        kafka,
        producer,
        stats,
        client_ids: Default::default(),
        monitor: Default::default(),
        shutdown: ShutdownStages::default(),
        consumers: TaskTracker::new(),
    });
    tracing::info!(%local, "proxy listening");
    crate::notify::ready(&format!("listening on {local}"));
    let report = server::serve(listener, shared, stop).await;
    if report.consumers_timed_out || report.connections_timed_out || report.undelivered > 0 {
        anyhow::bail!(
            "shutdown incomplete: consumers timed out: {}, connections timed out: {}, undelivered messages: {}",
            report.consumers_timed_out,
            report.connections_timed_out,
            report.undelivered
        );
    }
    tracing::info!("proxy stopped cleanly");
    Ok(())
}
