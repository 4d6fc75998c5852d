//! `rest2mcp` binary: telemetry, arguments, run.
use clap::Parser;

// mimalloc: measurably cheaper than glibc malloc on the per-call allocation pattern (bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tokio_util::sync::CancellationToken;

use rest2mcp::catalog::{ApiCatalog, BuildError};
use rest2mcp::cli::{Cli, Command};
use rest2mcp::report;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let logs = rest2mcp::telemetry::init_logs(cli.log_format);
    let result = match cli.command {
        // Connections are served by their own worker threads (server::front); this runtime
        // runs the accept loop, signals and background refreshes.
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| {
                rt.block_on(async {
                    let cfg = args.to_config()?;
                    let config_path = args.config.clone();
                    let first_run = args.first_run();
                    let cancel = CancellationToken::new();
                    let c = cancel.clone();
                    tokio::spawn(async move {
                        shutdown_signal().await;
                        c.cancel();
                    });
                    rest2mcp::app::serve(cfg, config_path, first_run, cancel).await
                })
            }),
        Command::Inspect(args) => inspect(&args),
        Command::DevToken(args) => args.run().map(|t| println!("{t}")),
    };
    // What is logged comes out before the closing error line.
    drop(logs);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report_error(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn inspect(args: &rest2mcp::cli::InspectArgs) -> anyhow::Result<()> {
    let mut api = args.api_config()?;
    let cat = match ApiCatalog::from_file(&api, &args.spec, &Default::default()) {
        Err(BuildError::NoBaseUrl(_)) => {
            // inspect needs no backend: show the operations anyway.
            api.base_url = Some(format!("http://{}", report::NO_BACKEND_HOST));
            ApiCatalog::from_file(&api, &args.spec, &Default::default())?
        }
        other => other?,
    };
    let text = if args.json {
        format!("{}\n", report::inspect_json(&cat))
    } else {
        report::inspect_table(&cat)
    };
    // A reader that stops early (`| head`) is not an error.
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The error and its causes, each said once (a message that already quotes its cause is not
/// followed by it again).
fn report_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
