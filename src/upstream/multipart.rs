//! `multipart/form-data` bodies (RFC 7578), built whole in memory: a text part per form pair
//! (see `form`), a file part per file argument (its bytes from base64).
//!
//! Built here rather than with a crate: checked on crates.io, `multipart` 0.18 is unmaintained
//! since 2021, `common-multipart-rfc7578` 0.7 streams from readers with a 6-character boundary
//! and brings `rand` 0.8, `mime_guess` and `futures`, and reqwest's multipart form belongs to
//! reqwest's client, which the `http://` path does not use. The format itself is small: each
//! part is a boundary line, `Content-Disposition: form-data; name="..."` (and `filename`), an
//! optional `Content-Type`, a blank line and the bytes. The boundary is 32 random bytes
//! (`ring`'s system generator) in hex, checked against every part's bytes.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use indexmap::IndexMap;
use ring::rand::SecureRandom;
use serde_json::{Map, Value};

use crate::ingest::body::PropEncoding;

use super::encode::EncodeError;
use super::form;

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// The parts of one body, in argument order.
#[derive(Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

/// A name or file name inside the quoted `Content-Disposition` parameters, escaped as the
/// HTML standard's form submission does: `"` as `%22`, CR as `%0D`, LF as `%0A`.
fn quoted(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

impl Multipart {
    pub fn text(&mut self, name: String, value: String, content_type: Option<String>) {
        self.parts.push(Part {
            name,
            filename: None,
            content_type,
            bytes: value.into_bytes(),
        });
    }

    pub fn file(&mut self, name: String, filename: String, content_type: String, bytes: Vec<u8>) {
        self.parts.push(Part {
            name,
            filename: Some(filename),
            content_type: Some(content_type),
            bytes,
        });
    }

    /// The body's `Content-Type` (with its boundary) and bytes.
    pub fn finish(self) -> (String, Vec<u8>) {
        let rng = ring::rand::SystemRandom::new();
        let boundary = loop {
            let mut raw = [0u8; 32];
            rng.fill(&mut raw)
                .expect("the system random generator works");
            let b: String = raw.iter().map(|x| format!("{x:02x}")).collect();
            let b = format!("rest2mcp-{b}");
            // 256 random bits will not be in any part; checking costs one pass anyway.
            if !self
                .parts
                .iter()
                .any(|p| p.bytes.windows(b.len()).any(|w| w == b.as_bytes()))
            {
                break b;
            }
        };
        let size: usize = self.parts.iter().map(|p| p.bytes.len() + 200).sum();
        let mut out = Vec::with_capacity(size + boundary.len() + 8);
        for p in &self.parts {
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(quoted(&p.name).as_bytes());
            out.push(b'"');
            if let Some(f) = &p.filename {
                out.extend_from_slice(b"; filename=\"");
                out.extend_from_slice(quoted(f).as_bytes());
                out.push(b'"');
            }
            out.extend_from_slice(b"\r\n");
            if let Some(ct) = &p.content_type {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(ct.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&p.bytes);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        (format!("multipart/form-data; boundary={boundary}"), out)
    }
}

/// Base64 (standard or URL-safe alphabet, padded or not, line breaks ignored) to bytes;
/// `arg` names the argument in the error.
pub fn base64(text: &str, arg: &str) -> Result<Vec<u8>, EncodeError> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    GeneralPurpose::new(&base64::alphabet::STANDARD, config)
        .decode(&clean)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, config).decode(&clean))
        .map_err(|e| EncodeError::Base64(arg.to_string(), e.to_string()))
}

/// A media type an argument names: `type/subtype` and parameters, no control characters.
fn media_type(ct: &str, arg: &str) -> Result<String, EncodeError> {
    let ok = ct.split(';').next().is_some_and(|e| {
        e.trim()
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
    }) && !ct.chars().any(|c| c.is_control());
    if ok {
        Ok(ct.trim().to_string())
    } else {
        Err(EncodeError::PartHeader(arg.to_string()))
    }
}

/// The body of a multipart operation from its (validated) body object.
pub fn form_data(
    obj: &Map<String, Value>,
    encoding: &IndexMap<String, PropEncoding>,
) -> Result<(String, Vec<u8>), EncodeError> {
    let mut m = Multipart::default();
    for (name, v) in obj {
        let enc = encoding.get(name);
        if let Some(default_type) = enc.and_then(|e| e.file.as_deref()) {
            let files = match v {
                Value::Array(items) => items.iter().collect(),
                Value::Null => vec![],
                one => vec![one],
            };
            for f in files {
                let field = |k: &str| f.get(k).and_then(Value::as_str);
                let data = base64(field("data").unwrap_or_default(), &format!("{name}.data"))?;
                let filename = field("filename").unwrap_or(name);
                if filename.chars().any(char::is_control) {
                    return Err(EncodeError::PartHeader(format!("{name}.filename")));
                }
                let ct = match field("contentType") {
                    Some(ct) => media_type(ct, &format!("{name}.contentType"))?,
                    None => default_type.to_string(),
                };
                m.file(name.clone(), filename.to_string(), ct, data);
            }
            continue;
        }
        let mut pairs = Vec::new();
        form::pairs(name, v, enc, &mut pairs);
        for p in pairs {
            m.text(p.name, p.value, p.content_type);
        }
    }
    Ok(m.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_in_order_with_their_headers() {
        let mut enc = IndexMap::new();
        enc.insert(
            "file".to_string(),
            PropEncoding {
                file: Some("application/octet-stream".into()),
                ..Default::default()
            },
        );
        let obj = json!({
            "purpose": "dispute_evidence",
            "file": {"data": "AAEC/w==", "filename": "a \"b\".png", "contentType": "image/png"},
            "meta": {"k": 1},
        });
        let (ct, body) = form_data(obj.as_object().unwrap(), &enc).unwrap();
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        assert_eq!(boundary.len(), 9 + 64);
        let want = [
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ndispute_evidence\r\n").into_bytes(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a %22b%22.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes(),
            vec![0, 1, 2, 255],
            format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{{\"k\":1}}\r\n--{boundary}--\r\n").into_bytes(),
        ]
        .concat();
        assert_eq!(body, want);
    }

    #[test]
    fn base64_in_either_alphabet_with_or_without_padding() {
        assert_eq!(base64("AAEC/w==", "x").unwrap(), [0, 1, 2, 255]);
        assert_eq!(base64("AAEC_w", "x").unwrap(), [0, 1, 2, 255]);
        assert_eq!(base64("AA\nEC/w", "x").unwrap(), [0, 1, 2, 255]);
        assert!(matches!(base64("!!", "f.data"), Err(EncodeError::Base64(a, _)) if a == "f.data"));
        assert!(media_type("image/png\r\nX: y", "c").is_err());
        assert!(media_type("png", "c").is_err());
    }
}
