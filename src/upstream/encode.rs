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
/// `allowReserved` values keep RFC 3986 reserved characters, except the ones a query or form
/// may not hold as data: `[`, `]`, `#` ("not allowed in the query string") and `&`, `=`, `+`
/// ("special meaning in `application/x-www-form-urlencoded`"), 3.1.1 Encoding Object and
/// Parameter Object, `allowReserved`.
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
    .remove(b';');

/// RFC 6570 reserved expansion (`allowReserved`): reserved characters ([`RESERVED_OK`]) and
/// percent-encoded triples pass through unchanged, everything else is percent-encoded
/// ("including `%` outside of percent-encoded triples").
pub fn reserved(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            out.extend(utf8_percent_encode(&s[start..i], RESERVED_OK));
            out.push_str(&s[i..i + 3]);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.extend(utf8_percent_encode(&s[start..], RESERVED_OK));
    out
}

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
    #[error("argument `{0}` is not valid base64: {1}")]
    Base64(String, String),
    #[error(
        "argument `{0}` must be a file name or media type without line breaks or control characters"
    )]
    PartHeader(String),
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
    let out = match &p.content {
        Some(media_type) => enc(&content_text(media_type, v)),
        None => serialize_path(p, v),
    };
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

/// A `content` parameter's value as text: JSON text for a JSON media type (a string comes
/// out quoted), else the value as written ("the equivalent of using `content`", 3.1.1
/// Parameter Object, "Fixed Fields for use with `content`").
fn content_text(media_type: &str, v: &Value) -> String {
    if crate::ingest::body::is_json(media_type) {
        v.to_string()
    } else {
        scalar(v)
    }
}

/// An array or object with nothing in it is "undefined" (RFC 6570 2.3), as `null` is: such a
/// query or cookie parameter is not sent.
fn undefined(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Append one query parameter (encoded) to `out` as `name=value` pairs, per the style table
/// of the Parameter Object (3.1.1, "Style Examples"): `form` (exploded or not),
/// `spaceDelimited` (`%20`), `pipeDelimited` (`%7C`: `|` is not allowed in a query, Appendix
/// E) and `deepObject` (brackets, nested ones included: see `form`), items percent-encoded one
/// by one so a delimiter inside a value never reads as one.
pub fn query_pairs(p: &Parameter, v: &Value, out: &mut Vec<String>) {
    let e = |s: &str| {
        if p.allow_reserved {
            reserved(s)
        } else {
            enc(s)
        }
    };
    let name = enc(&p.name);
    if let Some(media_type) = &p.content {
        if !v.is_null() {
            out.push(format!("{name}={}", e(&content_text(media_type, v))));
        }
        return;
    }
    if undefined(v) {
        return;
    }
    let delim = match p.style {
        Style::SpaceDelimited => "%20",
        Style::PipeDelimited => "%7C",
        Style::TabDelimited => "%09",
        _ => ",",
    };
    match v {
        _ if p.style == Style::DeepObject => query_brackets(name, v, &e, out),
        Value::Array(items) if p.explode && p.style == Style::Form => out.extend(
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| format!("{name}={}", e(&scalar(i)))),
        ),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| e(&scalar(i))).collect();
            out.push(format!("{name}={}", items.join(delim)));
        }
        Value::Object(m) if p.explode && p.style == Style::Form => out.extend(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{}={}", enc(k), e(&scalar(v)))),
        ),
        Value::Object(m) => {
            let flat: Vec<String> = m.iter().flat_map(|(k, v)| [e(k), e(&scalar(v))]).collect();
            out.push(format!("{name}={}", flat.join(delim)));
        }
        s => out.push(format!("{name}={}", e(&scalar(s)))),
    }
}

/// `deepObject`: `name[key]=value`, brackets percent-encoded (Appendix E), nested objects and
/// list items (`name[0]`) all the way down.
fn query_brackets(prefix: String, v: &Value, e: &dyn Fn(&str) -> String, out: &mut Vec<String>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                query_brackets(format!("{prefix}%5B{}%5D", enc(k)), v, e, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                query_brackets(format!("{prefix}%5B{i}%5D"), v, e, out);
            }
        }
        s => out.push(format!("{prefix}={}", e(&scalar(s)))),
    }
}

/// Cookie characters that must be escaped in a `style: cookie` value (3.2), which otherwise
/// "does not apply or remove percent-encoding": what RFC 6265's `cookie-octet` excludes
/// (controls, space, `"`, `,`, `;`, `\`), and `%` so that an escape reads back unambiguously.
const COOKIE_UNSAFE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%')
    .add(0x7f);

/// Append one cookie parameter's `name=value` pairs to `out` (joined with `; ` by the caller).
/// `form` (the 3.0/3.1 default) percent-encodes like a query; several values are separate
/// pairs when exploded, as 3.2's `cookie` style writes them (`color=blue; color=black`,
/// `R=100; G=200`): "name=value pairs in cookies are delimited by `;` ... rather than `&`"
/// (3.1.1 Appendix D).
pub fn cookie_pairs(p: &Parameter, v: &Value, out: &mut Vec<String>) {
    let e = |s: &str| {
        if p.style == Style::Cookie {
            utf8_percent_encode(s, COOKIE_UNSAFE).to_string()
        } else {
            enc(s)
        }
    };
    let name = e(&p.name);
    if let Some(media_type) = &p.content {
        if !v.is_null() {
            out.push(format!("{name}={}", e(&content_text(media_type, v))));
        }
        return;
    }
    if undefined(v) {
        return;
    }
    match v {
        Value::Array(items) if p.explode => out.extend(
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| format!("{name}={}", e(&scalar(i)))),
        ),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| e(&scalar(i))).collect();
            out.push(format!("{name}={}", items.join(",")));
        }
        Value::Object(m) if p.explode => out.extend(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{}={}", e(k), e(&scalar(v)))),
        ),
        Value::Object(m) => {
            let flat: Vec<String> = m.iter().flat_map(|(k, v)| [e(k), e(&scalar(v))]).collect();
            out.push(format!("{name}={}", flat.join(",")));
        }
        s => out.push(format!("{name}={}", e(&scalar(s)))),
    }
}

/// A header value (style simple), refusing control characters.
pub fn header_value(p: &Parameter, v: &Value) -> Result<String, EncodeError> {
    let s = match v {
        _ if p.content.is_some() => content_text(p.content.as_deref().unwrap_or_default(), v),
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

#[cfg(test)]
mod tests;
