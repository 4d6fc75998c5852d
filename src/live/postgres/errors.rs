//! How the outcome of a database operation is told: a lost connection is dropped (the next
//! operation connects again), a server error or a failure before COMMIT means nothing changed,
//! an unconfirmed COMMIT is of unknown outcome.

use tokio_postgres::Client;

use super::OP_TIMEOUT;
use crate::live::store::StoreError;

/// The outcome of one operation on the query connection; a lost connection (or one that took
/// too long) is dropped so the next operation connects again.
pub(super) fn settle<T>(
    guard: &mut Option<Client>,
    r: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
) -> Result<T, StoreError> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            if e.is_closed() || e.as_db_error().is_none() {
                *guard = None;
            }
            Err(db(e))
        }
        Err(_) => {
            *guard = None;
            Err(unavailable(format!(
                "no answer within {} s",
                OP_TIMEOUT.as_secs()
            )))
        }
    }
}

/// Whether a change whose COMMIT was sent has an unknown outcome: no answer in time, or the
/// connection lost. An error the server answered with means it rolled back; a failure before
/// the COMMIT, that nothing changed (the server drops the transaction with the connection).
pub(super) fn unconfirmed<T>(
    r: &Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
) -> bool {
    match r {
        Err(_) => true,
        Ok(Err(e)) => e.as_db_error().is_none(),
        Ok(Ok(_)) => false,
    }
}

/// `e`, said to be of unknown outcome when `unsure`.
pub(super) fn uncertain(e: StoreError, unsure: bool) -> StoreError {
    match e {
        StoreError::Unavailable(m) if unsure => StoreError::Uncertain(m),
        e => e,
    }
}

pub(super) fn unavailable(message: String) -> StoreError {
    StoreError::Unavailable(message)
}

pub(super) fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => unavailable(format!("{}: {}", d.severity(), d.message())),
        None => {
            let mut m = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                m = format!("{m}: {c}");
                cause = c.source();
            }
            unavailable(m)
        }
    }
}
