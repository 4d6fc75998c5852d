//! Form bodies (`application/x-www-form-urlencoded`) and the name/value pairs multipart parts
//! are made of, per property as its OpenAPI Encoding Object says.
//!
//! 3.0.4 and 3.1.1 (Encoding Object): "the presence of at least one of `style`, `explode`, or
//! `allowReserved` with an explicit value is equivalent to using `schema` with `in: "query"`
//! Parameter Objects. The absence of all three of those fields is the equivalent of using
//! `content`, but with the media type specified in `contentType`", whose default is
//! `text/plain` for primitives, `application/json` for objects, and "according to the `type`
//! of the `items` schema" for arrays (each item its own pair, as RFC 7578 4.3 does for parts).
//!
//! `deepObject` is defined for "objects with scalar properties" only ("the representation of
//! array or object properties is not defined"). Descriptions that use it for more (Stripe
//! declares `encoding: {metadata: {style: deepObject, explode: true}}` for nested objects and
//! for lists) mean the bracket convention their servers read: `shipping[address][city]=x` for
//! nested objects and `account_tax_ids[0]=x` for list items, which is what is sent.

use serde_json::Value;

use crate::ingest::Style;
use crate::ingest::body::{PropEncoding, Styled, concrete, is_json};

use super::encode;

/// One name and value of a form body (or one text part of a multipart body).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub name: String,
    pub value: String,
    /// `allowReserved`: RFC 3986 reserved characters stay as they are in a urlencoded body.
    pub reserved: bool,
    /// The part's media type in a multipart body; `None` is `text/plain`, the part default
    /// (RFC 7578 4.4), left unsaid.
    pub content_type: Option<String>,
}

/// The pairs of one property (`name`, value `v`): styled, or by content type.
pub fn pairs(name: &str, v: &Value, enc: Option<&PropEncoding>, out: &mut Vec<Pair>) {
    match enc.and_then(|e| e.styled) {
        Some(st) => styled(name, v, st, out),
        None => {
            let ct = enc.and_then(|e| e.content_type.as_deref());
            match v {
                Value::Array(items) => items.iter().for_each(|i| by_content(name, i, ct, out)),
                _ => by_content(name, v, ct, out),
            }
        }
    }
}

/// A value as form text: strings as they are, numbers and booleans as written, anything
/// nested as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn push(out: &mut Vec<Pair>, name: String, value: String, st: Styled) {
    out.push(Pair {
        name,
        value,
        reserved: st.allow_reserved,
        content_type: None,
    });
}

/// RFC 6570-style, as a query parameter of the same style would be (without the `?`).
fn styled(name: &str, v: &Value, st: Styled, out: &mut Vec<Pair>) {
    let delim = match st.style {
        Style::SpaceDelimited => " ",
        Style::PipeDelimited => "|",
        Style::TabDelimited => "\t",
        _ => ",",
    };
    match v {
        // RFC 6570 2.3: null, an empty list and an empty map are undefined: nothing is sent.
        Value::Null => {}
        Value::Array(a) if a.is_empty() => {}
        Value::Object(m) if m.is_empty() => {}
        _ if st.style == Style::DeepObject => brackets(name.to_string(), v, st, out),
        Value::Array(items) if st.explode => {
            for i in items.iter().filter(|i| !i.is_null()) {
                push(out, name.to_string(), text(i), st);
            }
        }
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(text).collect();
            push(out, name.to_string(), joined.join(delim), st);
        }
        Value::Object(m) if st.explode => {
            for (k, v) in m.iter().filter(|(_, v)| !v.is_null()) {
                push(out, k.clone(), text(v), st);
            }
        }
        Value::Object(m) => {
            let flat: Vec<String> = m.iter().flat_map(|(k, v)| [k.clone(), text(v)]).collect();
            push(out, name.to_string(), flat.join(delim), st);
        }
        scalar => push(out, name.to_string(), text(scalar), st),
    }
}

/// `name[key]=value` for each object member and `name[index]=value` for each list item, all
/// the way down.
fn brackets(prefix: String, v: &Value, st: Styled, out: &mut Vec<Pair>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                brackets(format!("{prefix}[{k}]"), v, st, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                brackets(format!("{prefix}[{i}]"), v, st, out);
            }
        }
        scalar => push(out, prefix, text(scalar), st),
    }
}

/// Content-based: JSON text when the content type names JSON (an object's default), else text.
fn by_content(name: &str, v: &Value, ct: Option<&str>, out: &mut Vec<Pair>) {
    if v.is_null() {
        return;
    }
    let json = match ct {
        Some(ct) => is_json(ct),
        None => v.is_object() || v.is_array(),
    };
    out.push(Pair {
        name: name.to_string(),
        value: if json { v.to_string() } else { text(v) },
        reserved: false,
        content_type: match ct {
            Some(ct) => Some(concrete(ct)),
            None if json => Some("application/json".into()),
            None => None,
        },
    });
}

/// The urlencoded body: names and values escaped by the WHATWG form serializer (`url`), or
/// with RFC 3986 reserved characters kept for `allowReserved` values.
pub fn urlencoded(pairs: &[Pair]) -> String {
    let mut out = String::new();
    for (i, p) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(url::form_urlencoded::byte_serialize(p.name.as_bytes()));
        out.push('=');
        if p.reserved {
            out.push_str(&encode::reserved(&p.value));
        } else {
            out.extend(url::form_urlencoded::byte_serialize(p.value.as_bytes()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deep() -> PropEncoding {
        PropEncoding {
            styled: Some(Styled {
                style: Style::DeepObject,
                explode: true,
                allow_reserved: false,
            }),
            ..Default::default()
        }
    }

    fn body(props: &[(&str, Value, Option<PropEncoding>)]) -> String {
        let mut out = vec![];
        for (n, v, e) in props {
            pairs(n, v, e.as_ref(), &mut out);
        }
        urlencoded(&out)
    }

    #[test]
    fn stripe_deep_objects_and_lists() {
        let got = body(&[
            (
                "metadata",
                json!({"key1": "sample", "k 2": "a&b"}),
                Some(deep()),
            ),
            (
                "shipping",
                json!({"address": {"city": "Paris", "line1": "1 rue"}, "name": "N"}),
                Some(deep()),
            ),
            ("account_tax_ids", json!(["sample", "x"]), Some(deep())),
            (
                "lines",
                json!([{"id": "il_1", "behavior": "delete"}]),
                Some(deep()),
            ),
            ("description", json!("plain"), None),
        ]);
        assert_eq!(
            got,
            "metadata%5Bkey1%5D=sample&metadata%5Bk+2%5D=a%26b\
             &shipping%5Baddress%5D%5Bcity%5D=Paris&shipping%5Baddress%5D%5Bline1%5D=1+rue\
             &shipping%5Bname%5D=N&account_tax_ids%5B0%5D=sample&account_tax_ids%5B1%5D=x\
             &lines%5B0%5D%5Bid%5D=il_1&lines%5B0%5D%5Bbehavior%5D=delete&description=plain"
        );
    }

    #[test]
    fn without_encoding_values_go_by_content_type() {
        // 3.1.1's "URL Encoded Form with JSON Values" example, and arrays item by item.
        let got = body(&[
            ("id", json!("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"), None),
            (
                "address",
                json!({"city": "Somewhere", "zip": "99999+1234"}),
                None,
            ),
            ("tags", json!(["a", "b c"]), None),
            ("n", json!(2), None),
            ("gone", json!(null), None),
        ]);
        assert_eq!(
            got,
            "id=f81d4fae-7dec-11d0-a765-00a0c91e6bf6\
             &address=%7B%22city%22%3A%22Somewhere%22%2C%22zip%22%3A%2299999%2B1234%22%7D\
             &tags=a&tags=b+c&n=2"
        );
        let json_ct = PropEncoding {
            content_type: Some("application/json".into()),
            ..Default::default()
        };
        assert_eq!(body(&[("id", json!("x"), Some(json_ct))]), "id=%22x%22");
    }

    #[test]
    fn query_styles_in_a_body() {
        let st = |style, explode, allow_reserved| {
            Some(PropEncoding {
                styled: Some(Styled {
                    style,
                    explode,
                    allow_reserved,
                }),
                ..Default::default()
            })
        };
        let arr = json!(["blue", "black"]);
        let obj = json!({"R": 100, "G": 200});
        assert_eq!(
            body(&[("c", arr.clone(), st(Style::Form, true, false))]),
            "c=blue&c=black"
        );
        assert_eq!(
            body(&[("c", arr.clone(), st(Style::Form, false, false))]),
            "c=blue%2Cblack"
        );
        assert_eq!(
            body(&[("c", obj.clone(), st(Style::Form, true, false))]),
            "R=100&G=200"
        );
        assert_eq!(
            body(&[("c", obj, st(Style::SpaceDelimited, false, false))]),
            "c=R+100+G+200"
        );
        assert_eq!(
            body(&[("c", arr, st(Style::PipeDelimited, false, false))]),
            "c=blue%7Cblack"
        );
        assert_eq!(
            body(&[("u", json!("a/b?c=d&e f%41"), st(Style::Form, true, true))]),
            "u=a/b?c%3Dd%26e%20f%41"
        );
        assert_eq!(body(&[("e", json!([]), st(Style::Form, true, false))]), "");
    }
}
