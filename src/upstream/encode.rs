//! Turning validated tool arguments into the pieces of an HTTP request, following each
//! parameter's OpenAPI `style`/`explode`. Path values are percent-encoded so no `/` or `..`
//! escapes the path template; header values with line breaks are refused.

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
    #[error("path parameter `{0}` must not be `.` or `..`")]
    DotSegment(String),
    #[error("header parameter `{0}` must not contain line breaks or control characters")]
    HeaderControl(String),
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

/// Expand one path parameter (already known to be in the template).
pub fn path_value(p: &Parameter, v: &Value) -> Result<String, EncodeError> {
    let (prefix, sep, named) = match p.style {
        Style::Label => (".".to_string(), if p.explode { "." } else { "," }, false),
        Style::Matrix => (format!(";{}", enc(&p.name)), "", true),
        _ => (String::new(), ",", false),
    };
    let out = match v {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| enc(&scalar(i))).collect();
            if named {
                if p.explode {
                    items
                        .iter()
                        .map(|i| format!(";{}={i}", enc(&p.name)))
                        .collect::<String>()
                } else {
                    format!("{prefix}={}", items.join(","))
                }
            } else {
                format!("{prefix}{}", items.join(sep))
            }
        }
        Value::Object(m) => {
            let pairs = object_pairs(m);
            if named && p.explode {
                pairs.iter().map(|(k, v)| format!(";{k}={v}")).collect()
            } else if p.explode {
                let kv: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{prefix}{}", kv.join(sep))
            } else {
                let flat: Vec<String> = pairs
                    .iter()
                    .flat_map(|(k, v)| [k.clone(), v.clone()])
                    .collect();
                if named {
                    format!("{prefix}={}", flat.join(","))
                } else {
                    format!("{prefix}{}", flat.join(","))
                }
            }
        }
        scalar_v => {
            let s = scalar(scalar_v);
            if s == "." || s == ".." {
                return Err(EncodeError::DotSegment(p.name.clone()));
            }
            let mut out = prefix;
            if named {
                out.push('=');
            }
            out.extend(utf8_percent_encode(&s, STRICT));
            out
        }
    };
    Ok(out)
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
            // Empty values (the table's `empty` column); label's `.` is refused, see below.
            (Style::Simple, false, json!(""), ""),
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
