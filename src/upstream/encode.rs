//! Turning validated tool arguments into the pieces of an HTTP request, following each
//! parameter's OpenAPI `style`/`explode`. Path values are percent-encoded item by item and the
//! expansion is refused when it is a dot segment, so no `/` or `..` escapes the path template,
//! whatever the value's type and style; header values with line breaks are refused.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use crate::ingest::{Parameter, Style};

/// Everything but RFC 3986 unreserved characters is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// `allowReserved` query values keep RFC 3986 reserved characters, except the ones that would
/// break the query itself (`&`, `=`, `#`, `+`).
const RESERVED_OK: &AsciiSet = &STRICT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';')
    .remove(b'[')
    .remove(b']');

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error(
        "path parameter `{0}` must not be `.` or `..`, nor serialize to one (as written or percent-decoded): it would climb the request path"
    )]
    DotSegment(String),
    #[error("path parameter `{0}` must not add a `/` to the request path")]
    PathSlash(String),
    #[error("header parameter `{0}` must not contain line breaks or control characters")]
    HeaderControl(String),
    #[error(
        "the path parameters would make `{0}` a request path with a `.` or `..` segment (as written or percent-decoded), which would climb out of the operation's path"
    )]
    PathEscape(String),
    #[error("path parameter `{0}` must not be empty")]
    EmptyPath(String),
}

/// The expanded request path must not gain a `.` or `..` segment the template did not have,
/// read as written or percent-decoded (some proxies and frameworks decode `%2F` before they
/// resolve dot segments): a last guard over every parameter together, e.g. two placeholders
/// in one segment (`{a}{b}`) that each look harmless.
pub fn check_expanded(template: &str, expanded: &str) -> Result<(), EncodeError> {
    let dots = |path: &str| {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        [path.to_string(), decoded.into_owned()]
            .iter()
            .flat_map(|p| {
                p.split(['/', '?'])
                    .filter(|s| *s == "." || *s == "..")
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .count()
    };
    if dots(expanded) > dots(template) {
        return Err(EncodeError::PathEscape(expanded.to_string()));
    }
    Ok(())
}

/// What a path template's own text may hold as it is: RFC 3986 `pchar`s (unreserved,
/// sub-delims, `:` and `@`), `/`, and `%` (the template's own percent-encoded triples).
const PATH_TEXT: &AsciiSet = &STRICT
    .remove(b'/')
    .remove(b'%')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// A path template's literal text, percent-encoded where a path may not hold a character
/// (`#`, `?`, spaces, non-ASCII, ...).
pub fn path_literal(s: &str) -> impl Iterator<Item = &str> {
    utf8_percent_encode(s, PATH_TEXT)
}

pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, STRICT).collect()
}

/// A scalar as it appears in a URL or header (before encoding).
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Expand one path parameter (already known to be in the template), per its `style` and
/// `explode`, and refuse a value that would change the path's shape: every item is
/// percent-encoded (a `/` in one becomes `%2F`), and the whole expansion must not be a dot
/// segment (`.`, `..`, also once percent-decoded), whatever the value's type: label style's
/// prefix and separators are dots themselves (`""` -> `.`, `["", ""]` -> `..`).
pub fn path_value(p: &Parameter, v: &Value) -> Result<String, EncodeError> {
    let out = serialize_path(p, v);
    if out.is_empty() {
        return Err(EncodeError::EmptyPath(p.name.clone()));
    }
    check_path_segment(&p.name, &out)?;
    Ok(out)
}

/// The RFC 6570 expansion OpenAPI prescribes for `simple`, `label` and `matrix`.
fn serialize_path(p: &Parameter, v: &Value) -> String {
    let name = enc(&p.name);
    // `name=value`, or `name` alone for an empty value (RFC 6570's `;color`).
    let named = |value: &str| {
        if value.is_empty() {
            name.clone()
        } else {
            format!("{name}={value}")
        }
    };
    if p.style == Style::Matrix {
        return match v {
            Value::Array(items) if p.explode => items
                .iter()
                .map(|i| format!(";{}", named(&enc(&scalar(i)))))
                .collect(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|i| enc(&scalar(i))).collect();
                format!(";{name}={}", items.join(","))
            }
            Value::Object(m) if p.explode => object_pairs(m)
                .into_iter()
                .map(|(k, v)| format!(";{k}={v}"))
                .collect(),
            Value::Object(m) => format!(";{name}={}", flat_pairs(m)),
            other => format!(";{}", named(&enc(&scalar(other)))),
        };
    }
    let (prefix, sep) = match p.style {
        Style::Label => (".", if p.explode { "." } else { "," }),
        _ => ("", ","),
    };
    match v {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| enc(&scalar(i))).collect();
            format!("{prefix}{}", items.join(sep))
        }
        Value::Object(m) if p.explode => {
            let kv: Vec<String> = object_pairs(m)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{prefix}{}", kv.join(sep))
        }
        Value::Object(m) => format!("{prefix}{}", flat_pairs(m)),
        other => format!("{prefix}{}", enc(&scalar(other))),
    }
}

/// An object as `k1,v1,k2,v2` (not exploded), each encoded.
fn flat_pairs(m: &Map<String, Value>) -> String {
    let flat: Vec<String> = object_pairs(m)
        .into_iter()
        .flat_map(|(k, v)| [k, v])
        .collect();
    flat.join(",")
}

/// How many times a segment is percent-decoded when looking for a dot segment: a server that
/// decodes twice (a proxy, then the application) must not find one either.
const DECODE_ROUNDS: usize = 4;

/// Refuse an expanded path value that adds a `/` (never produced: items are encoded) or that
/// is, or holds a segment that is, `.` or `..` as written or after percent-decoding.
fn check_path_segment(name: &str, expanded: &str) -> Result<(), EncodeError> {
    if expanded.contains('/') {
        return Err(EncodeError::PathSlash(name.to_string()));
    }
    let mut seg = std::borrow::Cow::Borrowed(expanded);
    for _ in 0..DECODE_ROUNDS {
        if seg == "." || seg == ".." {
            return Err(EncodeError::DotSegment(name.to_string()));
        }
        // A dot segment is at most 2 characters, or 6 when spelled `%2E%2E`: a longer segment
        // needs another decoding round to shrink, so stop when one changes nothing.
        let decoded = percent_encoding::percent_decode_str(&seg).decode_utf8_lossy();
        if decoded == seg {
            break;
        }
        seg = std::borrow::Cow::Owned(decoded.into_owned());
    }
    Ok(())
}

fn object_pairs(m: &Map<String, Value>) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (enc(k), enc(&scalar(v)))).collect()
}

/// Append one query parameter (encoded) to `out` as `name=value` pairs.
pub fn query_pairs(p: &Parameter, v: &Value, out: &mut Vec<String>) {
    let set = if p.allow_reserved {
        RESERVED_OK
    } else {
        STRICT
    };
    let e = |s: &str| utf8_percent_encode(s, set).to_string();
    let name = enc(&p.name);
    match v {
        Value::Null => {}
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| e(&scalar(i))).collect();
            let delim = match p.style {
                Style::SpaceDelimited => "%20",
                Style::PipeDelimited => "|",
                Style::TabDelimited => "%09",
                _ => ",",
            };
            if p.explode && p.style == Style::Form {
                out.extend(items.iter().map(|i| format!("{name}={i}")));
            } else {
                out.push(format!("{name}={}", items.join(delim)));
            }
        }
        Value::Object(m) => match p.style {
            Style::DeepObject => out.extend(
                m.iter()
                    .map(|(k, v)| format!("{name}%5B{}%5D={}", enc(k), e(&scalar(v)))),
            ),
            _ if p.explode => out.extend(
                m.iter()
                    .map(|(k, v)| format!("{}={}", enc(k), e(&scalar(v)))),
            ),
            _ => {
                let flat: Vec<String> = m.iter().flat_map(|(k, v)| [e(k), e(&scalar(v))]).collect();
                out.push(format!("{name}={}", flat.join(",")));
            }
        },
        s => out.push(format!("{name}={}", e(&scalar(s)))),
    }
}

/// A header value (style simple), refusing control characters.
pub fn header_value(p: &Parameter, v: &Value) -> Result<String, EncodeError> {
    let s = match v {
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        Value::Object(m) => {
            let sep = if p.explode { "=" } else { "," };
            m.iter()
                .map(|(k, v)| format!("{k}{sep}{}", scalar(v)))
                .collect::<Vec<_>>()
                .join(",")
        }
        other => scalar(other),
    };
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(EncodeError::HeaderControl(p.name.clone()));
    }
    Ok(s)
}

/// `application/x-www-form-urlencoded` body from an object (nested values as JSON text).
pub fn form_body(obj: &Map<String, Value>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in obj {
        match v {
            Value::Array(items) => {
                for i in items {
                    ser.append_pair(k, &scalar(i));
                }
            }
            Value::Null => {}
            other => {
                ser.append_pair(k, &scalar(other));
            }
        }
    }
    ser.finish()
}

#[cfg(test)]
mod tests {
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
        assert_eq!(out, ["t=a%20b", "t=c%26d", "u=1,2", "v=1|2", "f%5Bx%5D=1"]);
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
}
