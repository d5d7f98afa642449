//! One client socket with its read and write buffers. Requests are parsed from the read
//! buffer by [`frame::parse_request`](super::frame::parse_request); replies accumulate in the
//! write buffer and are flushed once per batch of pipelined requests.

use super::frame::{parse_request, Limits, ProtocolError};
use bytes::{Bytes, BytesMut};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flush replies early once this much is buffered, so a client that pipelines without
/// reading cannot grow our memory without bound.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;

/// A buffered RESP connection.
pub struct Connection {
    stream: TcpStream,
    input: BytesMut,
    output: BytesMut,
    limits: Limits,
    write_timeout: Duration,
}

impl Connection {
    /// Wraps an accepted socket.
    pub fn new(stream: TcpStream, limits: Limits, write_timeout: Duration) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            input: BytesMut::with_capacity(16 * 1024),
            output: BytesMut::with_capacity(16 * 1024),
            limits,
            write_timeout,
        }
    }

    /// The next complete request already buffered, if any.
    pub fn next_request(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        parse_request(&mut self.input, &self.limits)
    }

    /// Reads more bytes from the client. Returns `false` when the client closed.
    /// Cancellation-safe: no bytes are lost if the future is dropped.
    pub async fn fill(&mut self) -> io::Result<bool> {
        if self.input.capacity() - self.input.len() < 4096 {
            self.input.reserve(16 * 1024);
        }
        Ok(self.stream.read_buf(&mut self.input).await? > 0)
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
