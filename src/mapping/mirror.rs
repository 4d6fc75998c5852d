//! SEP-2243 (MCP 2026-07-28, Streamable HTTP "Request Metadata"): header parameters of the
//! REST operation are marked in the tool's input schema with `"x-mcp-header": "<Name>"`, so
//! clients mirror the argument into an `Mcp-Param-<Name>` request header that proxies and
//! load balancers can route on, and the server checks that header against the body (rmcp does,
//! through `ServerHandler::get_tool`; the fast path hands such calls to it).
//!
//! Only where the spec allows it, since a client "MUST exclude the invalid tool" from its
//! list otherwise: properties of the root (always, here), of `type` `string`, `integer` or
//! `boolean` given as one string ("Parameters with type `number` are not permitted"), a name
//! that is an HTTP token ("MUST match HTTP field-name token syntax"), unique regardless of
//! case; and not for secrets ("SHOULD NOT mark sensitive parameters (passwords, API keys,
//! tokens, PII)"), told by their names.

use serde_json::Value;

/// Words in a header name that mark it as a credential or session.
const SENSITIVE: [&str; 12] = [
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api-key",
    "api_key",
    "credential",
    "session",
    "cookie",
    "signature",
];

/// RFC 9110 5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Mark `schema` (a header parameter's argument schema) with `x-mcp-header: name` when the
/// rules allow it; `taken` holds the (lower-case) names already given out for this tool.
pub fn mark(name: &str, schema: &mut Value, taken: &mut Vec<String>) -> bool {
    let lower = name.to_ascii_lowercase();
    let primitive = matches!(
        schema.get("type").and_then(Value::as_str),
        Some("string" | "integer" | "boolean")
    );
    if !primitive
        || name.is_empty()
        || !name.chars().all(is_tchar)
        || SENSITIVE.iter().any(|s| lower.contains(s))
        || taken.contains(&lower)
    {
        return false;
    }
    let Value::Object(o) = schema else {
        return false;
    };
    o.insert("x-mcp-header".into(), Value::String(name.to_string()));
    taken.push(lower);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_primitive_tokens_that_are_no_secrets_once_each() {
        let mut taken = vec![];
        let mut ok = json!({"type": "string"});
        assert!(mark("X-Region", &mut ok, &mut taken));
        assert_eq!(ok["x-mcp-header"], "X-Region");
        for (name, schema) in [
            ("x-region", json!({"type": "string"})),
            ("X-Count", json!({"type": "number"})),
            ("X-Maybe", json!({"type": ["string", "null"]})),
            ("X-Ids", json!({"type": "array"})),
            ("X-Ref", json!({"$ref": "#/$defs/Id"})),
            ("X-Api-Key", json!({"type": "string"})),
            ("X-Auth-Token", json!({"type": "string"})),
            ("Bad Name", json!({"type": "string"})),
        ] {
            let mut s = schema.clone();
            assert!(!mark(name, &mut s, &mut taken), "{name} {schema}");
            assert_eq!(s, schema);
        }
        let mut n = json!({"type": "integer"});
        assert!(mark("X-Page", &mut n, &mut taken));
    }
}
