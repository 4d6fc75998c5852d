//! The listening connection: other replicas' writes as [`Changed`] events.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::CHANNEL;
use crate::live::store::Changed;

/// Between attempts to listen again after the connection was lost.
const RELISTEN: Duration = Duration::from_secs(1);

/// Listen for other replicas' writes on a connection of its own, forever: each notification
/// becomes a [`Changed::Api`]; each (re)connect a [`Changed::Check`] (what was missed).
pub(super) async fn listen(
    config: tokio_postgres::Config,
    connector: super::tls::Connector,
    tx: mpsc::UnboundedSender<Changed>,
) {
    let mut lost = false;
    loop {
        match connector.connect(&config).await {
            Ok((client, mut conn)) => {
                let (ntx, mut nrx) = mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                let _ = ntx.send(n.payload().to_string());
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return e.to_string(),
                            None => return "closed".to_string(),
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        if lost {
                            tracing::info!(
                                "listening to the database's change notifications again"
                            );
                        }
                        if tx.send(Changed::Check).is_err() {
                            return;
                        }
                        while let Some(p) = nrx.recv().await {
                            if tx.send(parse(&p)).is_err() {
                                return;
                            }
                        }
                        let why = driver.await.unwrap_or_else(|e| e.to_string());
                        tracing::warn!(error = %why, "lost the database's change notifications: listening again (the periodic check covers the gap)");
                        lost = true;
                    }
                    Err(e) => {
                        driver.abort();
                        if !lost {
                            tracing::warn!(error = %e, "cannot listen to the database's change notifications: retrying");
                        }
                        lost = true;
                    }
                }
                drop(client);
            }
            Err(e) => {
                if !lost {
                    tracing::warn!(error = %e, "cannot listen to the database's change notifications: retrying");
                }
                lost = true;
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(RELISTEN).await;
    }
}

/// A notification's payload; anything unexpected asks for a whole check.
fn parse(payload: &str) -> Changed {
    #[derive(serde::Deserialize)]
    struct P {
        api: String,
        version: Option<u64>,
    }
    match serde_json::from_str::<P>(payload) {
        Ok(p) => Changed::Api {
            name: p.api,
            version: p.version,
        },
        Err(_) => Changed::Check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(
            parse(r#"{"api":"a","version":3}"#),
            Changed::Api {
                name: "a".into(),
                version: Some(3)
            }
        );
        assert_eq!(
            parse(r#"{"api":"a","version":null}"#),
            Changed::Api {
                name: "a".into(),
                version: None
            }
        );
        assert_eq!(parse("nonsense"), Changed::Check);
        assert_eq!(
            super::super::change_text(crate::live::store::Change::Rollback),
            "rollback"
        );
    }
}
