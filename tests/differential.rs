//! The fast path is held equal to rmcp on generated requests: every request is sent as a plain
//! client sends it (which the fast path may serve) and as a browser client sends it (an
//! `Origin`, which rmcp always serves), and both answers must be the same. A bounded run here;
//! `cargo fuzz run fastpath` (in `fuzz/`) drives the fast path's parser for longer.
//!
//! `DIFF_SEED` and `DIFF_CASES` change the generated set.

mod support;

use serde_json::{Map, Value, json};
use support::{Backend, Gateway, api_config, fixture};

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize].clone()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const REVISIONS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

/// One generated request: its body and its MCP headers.
fn generate(rng: &mut Rng) -> (Value, Vec<(String, String)>) {
    let revision = rng.pick(&REVISIONS);
    let method = rng.pick(&[
        "tools/call",
        "tools/call",
        "tools/call",
        "tools/list",
        "tools/list",
        "ping",
        "resources/list",
        "nonsense/method",
    ]);
    let mut params = Map::new();
    if method == "tools/call" && !rng.chance(5) {
        let name = rng.pick(&[
            json!("getStatus"),
            json!("getStatus"),
            json!("typed"),
            json!("submitForm"),
            json!("no_such_tool"),
            json!(7),
        ]);
        params.insert("name".into(), name);
    }
    if method == "tools/call" && !rng.chance(10) {
        let args = rng.pick(&[
            json!({"code": 200}),
            json!({"code": 201}),
            json!({"code": 404}),
            json!({"code": "x"}),
            json!({"code": 200, "extra": true}),
            json!({"shape": "good"}),
            json!({"shape": "bad"}),
            json!({"name": "n", "count": 3}),
            json!({}),
            json!([1, 2]),
        ]);
        params.insert("arguments".into(), args);
    }
    if (method == "tools/list" && rng.chance(50)) || rng.chance(5) {
        let cursor = rng.pick(&[
            json!("0"),
            json!("1"),
            json!("2"),
            json!("99"),
            json!("abc"),
            json!(1),
            json!(""),
        ]);
        params.insert("cursor".into(), cursor);
    }
    if revision == "2026-07-28" && !rng.chance(15) {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        });
        if rng.chance(10) {
            meta["io.modelcontextprotocol/clientCapabilities"] = json!("no");
        }
        params.insert("_meta".into(), meta);
    } else if rng.chance(15) {
        params.insert("_meta".into(), json!({"progressToken": 1}));
    }
    if rng.chance(4) {
        params.insert("unexpected".into(), json!(true));
    }
    let mut body = json!({"jsonrpc": "2.0", "method": method});
    if !rng.chance(3) {
        let id = rng.pick(&[
            json!(1),
            json!(0),
            json!(-5),
            json!(9_007_199_254_740_993_u64),
            json!("req-7"),
            json!(""),
            json!(1.5),
            Value::Null,
        ]);
        body["id"] = id;
    }
    if !params.is_empty() || rng.chance(50) {
        body["params"] = Value::Object(params.clone());
    }
    if rng.chance(3) {
        body["jsonrpc"] = json!("1.0");
    }
    if rng.chance(3) {
        body["extra"] = json!(1);
    }
    let mut headers = vec![("mcp-protocol-version".to_string(), revision.to_string())];
    if revision == "2026-07-28" {
        if !rng.chance(10) {
            let m = if rng.chance(5) { "tools/list" } else { method };
            headers.push(("mcp-method".into(), m.to_string()));
        }
        if method == "tools/call" && !rng.chance(10) {
            let n = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("getStatus");
            let n = if rng.chance(5) { "typed" } else { n };
            headers.push(("mcp-name".into(), n.to_string()));
        }
    }
    (body, headers)
}

#[tokio::test]
async fn the_fast_path_answers_generated_requests_exactly_as_rmcp_does() {
    let backend = Backend::start().await;
    let gw = Gateway::start(&format!(
        "upstream:\n  timeout_ms: 2000\nserver:\n  page_size: 3\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    let mcp = gw.mcp("echo");
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let cases: usize = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(seed);
    let before = gw.served().await;
    for i in 0..cases {
        let (body, headers) = generate(&mut rng);
        let text = body.to_string();
        let mut h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let plain = mcp.post_raw(&text, &h).await;
        h.push(("origin", "http://localhost:9999"));
        let browser = mcp.post_raw(&text, &h).await;
        let case = format!("case {i} (seed {seed}): {text} {headers:?}");
        assert_eq!(
            plain.status, browser.status,
            "{case}\n{}\n{}",
            plain.text, browser.text
        );
        match (
            serde_json::from_str::<Value>(&plain.text),
            serde_json::from_str::<Value>(&browser.text),
        ) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{case}"),
            _ => assert_eq!(plain.text, browser.text, "{case}"),
        }
        assert_eq!(
            plain.headers.get("content-type"),
            browser.headers.get("content-type"),
            "{case}"
        );
    }
    let after = gw.served().await;
    let fast = after.0 - before.0;
    eprintln!(
        "{cases} generated requests: {fast} served by the fast path, {} by rmcp",
        after.1 - before.1
    );
    // The comparison means something only if the fast path served a good share of them.
    assert!(
        fast >= cases as f64 / 5.0,
        "only {fast} of {cases} requests took the fast path"
    );
}
