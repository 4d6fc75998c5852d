//! Unit tests of `encode`: every style of the OpenAPI tables, dot segments, cookies.
use super::*;
use crate::ingest::Location;
use serde_json::json;

fn param(name: &str, location: Location, style: Style, explode: bool) -> Parameter {
    Parameter {
        name: name.into(),
        location,
        required: false,
        description: None,
        schema: json!({}),
        style,
        explode,
        allow_reserved: false,
        content: None,
    }
}

#[test]
fn path_values_cannot_escape_the_template() {
    let p = param("id", Location::Path, Style::Simple, false);
    assert_eq!(path_value(&p, &json!("../admin")).unwrap(), "..%2Fadmin");
    assert_eq!(path_value(&p, &json!("a/b?c#d")).unwrap(), "a%2Fb%3Fc%23d");
    assert_eq!(
        path_value(&p, &json!("..")).unwrap_err(),
        EncodeError::DotSegment("id".into())
    );
    assert_eq!(path_value(&p, &json!([1, 2])).unwrap(), "1,2");
    let m = param("id", Location::Path, Style::Matrix, true);
    assert_eq!(path_value(&m, &json!([1, 2])).unwrap(), ";id=1;id=2");
    let l = param("id", Location::Path, Style::Label, false);
    assert_eq!(path_value(&l, &json!(5)).unwrap(), ".5");
}

/// Every path style x value type, as in the OpenAPI style table (`color`, explode or not).
#[test]
fn path_styles_serialize_per_openapi() {
    let arr = json!(["blue", "black", "brown"]);
    let obj = json!({"R": 100, "G": 200, "B": 150});
    let cases = [
        (Style::Simple, false, json!("blue"), "blue"),
        (Style::Simple, true, json!("blue"), "blue"),
        (Style::Simple, false, arr.clone(), "blue,black,brown"),
        (Style::Simple, true, arr.clone(), "blue,black,brown"),
        (Style::Simple, false, obj.clone(), "R,100,G,200,B,150"),
        (Style::Simple, true, obj.clone(), "R=100,G=200,B=150"),
        (Style::Label, false, json!("blue"), ".blue"),
        (Style::Label, true, json!("blue"), ".blue"),
        (Style::Label, false, arr.clone(), ".blue,black,brown"),
        (Style::Label, true, arr.clone(), ".blue.black.brown"),
        (Style::Label, false, obj.clone(), ".R,100,G,200,B,150"),
        (Style::Label, true, obj.clone(), ".R=100.G=200.B=150"),
        (Style::Matrix, false, json!("blue"), ";color=blue"),
        (Style::Matrix, true, json!("blue"), ";color=blue"),
        (Style::Matrix, false, arr.clone(), ";color=blue,black,brown"),
        (
            Style::Matrix,
            true,
            arr.clone(),
            ";color=blue;color=black;color=brown",
        ),
        (
            Style::Matrix,
            false,
            obj.clone(),
            ";color=R,100,G,200,B,150",
        ),
        (Style::Matrix, true, obj.clone(), ";R=100;G=200;B=150"),
        // Empty values (the table's `empty` column): simple's empty string is refused
        // (it would make `//`, see below), label's `.` too.
        (Style::Matrix, false, json!(""), ";color"),
        // Every item is percent-encoded: a `/` inside one never adds a segment.
        (Style::Simple, false, json!(["a/b", "c?d"]), "a%2Fb,c%3Fd"),
        (Style::Label, true, json!(["a/b", "."]), ".a%2Fb.."),
        (Style::Matrix, true, json!({"k/": "v/"}), ";k%2F=v%2F"),
        (Style::Simple, true, json!({"..": ".."}), "..=.."),
        (Style::Simple, false, json!(["..", ".."]), "..,.."),
        (Style::Label, false, json!(["", ""]), ".,"),
        (Style::Label, true, json!({"": ""}), ".="),
        (Style::Matrix, true, json!(".."), ";color=.."),
        (Style::Simple, false, json!("..."), "..."),
    ];
    assert_eq!(
        path_value(
            &param("color", Location::Path, Style::Simple, false),
            &json!("")
        ),
        Err(EncodeError::EmptyPath("color".into()))
    );
    for (style, explode, value, want) in cases {
        let p = param("color", Location::Path, style, explode);
        let got = path_value(&p, &value);
        assert_eq!(
            got.as_deref(),
            Ok(want),
            "{style:?} explode={explode} {value}"
        );
        assert!(!want.contains('/') && !want.to_ascii_uppercase().contains("%2E"));
    }
}

/// Whatever the style and type, a value that is, or serializes to, a dot segment (also
/// once percent-decoded) is refused, naming the parameter.
#[test]
fn no_path_value_makes_a_dot_segment() {
    let refused = [
        (Style::Simple, false, json!(".")),
        (Style::Simple, true, json!("..")),
        // The review's exploits: array-valued path arguments.
        (Style::Simple, false, json!([".."])),
        (Style::Simple, true, json!([".."])),
        (Style::Simple, false, json!(["."])),
        // Percent-encoded dots, which servers normalise to `.` (RFC 3986 6.2.2.2).
        (Style::Simple, false, json!("%2E%2E")),
        (Style::Simple, false, json!("%2e.")),
        (Style::Simple, false, json!(["%2E"])),
        (Style::Simple, false, json!("%252E%252E")),
        // Label: the `.` prefix and separators are dots themselves.
        (Style::Label, false, json!("")),
        (Style::Label, true, json!("")),
        (Style::Label, false, json!(".")),
        (Style::Label, false, json!([])),
        (Style::Label, true, json!([])),
        (Style::Label, true, json!([""])),
        (Style::Label, true, json!(["", ""])),
        (Style::Label, false, json!(["."])),
        (Style::Label, true, json!(["."])),
        (Style::Label, false, json!({})),
        (Style::Label, true, json!({})),
        (Style::Label, false, json!(null)),
    ];
    for (style, explode, value) in refused {
        let p = param("itemId", Location::Path, style, explode);
        assert_eq!(
            path_value(&p, &value),
            Err(EncodeError::DotSegment("itemId".into())),
            "{style:?} explode={explode} {value}"
        );
    }
    let e = EncodeError::DotSegment("itemId".into()).to_string();
    assert!(e.contains("`itemId`") && e.contains("must not be"), "{e}");
}

#[test]
fn the_expansion_is_checked_as_one_segment() {
    let slash = Err(EncodeError::PathSlash("id".into()));
    let dots = Err(EncodeError::DotSegment("id".into()));
    assert_eq!(check_path_segment("id", "a/b"), slash);
    assert_eq!(check_path_segment("id", "/"), slash);
    assert_eq!(check_path_segment("id", "%2E%2E"), dots);
    assert_eq!(check_path_segment("id", "%2e"), dots);
    assert_eq!(check_path_segment("id", "%252e%252E"), dots);
    assert_eq!(check_path_segment("id", ".%2E"), dots);
    assert!(
        check_path_segment("id", "%2E%2E%2E").is_ok(),
        "`...` is a name"
    );
    assert!(check_path_segment("id", "%FF..").is_ok());
    // A `/` inside an item is sent encoded and stays inside the segment (tests/gateway.rs
    // sends `a/../b c` as `a%2F..%2Fb%20c`).
    assert!(check_path_segment("id", "a%2F..%2Fb").is_ok());
}

/// Unreserved characters, `.` among them, are never percent-encoded, so the encoder itself
/// never writes `%2E`.
#[test]
fn dots_are_never_percent_encoded() {
    assert_eq!(enc("a.b~c-d_e"), "a.b~c-d_e");
    assert_eq!(enc(".."), "..");
    assert_eq!(enc("%2E"), "%252E");
}

#[test]
fn query_styles() {
    let mut out = vec![];
    query_pairs(
        &param("t", Location::Query, Style::Form, true),
        &json!(["a b", "c&d"]),
        &mut out,
    );
    query_pairs(
        &param("u", Location::Query, Style::Form, false),
        &json!([1, 2]),
        &mut out,
    );
    query_pairs(
        &param("v", Location::Query, Style::PipeDelimited, false),
        &json!([1, 2]),
        &mut out,
    );
    query_pairs(
        &param("f", Location::Query, Style::DeepObject, true),
        &json!({"x": 1}),
        &mut out,
    );
    query_pairs(
        &param("s", Location::Query, Style::SpaceDelimited, false),
        &json!({"R": 100, "G": 200}),
        &mut out,
    );
    query_pairs(
        &param("d", Location::Query, Style::DeepObject, true),
        &json!({"a": {"b": [1, null]}, "n": null}),
        &mut out,
    );
    query_pairs(
        &param("e", Location::Query, Style::Form, true),
        &json!([]),
        &mut out,
    );
    assert_eq!(
        out,
        [
            "t=a%20b",
            "t=c%26d",
            "u=1,2",
            "v=1%7C2",
            "f%5Bx%5D=1",
            "s=R%20100%20G%20200",
            "d%5Ba%5D%5Bb%5D%5B0%5D=1"
        ]
    );
    let mut r = param("r", Location::Query, Style::Form, true);
    r.allow_reserved = true;
    let mut out = vec![];
    query_pairs(&r, &json!("a/b?c=d&e#f[g] %41%"), &mut out);
    assert_eq!(out, ["r=a/b?c%3Dd%26e%23f%5Bg%5D%20%41%25"]);
    let mut c = param("filter", Location::Query, Style::Form, true);
    c.content = Some("application/json".into());
    let mut out = vec![];
    query_pairs(&c, &json!({"a": [1, "x"]}), &mut out);
    query_pairs(&c, &json!("s"), &mut out);
    assert_eq!(
        out,
        ["filter=%7B%22a%22%3A%5B1%2C%22x%22%5D%7D", "filter=%22s%22"]
    );
}

#[test]
fn cookie_styles() {
    let mut out = vec![];
    let f = |explode| param("c", Location::Cookie, Style::Form, explode);
    cookie_pairs(&f(true), &json!(["a b", "c"]), &mut out);
    cookie_pairs(&f(false), &json!(["a", "b"]), &mut out);
    cookie_pairs(&f(true), &json!({"R": 1, "G": 2}), &mut out);
    cookie_pairs(&f(true), &json!(null), &mut out);
    let k = param("k", Location::Cookie, Style::Cookie, true);
    cookie_pairs(&k, &json!("a/b:c;d"), &mut out);
    assert_eq!(
        out,
        ["c=a%20b", "c=c", "c=a,b", "R=1", "G=2", "k=a/b:c%3Bd"]
    );
}

#[test]
fn header_line_breaks_are_refused() {
    let p = param("X-Trace", Location::Header, Style::Simple, false);
    assert!(header_value(&p, &json!("ok")).is_ok());
    assert_eq!(
        header_value(&p, &json!("a\r\nInjected: 1")).unwrap_err(),
        EncodeError::HeaderControl("X-Trace".into())
    );
}
