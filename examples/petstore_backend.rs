//! The example REST backend for `specs/petstore.yaml`, on its own (the first run of
//! `rest2mcp serve` starts it in the same process):
//!
//!     cargo run --example petstore_backend [-- --listen 127.0.0.1:18080]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:18080".to_string();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => match args.next() {
                Some(v) => addr = v,
                None => return fail("--listen needs an address, e.g. 127.0.0.1:18080"),
            },
            // The address alone, as before.
            other if !other.starts_with('-') => addr = other.to_string(),
            other => return fail(&format!("unknown argument `{other}` (use --listen ADDR)")),
        }
    }
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            return fail(&format!(
                "cannot listen on {addr}: {e} (another program has it? choose one with --listen 127.0.0.1:PORT)"
            ));
        }
    };
    println!(
        "petstore backend on http://{}",
        listener.local_addr().map_or(addr, |a| a.to_string())
    );
    match rest2mcp::example::serve(listener, true).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> std::process::ExitCode {
    eprintln!("error: {message}");
    std::process::ExitCode::FAILURE
}
