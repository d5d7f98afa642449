//! One client socket with its read and write buffers. Requests are parsed from the read
//! buffer by [`frame::parse_request_resuming`](super::frame::parse_request_resuming), within
//! an [`InputBudget`]; replies accumulate in the
//! write buffer and are flushed once per batch of pipelined requests.

use super::frame::{parse_request_resuming, Cursor, Limits, ProtocolError};
use bytes::{Bytes, BytesMut};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flush replies early once this much is buffered, so a client that pipelines without
/// reading cannot grow our memory without bound.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;

/// The caps on unparsed client input (Redis's client-query-buffer-limit): per connection,
/// and across all of them, so that many clients sending partial requests cannot exhaust the
/// proxy's memory together.
#[derive(Debug)]
pub struct InputBudget {
    /// Most unparsed bytes one connection may hold.
    pub per_connection: usize,
    /// Most unparsed bytes all connections together may hold.
    pub total: usize,
    /// What they hold now.
    used: AtomicUsize,
}

impl InputBudget {
    /// A budget with nothing used.
    pub fn new(per_connection: usize, total: usize) -> InputBudget {
        InputBudget {
            per_connection,
            total,
            used: AtomicUsize::new(0),
        }
    }

    /// Unparsed bytes held across all connections now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// A buffered RESP connection.
pub struct Connection {
    stream: TcpStream,
    input: BytesMut,
    output: BytesMut,
    limits: Limits,
    write_timeout: Duration,
    /// How far the request at the front of `input` was parsed already.
    cursor: Cursor,
    budget: Arc<InputBudget>,
    /// The part of `budget` this connection's `input` accounts for.
    accounted: usize,
}

impl Connection {
    /// Wraps an accepted socket.
    pub fn new(
        stream: TcpStream,
        limits: Limits,
        write_timeout: Duration,
        budget: Arc<InputBudget>,
    ) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            input: BytesMut::with_capacity(16 * 1024),
            output: BytesMut::with_capacity(16 * 1024),
            limits,
            write_timeout,
            cursor: Cursor::default(),
            budget,
            accounted: 0,
        }
    }

    /// The next complete request already buffered, if any.
    pub fn next_request(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let parsed = parse_request_resuming(&mut self.input, &self.limits, &mut self.cursor);
        self.account();
        parsed
    }

    /// Reads more bytes from the client. Returns `false` when the client closed, and an
    /// error of kind `OutOfMemory` when its unparsed input would go over the per-connection
    /// or the total budget (the caller tells the client and closes the connection).
    /// Cancellation-safe: no bytes are lost if the future is dropped.
    pub async fn fill(&mut self) -> io::Result<bool> {
        // Grow by reads, never by what a length header announces.
        if self.input.capacity() - self.input.len() < 4096 {
            self.input.reserve(16 * 1024);
        }
        let read = self.stream.read_buf(&mut self.input).await?;
        self.account();
        if self.input.len() > self.budget.per_connection {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "client query buffer limit reached: {} bytes of unparsed input on one \
                     connection (--max-query-buffer)",
                    self.input.len()
                ),
            ));
        }
        if self.budget.used() > self.budget.total {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "the proxy's total query buffer limit is reached (--max-total-query-buffer)",
            ));
        }
        Ok(read > 0)
    }

    /// Brings the budget up to date with the size of `input`.
    fn account(&mut self) {
        let now = self.input.len();
        if now > self.accounted {
            self.budget
                .used
                .fetch_add(now - self.accounted, Ordering::Relaxed);
        } else {
            self.budget
                .used
                .fetch_sub(self.accounted - now, Ordering::Relaxed);
        }
        self.accounted = now;
    }

    /// The reply buffer.
    pub fn output(&mut self) -> &mut BytesMut {
        &mut self.output
    }

    /// Whether replies are waiting to be written.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Writes every buffered reply. A client that does not read them within the write
    /// timeout gets `TimedOut`, and its connection is closed: its replies would otherwise wait
    /// in our memory, and the shutdown on it, for ever.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            tokio::time::timeout(self.write_timeout, self.stream.write_all(&self.output))
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read its replies within the write timeout",
                    )
                })??;
            self.output.clear();
            // Give back memory after an unusually large reply (a big batch or value).
            if self.output.capacity() > 4 * FLUSH_THRESHOLD {
                self.output = BytesMut::with_capacity(16 * 1024);
            }
        }
        Ok(())
    }

    /// Whether the read buffer holds bytes of an unfinished request.
    pub fn has_partial_input(&self) -> bool {
        !self.input.is_empty()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.budget
            .used
            .fetch_sub(self.accounted, Ordering::Relaxed);
    }
}
