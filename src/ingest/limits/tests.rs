use super::*;

/// The scan's count for `text`: the smallest limit it stays within.
fn scanned(text: &str) -> usize {
    (0..200)
        .find(|&limit| yaml_too_deep(text.as_bytes(), limit).is_none())
        .expect("under 200")
}

/// Maps and lists in a value.
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Maps and lists in the value the YAML parser reads from `text`.
fn parsed(text: &str) -> usize {
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
    ("x:\n  a: |\n  b: [[1]]", 4),
    // Where the key starts (an anchor before it, 1,000 characters before the `:`) sets the
    // indentation a plain scalar's next line must have to continue it.
    ("&a k: plain\n \"x\nb: [[1]]", 3),
    (
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: plain\n \"x\nb: [[1]]",
        3,
    ),
    // In flow context a plain scalar continues on a line of any indentation.
    ("a: [x\n'y, [[1]]]", 4),
    ("x:\n  a: |\n\n  b: [[1]]", 4),
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
    ("\u{FEFF}a: plain\n  \"x\nb: [[1]]", 3),
    ("a: 1\n\u{FEFF}b: [[1]]", 4),
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
        // A byte order mark is a column: these make a second root node, refused.
        .filter(|t| !t.contains('\u{FEFF}'))
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

/// A xorshift generator of valid YAML whose scalars and comments are full of brackets,
/// quotes and `#`: plain, single- and double-quoted (some over two lines), literal block
/// scalars, comments, block and flow collections, indentless sequences.
struct Gen(u64, bool);

impl Gen {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next() % xs.len()]
    }
    /// Text with anything but line breaks.
    fn text(&mut self) -> String {
        const BITS: &[&str] = &[
            "[[", "]]", "{", "}", "'", "\"", "#", " # ", ": ", "-", "x", " ", ",", "|", "&", "*",
            "!", "%", "\\", "? ",
        ];
        let n = 1 + self.next() % 8;
        let mut t = String::from("x");
        (0..n).for_each(|_| t.push_str(self.pick(BITS)));
        t
    }
    fn scalar(&mut self, flow: bool, ind: usize) -> String {
        let pad = " ".repeat(ind + 2);
        match self.next() % if flow { 4 } else { 5 } {
            0 => format!("'{}'", self.text().replace('\'', "''")),
            1 => {
                let (a, b) = (self.text(), self.text());
                format!(
                    "'{}\n{pad}{}'",
                    a.replace('\'', "''"),
                    b.replace('\'', "''")
                )
            }
            2 => {
                let t = self.text().replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{t}\"")
            }
            3 if flow => {
                let n = 1 + self.next() % 5;
                let word: String = (0..n)
                    .map(|_| self.pick(&["x", "'", "\"", "#", ":x", "-"]))
                    .collect();
                format!("x{word}")
            }
            3 => {
                let n = 1 + self.next() % 5;
                let bits = ["x", "'", "\"", "#", ":x", "-", "[", "]", "{", "}", ","];
                let word: String = (0..n).map(|_| self.pick(&bits)).collect();
                if self.next().is_multiple_of(2) {
                    format!("x{word}")
                } else {
                    // A second line, one column in: it continues the scalar whatever it starts with.
                    let more: String = (0..n).map(|_| self.pick(&bits)).collect();
                    format!("x{word}\n{} {more}", &pad[2..])
                }
            }
            _ => {
                let n = self.next() % 3;
                let lines: Vec<String> = (0..n).map(|_| format!("{pad}{}", self.text())).collect();
                format!("|\n{}", lines.join("\n"))
            }
        }
    }
    fn flow(&mut self, depth: usize, ind: usize) -> String {
        let n = self.next() % 3;
        let mut items = Vec::new();
        for k in 0..n {
            let item = if depth > 0 && self.next().is_multiple_of(2) {
                self.flow(depth - 1, ind)
            } else {
                self.scalar(true, ind)
            };
            items.push((k, item));
        }
        if self.next().is_multiple_of(2) {
            let items: Vec<String> = items.into_iter().map(|(_, i)| i).collect();
            format!("[{}]", items.join(", "))
        } else {
            let items: Vec<String> = items
                .into_iter()
                .map(|(k, i)| format!("k{k}: {i}"))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
    /// What follows `key:` or `- ` at indentation `ind`: a value on the same line, or lines
    /// below.
    fn value(&mut self, depth: usize, ind: usize) -> String {
        match self.next() % 6 {
            0 | 1 if depth > 0 => format!("\n{}", self.block(depth - 1, ind + 2)),
            2 if depth > 0 => format!(" {}\n", self.flow(depth - 1, ind)),
            3 => format!(" {} # {}\n", self.scalar(false, ind), self.text()),
            _ => format!(" {}\n", self.scalar(false, ind)),
        }
    }
    fn block(&mut self, depth: usize, ind: usize) -> String {
        let pad = " ".repeat(ind);
        let n = 1 + self.next() % 3;
        let mut out = String::new();
        if self.next().is_multiple_of(2) {
            for _ in 0..n {
                out.push_str(&format!("{pad}-{}", self.value(depth, ind)));
            }
        } else {
            for k in 0..n {
                if self.1 && depth > 0 && self.next().is_multiple_of(4) {
                    // An indentless sequence under the key.
                    let seq: String = (0..2)
                        .map(|_| format!("{pad}-{}", self.value(depth - 1, ind)))
                        .collect();
                    out.push_str(&format!("{pad}k{k}:\n{seq}"));
                } else {
                    out.push_str(&format!("{pad}k{k}:{}", self.value(depth, ind)));
                }
            }
        }
        out
    }
}

/// Generated documents: the scan counts exactly the parser's levels, or (with indentless
/// sequences, which have no level of their own in the scanner) at least half of them. So no
/// string, comment or block scalar hid brackets or indentation the parser read.
#[test]
fn the_scan_agrees_with_the_parser_on_generated_documents() {
    for indentless in [false, true] {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15, indentless);
        let mut deep = 0;
        for _ in 0..3000 {
            let text = g.block(6, 0);
            let v = match yaml_serde::from_str::<serde_json::Value>(&text) {
                Ok(v) => v,
                Err(e) => panic!("generated invalid YAML ({e}):\n{text}"),
            };
            let (scan, parse) = (scanned(&text), depth(&v));
            let agree = match indentless {
                false => scan == parse,
                true => scan <= parse && parse <= 2 * scan + 1,
            };
            assert!(agree, "scan {scan}, parser {parse}:\n{text}");
            deep += usize::from(parse >= 5);
        }
        assert!(deep > 300, "{deep} documents 5 levels deep");
    }
}
