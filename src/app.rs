//! Wiring: the shared parts, the live registry (config APIs and stored ones), the listener;
//! serve until Ctrl-C / SIGTERM.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::live::Live;
use crate::live::files::FileStore;
use crate::live::registry::Shared;
use crate::live::store::Store;
use crate::server::listen::{self, ListenOptions};
use crate::server::{AppState, Counters, Limits, router};

/// Build everything, print each endpoint, then serve until `cancel` fires. `config_path`: the
/// config file, watched and reloaded on change and SIGHUP. `first_run`: no config and no spec
/// were given: serve the bundled example API against its example backend, started here.
pub async fn serve(
    mut cfg: Config,
    config_path: Option<std::path::PathBuf>,
    first_run: bool,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // The store first: a second process waiting for the data directory takes no connection.
    let data_dir = match (&cfg.store.data_dir, &cfg.admin) {
        (Some(dir), _) => Some(dir.clone()),
        (None, Some(_)) => Some(crate::config::default_data_dir()),
        (None, None) => None,
    };
    if first_run {
        let dir = data_dir
            .clone()
            .unwrap_or_else(crate::config::default_data_dir)
            .join("example");
        cfg.apis.push(example_api(&dir).await?);
    }
    let store: Option<Arc<dyn Store>> = match (&cfg.store.postgres, &data_dir) {
        (Some(pg), _) => Some(Arc::new(
            crate::live::postgres::PgStore::open(pg, cfg.store.keep_versions).await?,
        )),
        (None, Some(dir)) => Some(Arc::new(FileStore::open(
            dir,
            cfg.store.keep_versions,
            &cancel,
        )?)),
        (None, None) => None,
    };
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
    crate::metrics::set_tool_series(cfg.server.metrics_tool_series);
    let admin_cfg = cfg.admin.clone();
    let opts = ListenOptions::new(&cfg.server);
    let limits = Arc::new(Limits::new(&cfg.server));
    let shared =
        Arc::new(Shared::new(cfg, host.clone(), cancel.clone()).map_err(anyhow::Error::msg)?);
    let live = Live::new(shared.clone(), store, config_path);
    live.start().await?;
    let reg = live.registry.load();
    for name in reg.order() {
        let e = &reg.apis[&name];
        print!(
            "{}",
            crate::report::startup(&e.catalog, &reg.mcp_url(&name), reg.protection(&name))
        );
    }
    tokio::spawn(shared.verifier.clone().prefetch());
    crate::live::watch::spawn(&live);
    crate::live::sync::spawn(&live);
    let state = AppState {
        live: live.clone(),
        limits,
        counters: Arc::new(Counters::default()),
    };
    let mut app = router(state.clone());
    if let Some(acfg) = admin_cfg {
        let file = acfg.token_file.clone().unwrap_or_else(|| {
            data_dir
                .clone()
                .unwrap_or_else(crate::config::default_data_dir)
                .join("admin-token")
        });
        let (token, created) = crate::admin::access::admin_token(&file, acfg.issuer.is_none())
            .map_err(anyhow::Error::msg)?;
        println!(
            "admin console: {}/admin/",
            reg.shared.public_url.trim_end_matches('/')
        );
        if created {
            println!(
                "admin token (created, kept in {}): {}",
                file.display(),
                token.as_deref().unwrap_or("")
            );
        } else if token.is_some() && std::env::var_os("REST2MCP_ADMIN_TOKEN").is_none() {
            println!("admin token: in {}", file.display());
        }
        let admin = Arc::new(crate::admin::Admin {
            cfg: acfg,
            token,
            live,
        });
        app = app.merge(crate::admin::router(admin));
    }
    tracing::info!(%addr, threads = opts.threads, max_connections = opts.max_connections, ready_ms = started.elapsed().as_millis() as u64, "rest2mcp ready");
    println!("ready on http://{host}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    listen::serve(listener, state, app, cancel, opts).await?;
    Ok(())
}

/// The bundled example API (`specs/petstore.yaml`, written under `dir`) against the example
/// backend, started in this process on a free loopback port.
async fn example_api(dir: &std::path::Path) -> anyhow::Result<crate::config::ApiConfig> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let spec = dir.join("petstore.yaml");
    std::fs::write(&spec, crate::example::PETSTORE_SPEC)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", spec.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = crate::example::serve(listener, false).await {
            tracing::warn!(error = %e, "the example backend stopped");
        }
    });
    println!("first run: the example pet store API (its backend runs in this process at {url})");
    Ok(crate::config::ApiConfig {
        name: "petstore".into(),
        spec,
        base_url: Some(url),
        ..Default::default()
    })
}
