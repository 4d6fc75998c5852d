//! Where io_uring does not exist (not Linux): upstream request writes are ordinary writes.
//! See `batch.rs` for what Linux builds do.

use std::io;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Never built here: [`Batcher::new`] says why.
pub struct Batcher;

impl Batcher {
    pub fn new() -> io::Result<Arc<Self>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring is Linux only",
        ))
    }
    pub fn install(self: &Arc<Self>) {}
    pub fn flush(&self) {}
}

/// Whether a [`send_all`] error leaves it open that the server got the request: never here.
pub fn maybe_sent(_: &io::Error) -> bool {
    false
}

pub async fn send_all(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await
}
