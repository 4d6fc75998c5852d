//! The fast path's request parser on arbitrary bodies and headers: it never panics, and
//! whatever it accepts is, read by `serde_json` as a plain value, a JSON-RPC 2.0 request of the
//! same method and id whose standard headers agree with its body (what rmcp would also accept).
//!
//! `cargo fuzz run fastpath` (nightly, from this directory's parent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rest2mcp::fastpath::{Headers, Plan, Revision, parse};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let revision = if flags & 1 == 0 {
        Revision::Legacy
    } else {
        Revision::Modern
    };
    let method: Option<&[u8]> = match (flags >> 1) & 3 {
        0 => None,
        1 => Some(b"tools/call"),
        2 => Some(b"tools/list"),
        _ => Some(b"ping"),
    };
    let name: Option<&[u8]> = match (flags >> 3) & 3 {
        0 => None,
        1 => Some(b"getPet"),
        _ => Some(b"other"),
    };
    let headers = Headers {
        method,
        name,
        ..Default::default()
    };
    let Some(plan) = parse(body, &headers, revision) else {
        return;
    };
    let v: Value = serde_json::from_slice(body).expect("accepted bodies are JSON");
    assert_eq!(v["jsonrpc"], "2.0");
    let id = serde_json::to_value(match &plan {
        Plan::Call { id, .. } | Plan::List { id, .. } => id,
    })
    .unwrap();
    assert_eq!(v["id"], id);
    match &plan {
        Plan::Call { name: n, arguments, .. } => {
            assert_eq!(v["method"], "tools/call");
            assert_eq!(v["params"]["name"], n.as_str());
            if let Some(h) = name {
                assert_eq!(h, n.as_bytes());
            }
            assert!(v["params"]["arguments"].is_null() || v["params"]["arguments"] == Value::Object(arguments.clone()));
        }
        Plan::List { .. } => assert_eq!(v["method"], "tools/list"),
    }
    if let Some(m) = method {
        assert_eq!(v["method"].as_str().map(str::as_bytes), Some(m));
    } else {
        assert!(revision == Revision::Legacy, "modern requests carry Mcp-Method");
    }
});
