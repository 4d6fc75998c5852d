use super::*;

/// The scan's count for `text`: the smallest limit it stays within.
fn scanned(text: &str) -> usize {
    (0..200)
        .find(|&limit| yaml_too_deep(text.as_bytes(), limit).is_none())
        .expect("under 200")
}

/// Maps and lists in the value the YAML parser reads from `text`.
fn parsed(text: &str) -> usize {
    fn depth(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let v: serde_json::Value =
        yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    depth(&v)
}

/// Texts where brackets, quotes and indentation mean something else than they seem, with
/// the levels libyaml's scanner opens for each: what is inside strings, comments and block
/// scalars is not counted, what follows them is.
const CASES: &[(&str, usize)] = &[
    ("a: 1", 1),
    ("a:\n  b:\n    c: 1", 3),
    ("a:\r\n  b:\r\n    c: 1", 3),
    ("a: [1, [2, {x: 3}]]", 4),
    ("a: '[[[[' \nb: [[1]]", 3),
    ("a: 'it''s [[[['\nb: [[1]]", 3),
    ("a: \"[[[[\\\" [[\"\nb: [[1]]", 3),
    ("a: it's [[[[ {{ fine\nb: [[1]]", 3),
    ("a: plain\n  \"not a quote\n  [[[[\nb: [[1]]", 3),
    ("a: \"two\n  [[[[ lines\"\nb: [[1]]", 3),
    ("a: 'two\n  [[[[ lines'\nb: [[1]]", 3),
    ("a: |\n  [[[[ \"unclosed\n  {{{\nb: [[1]]", 3),
    ("a: >-\n  [[[[\n\n  '\nb: [[1]]", 3),
    ("a: |2\n    [[[[\n  x\nb: [[1]]", 3),
    ("- |\n  \"quoted-looking\n- [[1]]", 3),
    ("- a: |\n    \"x\n  b: [[1]]", 4),
    ("a: 1 # [[[[\n# {{{{\nb: [[1]]", 3),
    ("a: [1]#[[[\nb: 2", 2),
    ("a: [\n[\n[\n1]]]", 4),
    ("{\"a\":[\"x]\",{\"b\":[1]}]}", 4),
    ("{\"a\":\"[[\",\"b\":[[1]]}", 3),
    ("a: !!seq &x [[1]]", 3),
    ("a: !<tag:x,y[z]> [1]", 2),
    ("a: *x [[", 3),
    ("- - - x", 3),
    ("? [[a]]\n: b", 3),
    ("key:\n- a\n- [b]", 2),
    ("[a, b]: [[c]]", 3),
    ("a: 'x'\u{2028}b: [[1]]", 3),
    ("a: \"x\\\n  [[[[\"\nb: [[1]]", 3),
    ("%YAML 1.2\n--- [[1]]", 2),
    ("\u{FEFF}a: [[1]]", 3),
    ("a: \"multi\n\n  ]]]] {\"\nb: [[[[1]]]]", 5),
];

#[test]
fn strings_comments_and_block_scalars_are_not_levels() {
    for (text, want) in CASES {
        assert_eq!(scanned(text), *want, "{text:?}");
    }
}

/// The scan never counts fewer levels than the YAML parser builds, give or take the implicit
/// mappings it does not see (a sequence under `key:` at the key's indentation, `[a: b]`).
#[test]
fn the_scan_agrees_with_the_parser() {
    let fixtures = ["specs/petstore.yaml", "tests/fixtures/echo.yaml"];
    let files: Vec<String> = fixtures
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let texts = CASES
        .iter()
        .map(|(t, _)| *t)
        // Not for the parser: a directive, an unknown alias, keys that are not strings.
        .filter(|t| !t.starts_with("%YAML") && !t.contains("*x"))
        .filter(|t| !t.starts_with("? ") && !t.starts_with("[a, b]"))
        .chain(files.iter().map(String::as_str))
        .chain(["a: [x: [y: [z: 1]]]", "a:\n- b:\n  - c:\n    - 1"]);
    for text in texts {
        let (scan, parse) = (scanned(text), parsed(text));
        assert!(
            scan <= parse && parse <= 2 * scan + 1,
            "{text:?}: {scan} vs {parse}"
        );
    }
}

#[test]
fn deep_text_is_refused_at_the_line_that_goes_too_deep() {
    let flow = format!("a: 1\nb: {}", "[".repeat(100_000));
    assert_eq!(yaml_too_deep(flow.as_bytes(), 116), Some(2));
    let mut indented = String::new();
    for d in 0..200 {
        indented.push_str(&format!("{}a:\n", " ".repeat(d)));
    }
    assert_eq!(yaml_too_deep(indented.as_bytes(), 116), Some(117));
    let compact = format!("{}x", "- ".repeat(100_000));
    assert_eq!(yaml_too_deep(compact.as_bytes(), 116), Some(1));
    // Brackets in strings, however many, are text.
    let strings = format!(
        "a: '{}'\nb: \"{}\"",
        "[".repeat(100_000),
        "{".repeat(100_000)
    );
    assert_eq!(yaml_too_deep(strings.as_bytes(), 116), None);
}

#[test]
fn every_loop_ends_on_odd_input() {
    for text in [
        "\"unclosed",
        "'unclosed",
        "a: \"\0\"",
        "a: [\0",
        "|",
        "a: |\0",
        "!<",
        "&",
        "\t- a",
        "a: b: c",
        "[a:[b]]",
        "- ---",
        "\u{85}\u{2029}",
        "\r\r\n\n",
        "a: \\",
        "#",
    ] {
        let _ = yaml_too_deep(text.as_bytes(), 3);
    }
}
