//! Hostile documents load in time linear in their size, or are refused with one clear error:
//! nesting 100k deep (YAML and JSON), thousands of spellings of one `$ref`, YAML aliases that
//! expand exponentially, `$ref` cycles. Built in memory; bounds on time are generous (debug
//! build), the structural assertions are what pin the behaviour.

use std::time::{Duration, Instant};

use rest2mcp::ingest::{self, ApiSpec, IngestError};

const YAML_HEAD: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n";
const JSON_HEAD: &str = r#""openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}"#;
/// Far above what any test input needs on a debug build once the work is linear.
const GENEROUS: Duration = Duration::from_secs(2);

fn timed(bytes: &[u8]) -> (Result<ApiSpec, IngestError>, Duration) {
    let t = Instant::now();
    let r = ingest::parse(bytes);
    (r, t.elapsed())
}

fn assert_too_deep(label: &str, bytes: &[u8]) {
    let (r, took) = timed(bytes);
    let e = r.err().unwrap_or_else(|| panic!("{label}: loaded"));
    assert!(
        e.to_string().contains("nests deeper than 100 levels"),
        "{label}: {e}"
    );
    assert!(took < GENEROUS, "{label}: refused only after {took:?}");
}

#[test]
fn yaml_nested_100k_deep_is_refused_at_once() {
    let n = 100_000;
    let flow = format!("{YAML_HEAD}deep: {}{}\n", "[".repeat(n), "]".repeat(n));
    assert_too_deep("flow sequences", flow.as_bytes());
    let flow_maps = format!("{YAML_HEAD}deep: {}1{}\n", "{a: ".repeat(n), "}".repeat(n));
    assert_too_deep("flow mappings", flow_maps.as_bytes());
    let compact = format!("{YAML_HEAD}deep:\n{}x\n", "- ".repeat(n));
    assert_too_deep("compact block sequences", compact.as_bytes());
    // Growing indentation is quadratic in size: 300 levels is already a 45 KB file.
    let mut indented = format!("{YAML_HEAD}deep:\n");
    for d in 1..=300 {
        indented.push_str(&" ".repeat(d));
        indented.push_str("a:\n");
    }
    assert_too_deep("indented mappings", indented.as_bytes());
}

#[test]
fn json_nested_100k_deep_is_the_same_error_read_whole_or_streamed() {
    let n = 100_000;
    let deep = format!(
        "{{{JSON_HEAD},\"deep\":{}{}}}",
        "[".repeat(n),
        "]".repeat(n)
    );
    assert_too_deep("json arrays", deep.as_bytes());
    let objects = format!(
        "{{{JSON_HEAD},\"deep\":{}1{}}}",
        "{\"a\":".repeat(n),
        "}".repeat(n)
    );
    assert_too_deep("json objects", objects.as_bytes());
    // `load_file` streams JSON from the file instead.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.json");
    std::fs::write(&path, &deep).unwrap();
    let e = ingest::load_file(&path).unwrap_err();
    assert!(
        e.to_string().contains("nests deeper than 100 levels"),
        "{e}"
    );
}

/// The limit counts containers (maps and lists) from the document's root: 100 load, 101 do
/// not, in both formats.
#[test]
fn the_limit_is_exact_and_the_same_for_json_and_yaml() {
    // The root map is one level, so 99 nested lists make 100.
    for (n, ok) in [(99, true), (100, false)] {
        let json = format!(
            "{{{JSON_HEAD},\"deep\":{}{}}}",
            "[".repeat(n),
            "]".repeat(n)
        );
        let flow = format!("{YAML_HEAD}deep: {}{}\n", "[".repeat(n), "]".repeat(n));
        let block = format!("{YAML_HEAD}deep:\n{}x\n", "- ".repeat(n));
        for (label, doc) in [("json", json), ("yaml flow", flow), ("yaml block", block)] {
            let r = ingest::parse(doc.as_bytes());
            match (ok, r) {
                (true, Ok(_)) => {}
                (false, Err(e)) if e.to_string().contains("nests deeper than 100 levels") => {}
                (_, r) => panic!("{label} with {n} nested lists: {:?}", r.map(|_| ())),
            }
        }
    }
}

/// A schema nested 40 properties deep (88 levels from the document's root) is legitimate.
#[test]
fn deep_legitimate_schemas_still_load() {
    let mut schema = String::from(r#"{"type":"string"}"#);
    for i in 0..40 {
        schema = format!(r#"{{"type":"object","properties":{{"p{i}":{schema}}}}}"#);
    }
    let json = format!(
        r#"{{"openapi":"3.0.3","info":{{"title":"t","version":"1"}},"paths":{{"/a":{{"post":{{
        "requestBody":{{"content":{{"application/json":{{"schema":{schema}}}}}}},
        "responses":{{"200":{{"description":"ok"}}}}}}}}}}}}"#
    );
    let spec = ingest::parse(json.as_bytes()).unwrap();
    assert_eq!(spec.operations.len(), 1, "{:?}", spec.diagnostics);
    // The same document as YAML (JSON is YAML's flow style), read by the YAML path.
    let yaml = format!("# yaml\n{json}");
    let spec = ingest::parse(yaml.as_bytes()).unwrap();
    assert_eq!(spec.operations.len(), 1, "{:?}", spec.diagnostics);
}

/// `n` distinct spellings of `#/components/schemas/Pet`: letters percent-encoded by the bits of
/// a counter, in upper or lower case hex.
fn spellings(n: usize) -> Vec<String> {
    (0u64..)
        .map(|i| {
            let mut s = String::from("#/");
            let mut letter = 0;
            for c in "components/schemas/Pet".chars() {
                if c != '/' && (i >> letter) & 1 == 1 {
                    let hex = format!("%{:02X}", c as u32);
                    s.push_str(&if letter % 2 == 0 {
                        hex
                    } else {
                        hex.to_lowercase()
                    });
                } else {
                    s.push(c);
                }
                letter += usize::from(c != '/');
            }
            s
        })
        .take(n)
        .collect()
}

fn spelled_refs_spec(n: usize) -> String {
    let props: Vec<String> = spellings(n)
        .iter()
        .enumerate()
        .map(|(i, r)| format!(r#""p{i}":{{"$ref":"{r}"}}"#))
        .collect();
    format!(
        r#"{{"openapi":"3.0.3","info":{{"title":"t","version":"1"}},"paths":{{"/a":{{"post":{{
        "requestBody":{{"content":{{"application/json":{{"schema":{{"type":"object",
        "properties":{{{}}}}}}}}}}},"responses":{{"200":{{"description":"ok"}}}}}}}}}},
        "components":{{"schemas":{{"Pet":{{"type":"object","properties":{{"name":{{"type":"string"}}}}}}}}}}}}"#,
        props.join(",")
    )
}

#[test]
fn every_spelling_of_one_ref_is_one_definition_in_linear_time() {
    for n in [1000, 2000] {
        let doc = spelled_refs_spec(n);
        let distinct: std::collections::HashSet<String> = spellings(n).into_iter().collect();
        assert_eq!(distinct.len(), n);
        assert!(doc.len() > n * 50, "{} bytes", doc.len());
        let (spec, took) = timed(doc.as_bytes());
        let spec = spec.unwrap();
        let op = &spec.operations[0];
        let keys: Vec<&String> = op.defs.keys().collect();
        assert!(
            keys == ["Pet"],
            "{n} spellings of one pointer are one definition, not {} ({:?}, ...)",
            keys.len(),
            &keys[..keys.len().min(3)]
        );
        let props = op.body.as_ref().unwrap().schema["properties"]
            .as_object()
            .unwrap();
        assert_eq!(props.len(), n);
        assert!(
            props.values().all(|p| p["$ref"] == "#/$defs/Pet"),
            "{props:?}"
        );
        assert!(took < GENEROUS, "{n} spellings took {took:?}");
    }
}

/// A reference into `#/paths` keeps the paths whole however it is spelled.
#[test]
fn a_spelled_reference_into_paths_still_resolves() {
    let spec = ingest::parse(
        br##"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{
        "/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":
          {"schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}}}}},
        "/b":{"post":{"requestBody":{"required":true,"content":{"application/json":{"schema":
          {"$ref":"#/p%61ths/~1a/get/responses/200/content/application~1json/schema"}}}},
          "responses":{"200":{"description":"ok"}}}}}}"##,
    )
    .unwrap();
    assert_eq!(spec.operations.len(), 2, "{:?}", spec.diagnostics);
    assert!(spec.diagnostics.is_empty(), "{:?}", spec.diagnostics);
}

/// YAML aliases expanding exponentially ("billion laughs") are refused.
#[test]
fn yaml_billion_laughs_is_refused() {
    let mut doc = String::from(YAML_HEAD);
    doc.push_str("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let (r, took) = timed(doc.as_bytes());
    let e = r.expect_err("a billion laughs is refused");
    // The tree's budget (or else the YAML reader's repetition limit) stops it.
    let e = e.to_string();
    assert!(
        e.contains("aliases expand it past") || e.contains("repetition limit exceeded"),
        "{e}"
    );
    assert!(took < GENEROUS, "{took:?}");
}

/// Aliases that each repeat a big node, too few jumps for the YAML reader's repetition limit:
/// a list of 20,000 items named 20,000 times (4e8 values from a 200 KB text), or a 100 KB
/// string named 2,000 times (200 MB). Refused once the tree passes 16 times the text plus 16 MiB,
/// at once and with a clear error; an anchor shared a few times, as specs use them, loads.
#[test]
fn yaml_aliases_repeating_big_nodes_are_refused() {
    let n = 20_000;
    let mut wide = String::from(YAML_HEAD);
    wide.push_str(&format!(
        "a: &a [{}]
",
        vec!["0"; n].join(",")
    ));
    wide.push_str(&format!(
        "components: {{schemas: {{S: {{enum: [{}]}}}}}}
",
        vec!["*a"; n].join(",")
    ));
    let mut long = String::from(YAML_HEAD);
    long.push_str(&format!("s: &s \"{}\"\n", "x".repeat(100_000)));
    long.push_str(&format!(
        "components: {{schemas: {{S: {{enum: [{}]}}}}}}\n",
        vec!["*s"; 2_000].join(",")
    ));
    // Under a key the reader drops (`x-`), the aliases are still replayed: counted the same.
    let mut hidden = String::from(YAML_HEAD);
    hidden.push_str(&format!("a: &a [{}]\n", vec!["0"; n].join(",")));
    hidden.push_str(&format!("x-hidden: [{}]\n", vec!["*a"; n].join(",")));
    for (label, doc) in [
        ("wide list", wide),
        ("long string", long),
        ("under x-", hidden),
    ] {
        let (r, took) = timed(doc.as_bytes());
        let e = r.err().unwrap_or_else(|| panic!("{label}: loaded"));
        assert!(
            e.to_string().contains("aliases expand it past"),
            "{label}: {e}"
        );
        // Up to the budget (about a million values) is read first: a debug build takes ~1 s.
        assert!(
            took < Duration::from_secs(10),
            "{label}: refused only after {took:?}"
        );
    }
    let shared = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      parameters: &p [{name: q, in: query, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n  /b:\n    get:\n      operationId: b\n      parameters: *p\n      responses: {'200': {description: ok}}\n";
    let spec = ingest::parse(shared.as_bytes()).expect("a shared anchor loads");
    assert_eq!(spec.operations.len(), 2);
    // A hand-written spec sharing one 6 KB responses block among 300 operations (its tree some
    // 15 times its text): loads.
    let mut heavy = String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n");
    for i in 0..300 {
        heavy.push_str(&format!("  /p{i}:\n    get:\n      operationId: p{i}\n"));
        if i == 0 {
            heavy.push_str("      responses: &r\n");
            for code in 200..260 {
                heavy.push_str(&format!(
                    "        '{code}': {{description: '{}'}}\n",
                    "d".repeat(80)
                ));
            }
        } else {
            heavy.push_str("      responses: *r\n");
        }
    }
    let spec = ingest::parse(heavy.as_bytes()).expect("anchor-heavy spec loads");
    assert_eq!(spec.operations.len(), 300);
}

/// What the reader drops is still read whatever it holds: a tagged YAML value (AWS API
/// Gateway's `!Sub`) and an integer past 64 bits under `x-` keys, and such an integer where it
/// is kept (as a float), load as they did.
#[test]
fn yaml_tags_and_huge_integers_load() {
    let doc = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      x-amazon-apigateway-integration: {uri: !Sub 'arn:aws:${AWS::Region}', big: 123456789012345678901234567890}\n      parameters: [{name: q, in: query, schema: {type: integer, maximum: 123456789012345678901234567890}}]\n      responses: {'200': {description: ok}}\n";
    let spec = ingest::parse(doc.as_bytes()).expect("loads");
    assert_eq!(spec.operations.len(), 1);
}

/// `$ref` cycles: between path items and between parameters the operation is skipped and
/// reported; between schemas they stay references (validated at any depth).
#[test]
fn ref_cycles_are_skipped_or_stay_references() {
    let doc = br##"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{
        "/loop":{"$ref":"#/paths/~1loop"},
        "/params":{"get":{"parameters":[{"$ref":"#/components/parameters/A"}],
            "responses":{"200":{"description":"ok"}}}},
        "/schemas":{"post":{"requestBody":{"content":{"application/json":{"schema":
            {"$ref":"#/components/schemas/A"}}}},"responses":{"200":{"description":"ok"}}}}},
      "components":{
        "parameters":{"A":{"$ref":"#/components/parameters/B"},"B":{"$ref":"#/components/parameters/A"}},
        "schemas":{"A":{"$ref":"#/components/schemas/B"},"B":{"type":"object","properties":{
            "a":{"$ref":"#/components/schemas/A"}}}}}}"##;
    let spec = ingest::parse(doc).unwrap();
    let ops: Vec<String> = spec
        .operations
        .iter()
        .map(|o| format!("{} {}", o.method, o.path))
        .collect();
    assert_eq!(ops, ["POST /schemas"], "{:?}", spec.diagnostics);
    let skipped: Vec<&str> = spec
        .diagnostics
        .iter()
        .filter(|d| d.skipped)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().all(|m| m.contains("a cycle?")),
        "{skipped:?}"
    );
    let defs = &spec.operations[0].defs;
    assert_eq!(defs["A"], serde_json::json!({"$ref": "#/$defs/B"}));
    assert_eq!(
        defs["B"]["properties"]["a"],
        serde_json::json!({"$ref": "#/$defs/A"})
    );
}
