//! The console in a real browser (Debian's Chromium, driven by `playwright-core` from
//! `tests/console/`, both installed by `scripts/test.sh`): sign in, upload `specs/petstore.yaml`,
//! leave one operation out, rename a tool, save, read the `mcp.json` entry, check what an MCP
//! client lists, call a tool with "Try it", see a broken spec's diagnostics, and more (see
//! `tests/console/console_test.mjs`). Screenshots (1280x800 and 390x844) are written to
//! `target/console-shots/`.

mod support;

use support::Gateway;
use support::admin::{TOKEN, admin_config, data_dir};

#[tokio::test]
async fn the_console_in_a_real_browser() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is needed at {chromium} (scripts/test.sh installs Debian's chromium)"
    );
    assert!(
        root.join("tests/console/node_modules/playwright-core")
            .exists(),
        "run `npm ci` in tests/console (scripts/test.sh does)"
    );
    // The example backend (pet 1 is Rex), and the bundled spec pointed at it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(rest2mcp::example::serve(listener, false));
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("petstore.yaml");
    std::fs::write(
        &spec,
        rest2mcp::example::PETSTORE_SPEC.replace("http://127.0.0.1:18080", &backend),
    )
    .unwrap();
    let gw = Gateway::start(&admin_config(&data_dir(dir.path())));
    let out = root.join("target/console-shots");
    std::fs::create_dir_all(&out).unwrap();
    let run = tokio::task::spawn_blocking({
        let (base, spec, out, chromium) = (gw.base.clone(), spec.clone(), out.clone(), chromium);
        move || {
            std::process::Command::new("node")
                .arg("tests/console/console_test.mjs")
                .current_dir(root)
                .env("BASE", base)
                .env("ADMIN_TOKEN", TOKEN)
                .env("SPEC", spec)
                .env("OUT", out)
                .env("CHROMIUM", chromium)
                .output()
                .expect("node runs")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(
        run.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    for shot in ["console-1280.png", "console-390.png"] {
        assert!(out.join(shot).exists(), "{shot} was not written");
    }
}
