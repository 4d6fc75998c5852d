//! Reading a request body, bounded three ways: its own size (`server.max_request_bytes`), a
//! deadline from the start of the request (`server.body_read_timeout_ms`), and, for requests
//! no token has vouched for, a budget shared by the whole process
//! (`server.max_unauthenticated_bytes`), so that a flood of anonymous bodies cannot take the
//! gateway's memory.

use std::sync::Arc;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("request body not received in time")]
    Deadline,
    #[error("too many unauthenticated request bodies in progress; try again shortly")]
    Busy,
    #[error("request body could not be read: {0}")]
    Read(String),
}

/// Bytes of request bodies held for requests no token vouched for, process-wide.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>);

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Budget(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }

    fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, BodyError> {
        let n = u32::try_from(bytes).map_err(|_| BodyError::Busy)?;
        self.0
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| BodyError::Busy)
    }
}

/// A share of the [`Budget`], given back when the request is done with its body.
#[derive(Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

/// Read a whole body of at most `limit` bytes by `deadline`; with a `budget`, its bytes are
/// counted against it (refused at once, never queued, when it is spent).
pub async fn read(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    deadline: Instant,
    budget: Option<&Budget>,
) -> Result<(Bytes, Held), BodyError> {
    if declared.is_some_and(|d| d > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut held = Held::default();
    if let (Some(b), Some(d)) = (budget, declared) {
        held.0 = Some(b.take(d as usize)?);
    }
    let mut body = body;
    let mut buf = BytesMut::with_capacity(declared.map_or(1024, |d| d as usize));
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::Deadline),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Read(e.to_string())),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        if let (Some(b), None) = (budget, declared) {
            let more = b.take(data.len())?;
            match &mut held.0 {
                Some(p) => p.merge(more),
                None => held.0 = Some(more),
            }
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_deadline_and_budget() {
        let later = Instant::now() + std::time::Duration::from_secs(5);
        let (b, _) = read(Body::from("hello"), Some(5), 5, later, None)
            .await
            .unwrap();
        assert_eq!(&b[..], b"hello");
        assert!(matches!(
            read(Body::from("hello!"), Some(6), 5, later, None).await,
            Err(BodyError::TooLarge(5))
        ));
        // Undeclared (chunked) bodies are counted as they come.
        assert!(matches!(
            read(Body::from("hello!"), None, 5, later, None).await,
            Err(BodyError::TooLarge(5))
        ));
        let budget = Budget::new(8);
        let (_, held) = read(Body::from("hello"), Some(5), 100, later, Some(&budget))
            .await
            .unwrap();
        assert!(matches!(
            read(Body::from("hello"), Some(5), 100, later, Some(&budget)).await,
            Err(BodyError::Busy)
        ));
        drop(held);
        assert!(
            read(Body::from("hello"), None, 100, later, Some(&budget))
                .await
                .is_ok()
        );
        // A body that never ends is cut at the deadline.
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
        let stream = tokio_stream_body(rx);
        let soon = Instant::now() + std::time::Duration::from_millis(50);
        assert!(matches!(
            read(stream, Some(10), 100, soon, None).await,
            Err(BodyError::Deadline)
        ));
    }

    fn tokio_stream_body(
        mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
    ) -> Body {
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Body::from_stream(stream)
    }
}
