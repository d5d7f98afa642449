//! The accept loop, per-connection handling and Rafka's shutdown order.

use super::cmd::{self, Flow};
use super::connection::{Connection, FLUSH_THRESHOLD};
use super::frame::Frame;
use super::session::Session;
use super::Shared;
use crate::stats::Stats;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the shutdown achieved.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// Consumers still closing when the deadline passed.
    pub consumers_timed_out: bool,
    /// Connections still open when the deadline passed.
    pub connections_timed_out: bool,
    /// Produced messages that could not be delivered before exit.
    pub undelivered: i32,
}

/// Serves clients on `listener` until `stop` fires, then shuts down in Rafka's order:
/// 1. no new consumers (BLPOP gets `CONS Server shutdown`);
/// 2. close the connections that own consumers, wait for them to commit and leave;
/// 3. stop accepting connections;
/// 4. close the remaining connections and flush the producer.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> ShutdownReport {
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(shared.options.max_connections));
    let local = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let status = tokio::spawn(report_status(shared.clone(), local));

    // The accept loop runs until stage 3, not until the signal: during stage 1 (consumers
    // committing, which can take a while) clients still connect and produce, as in Rafka.
    let accept_loop = {
        let shared = shared.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shared.shutdown.accept.cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, peer)) => {
                            let permit = slots.clone().try_acquire_owned();
                            let shared = shared.clone();
                            connections.spawn(async move {
                                match permit {
                                    Ok(_permit) => handle(stream, peer, shared).await,
                                    Err(_) => refuse(stream, &shared).await,
                                }
                            });
                        }
                        Err(err) => {
                            // Out of file descriptors and the like: back off instead of
                            // spinning.
                            tracing::warn!(error = %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            // The listener is dropped here: from now on connecting is refused.
        })
    };
    stop.cancelled().await;

    status.abort();
    crate::notify::stopping();
    let deadline = tokio::time::Instant::now() + shared.options.shutdown_timeout;
    let mut report = ShutdownReport::default();

    tracing::info!("shutdown 1/4: no new consumers; closing consumer connections");
    shared.shutdown.consumers.cancel();
    shared.consumers.close();
    if tokio::time::timeout_at(deadline, shared.consumers.wait())
        .await
        .is_err()
    {
        report.consumers_timed_out = true;
        tracing::warn!("shutdown: consumers did not all close before the deadline");
    }

    tracing::info!("shutdown 2/4: consumers closed and offsets committed");
    shared.shutdown.accept.cancel();
    let _ = accept_loop.await;
    tracing::info!("shutdown 3/4: not accepting connections; closing the rest");
    shared.shutdown.connections.cancel();
    connections.close();
    if tokio::time::timeout_at(deadline, connections.wait())
        .await
        .is_err()
    {
        report.connections_timed_out = true;
        tracing::warn!("shutdown: connections did not all close before the deadline");
    }
    // A consumer created in the instant stage 1 began is closed by stage 3; wait for it too.
    let _ = tokio::time::timeout_at(deadline, shared.consumers.wait()).await;

    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let flusher = shared.clone();
    report.undelivered = tokio::task::spawn_blocking(move || {
        flusher.producer.flush(left.max(Duration::from_millis(100)))
    })
    .await
    .unwrap_or(-1);
    if report.undelivered > 0 {
        Stats::add(
            &shared.stats.producer_delivery_errors,
            i64::from(report.undelivered),
        );
    }
    tracing::info!(
        undelivered = report.undelivered,
        "shutdown 4/4: producer flushed"
    );
    report
}

/// Tells systemd what the proxy is doing, every few seconds.
async fn report_status(shared: Arc<Shared>, local: String) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    // The first tick is immediate; READY's own status says enough until the next one.
    tick.tick().await;
    loop {
        tick.tick().await;
        let snap: std::collections::HashMap<_, _> = shared.stats.snapshot().into_iter().collect();
        crate::notify::status(&format!(
            "listening on {local}: {} connections, {} consumers, {} produced, {} consumed",
            snap["connections.active"],
            snap["consumers.active"],
            snap["producer.messages.delivered"],
            snap["consumer.messages.delivered"],
        ));
    }
}

async fn refuse(stream: TcpStream, shared: &Shared) {
    Stats::incr(&shared.stats.connections_rejected);
    let mut conn = Connection::new(
        stream,
        shared.options.limits,
        shared.options.write_timeout,
        shared.input.clone(),
    );
    Frame::error("ERR max number of clients reached").encode(conn.output());
    let _ = conn.flush().await;
}

/// Counts a connection in `connections.active` while it lives, also when its task panics.
struct ActiveConnection(Arc<Shared>);

impl ActiveConnection {
    fn new(shared: &Arc<Shared>) -> ActiveConnection {
        Stats::incr(&shared.stats.connections_active);
        ActiveConnection(shared.clone())
    }
}

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        Stats::decr(&self.0.stats.connections_active);
    }
}

async fn handle(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _active = ActiveConnection::new(&shared);
    Stats::incr(&shared.stats.connections_total);
    let mut conn = Connection::new(
        stream,
        shared.options.limits,
        shared.options.write_timeout,
        shared.input.clone(),
    );
    let mut session = Session::new(peer, shared.clone());
    match run_session(&mut conn, &mut session).await {
        Ok(Flow::Monitor) => {
            let _ = stream_monitor(&mut conn, &shared).await;
        }
        Ok(_) => {}
        Err(err) => tracing::debug!(client = %session.id(), error = %err, "connection ended"),
    }
    drop(session);
}

/// Reads and runs requests until the client leaves, a command closes the connection, or
/// shutdown reaches this connection. Returns `Flow::Monitor` when the client asked for it.
async fn run_session(conn: &mut Connection, session: &mut Session) -> std::io::Result<Flow> {
    let shared = session.shared().clone();
    // A connection that never authenticates holds a socket and a buffer for nothing: it has
    // until this deadline (only AUTH and QUIT are served before it).
    let auth_deadline = tokio::time::Instant::now() + shared.options.auth_timeout;
    loop {
        // Run every request already buffered (a pipeline), then flush once.
        loop {
            let args = match conn.next_request() {
                Ok(Some(args)) if args.is_empty() => continue,
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(err) => {
                    Frame::error(format!("ERR {err}")).encode(conn.output());
                    conn.flush().await?;
                    return Ok(Flow::Close);
                }
            };
            if conn.has_output() && cmd::may_block(&args[0]) {
                conn.flush().await?;
            }
            match cmd::execute(&args, session, conn.output()).await {
                Flow::Continue => {}
                Flow::Monitor => {
                    // The +OK goes out only once the subscription exists (see
                    // stream_monitor), so no command after it can be missed.
                    return Ok(Flow::Monitor);
                }
                Flow::Close => {
                    conn.flush().await?;
                    return Ok(Flow::Close);
                }
            }
            if conn.output().len() >= FLUSH_THRESHOLD {
                conn.flush().await?;
            }
        }
        conn.flush().await?;

        let owns_consumer = session.consumer.is_some();
        let unauthenticated = !session.authenticated;
        tokio::select! {
            _ = tokio::time::sleep_until(auth_deadline), if unauthenticated => {
                Frame::error("ERR Authentication timeout: AUTH first, within the proxy's \
                              --auth-timeout").encode(conn.output());
                let _ = conn.flush().await;
                return Ok(Flow::Close);
            }
            _ = shared.shutdown.connections.cancelled() => return Ok(Flow::Close),
            _ = shared.shutdown.consumers.cancelled(), if owns_consumer => return Ok(Flow::Close),
            read = conn.fill() => {
                let more = match read {
                    Ok(more) => more,
                    Err(err) if err.kind() == std::io::ErrorKind::OutOfMemory => {
                        // Like Redis: say why, then close; the buffered input is dropped.
                        tracing::warn!(client = %session.id(), error = %err, "closing");
                        Frame::error(format!("ERR {err}")).encode(conn.output());
                        let _ = conn.flush().await;
                        return Ok(Flow::Close);
                    }
                    Err(err) => return Err(err),
                };
                if !more {
                    if conn.has_partial_input() {
                        tracing::debug!(client = %session.id(), "client left mid-request");
                    }
                    return Ok(Flow::Close);
                }
            }
        }
    }
}

/// Appends `+line\r\n` (MONITOR lines never contain CR or LF: arguments are quoted).
fn push_status_line(out: &mut bytes::BytesMut, line: &[u8]) {
    out.extend_from_slice(b"+");
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

/// Streams MONITOR lines until the client leaves, sends QUIT, or shutdown.
async fn stream_monitor(conn: &mut Connection, shared: &Shared) -> std::io::Result<()> {
    let mut lines = shared.monitor.subscribe();
    // The MONITOR reply (and anything pipelined before it) is still buffered: a client that
    // acts on +OK is now sure to see every later command.
    conn.flush().await?;
    loop {
        tokio::select! {
            _ = shared.shutdown.connections.cancelled() => return Ok(()),
            line = lines.recv() => match line {
                Ok(line) => {
                    push_status_line(conn.output(), &line);
                    // Batch whatever else is already waiting into the same write.
                    while conn.output().len() < FLUSH_THRESHOLD {
                        match lines.try_recv() {
                            Ok(more) => push_status_line(conn.output(), &more),
                            Err(_) => break,
                        }
                    }
                    conn.flush().await?;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Like Redis's output buffer limit for monitors: a client that cannot
                    // keep up is disconnected rather than shown a stream with holes.
                    tracing::info!(missed, "MONITOR client too slow; disconnecting it");
                    Frame::error(format!(
                        "ERR MONITOR client too slow: {missed} lines behind; reconnect"
                    ))
                    .encode(conn.output());
                    let _ = conn.flush().await;
                    return Ok(());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            read = conn.fill() => {
                if !read? {
                    return Ok(());
                }
                // A monitoring client may only leave; bytes that break the protocol end it.
                loop {
                    match conn.next_request() {
                        Ok(Some(args)) => {
                            if args.first().is_some_and(|a| a.eq_ignore_ascii_case(b"QUIT")) {
                                Frame::Simple("OK".into()).encode(conn.output());
                                conn.flush().await?;
                                return Ok(());
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            Frame::error(format!("ERR {err}")).encode(conn.output());
                            let _ = conn.flush().await;
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}
