//! `kafkactl proxy`: builds the shared state from the command line and serves until a signal.

use crate::cli::ProxyArgs;
use crate::error::Failure;
use crate::kafka::config::KafkaSettings;
use crate::kafka::producer::SharedProducer;
use crate::resp::connection::InputBudget;
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

/// The password clients must AUTH with: `--requirepass`, else the first line of
/// `--requirepass-file`, else the systemd credential `requirepass` (LoadCredential= puts it in
/// `$CREDENTIALS_DIRECTORY`), else none. An empty one is refused: it would look like
/// protection and be none.
pub fn password(args: &ProxyArgs) -> Result<Option<String>> {
    if let Some(password) = &args.requirepass {
        return Ok(Some(password.clone()));
    }
    let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(|dir| std::path::PathBuf::from(dir).join("requirepass"))
        .filter(|path| path.exists());
    let Some(path) = args.requirepass_file.clone().or(credential) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::Usage(format!(
            "cannot read the password from {}: {e}",
            path.display()
        ))
    })?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(Failure::Usage(format!(
            "{}: the password is empty; leave the file out to run without AUTH",
            path.display()
        ))
        .into());
    }
    Ok(Some(password.to_string()))
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
    if args.max_query_buffer < u64::from(args.max_bulk_bytes) + 64 * 1024 {
        return Err(Failure::Usage(format!(
            "--max-query-buffer {} cannot hold one request with a --max-bulk-bytes {} value: \
             give it at least {}",
            args.max_query_buffer,
            args.max_bulk_bytes,
            u64::from(args.max_bulk_bytes) + 64 * 1024
        ))
        .into());
    }
    let options = ServerOptions {
        limits: Limits {
            max_bulk_len: args.max_bulk_bytes as usize,
            max_args: DEFAULT_MAX_ARGS,
        },
        max_connections: args.max_connections as usize,
        max_consumers: args.max_consumers as usize,
        auth_timeout: Duration::from_secs(args.auth_timeout),
        write_timeout: Duration::from_secs(args.write_timeout),
        requirepass: password(&args)?,
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
        input: Arc::new(InputBudget::new(
            args.max_query_buffer as usize,
            args.max_total_query_buffer as usize,
        )),
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
