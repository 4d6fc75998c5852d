//! Wiring: build the snapshot from a config, bind, serve until Ctrl-C / SIGTERM.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Verifier;
use crate::catalog::Gateway;
use crate::config::Config;
use crate::server::listen::{self, ListenOptions};
use crate::server::{AppState, Counters, Limits, Snapshot, router};
use crate::upstream::Upstream;

/// Build everything, print each endpoint, then serve until `cancel` fires.
pub async fn serve(mut cfg: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // The public URL's host is where clients reach us: accept it as a Host value.
    if let Some(host) = cfg
        .server
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(String::from))
        && !cfg.server.allowed_hosts.contains(&host)
    {
        cfg.server.allowed_hosts.push(host);
    }
    let gateway = Gateway::build(&cfg)?;
    let upstream = Upstream::new(&cfg.upstream).map_err(anyhow::Error::msg)?;
    let verifier = Arc::new(Verifier::new(&cfg.auth)?);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback()
        && cfg
            .server
            .allowed_hosts
            .iter()
            .all(|h| ["localhost", "127.0.0.1", "::1"].contains(&h.as_str()))
    {
        tracing::warn!(
            %addr,
            "listening beyond loopback but only loopback Host values are accepted: add your public host name to server.allowed_hosts (or --allowed-host)"
        );
    }
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let public_url = cfg
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    let order = gateway.order.clone();
    let snapshot = Snapshot::new(gateway, &cfg, &public_url, &verifier, &upstream, &cancel)?;
    for name in &order {
        let url = format!("{}/mcp/{name}", public_url.trim_end_matches('/'));
        print!(
            "{}",
            crate::report::startup(
                &snapshot.gateway.apis[name],
                &url,
                snapshot.protection(name)
            )
        );
    }
    tokio::spawn(verifier.clone().prefetch());
    let state = AppState {
        live: Arc::new(ArcSwap::from_pointee(snapshot)),
        limits: Arc::new(Limits::new(&cfg.server)),
        counters: Arc::new(Counters::default()),
        verifier: verifier.clone(),
    };
    let opts = ListenOptions::new(&cfg.server);
    tracing::info!(%addr, threads = opts.threads, max_connections = opts.max_connections, ready_ms = started.elapsed().as_millis() as u64, "rest2mcp ready");
    println!("ready on http://{host}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    listen::serve(listener, state.clone(), router(state), cancel, opts).await?;
    Ok(())
}
