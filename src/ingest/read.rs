//! JSON or YAML -> a pruned JSON tree ([`super::prune`]), refusing a document nested deeper
//! than [`MAX_DEPTH`] with the same [`IngestError::TooDeep`] whatever its format.

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::IngestError;
use super::limits::{MAX_DEPTH, SCAN_SLACK, yaml_too_deep};
use super::prune::{Flags, Pruned};

/// A document's tree, and whether some `$ref` points into `#/paths`.
pub struct Tree {
    pub root: Value,
    pub refs_paths: bool,
}

/// JSON (when the first non-blank byte is `{`) or YAML bytes.
pub fn tree(bytes: &[u8]) -> Result<Tree, IngestError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        json(serde_json::Deserializer::from_slice(bytes))
    } else {
        yaml(bytes)
    }
}

/// JSON read as it streams in (a large document never sits in memory twice).
pub fn json_stream(reader: impl std::io::Read) -> Result<Tree, IngestError> {
    json(serde_json::Deserializer::from_reader(reader))
}

fn json<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Result<Tree, IngestError> {
    let flags = Flags::default();
    let error = |e: serde_json::Error| match flags.too_deep.get() {
        true => too_deep(Some(e.line())),
        false => IngestError::Json(e),
    };
    let root = Pruned::root(&flags).deserialize(&mut de).map_err(error)?;
    de.end().map_err(error)?;
    Ok(Tree {
        root,
        refs_paths: flags.refs_paths.get(),
    })
}

/// YAML: the nesting is bounded by a linear scan of the text before the parser, whose work
/// grows with the square of the depth, ever sees it.
fn yaml(bytes: &[u8]) -> Result<Tree, IngestError> {
    let transcoded = utf16_to_utf8(bytes)?;
    let bytes = transcoded.as_ref().map_or(bytes, String::as_bytes);
    if let Some(line) = yaml_too_deep(bytes, MAX_DEPTH + SCAN_SLACK) {
        return Err(too_deep(Some(line)));
    }
    let flags = Flags::default();
    let root = Pruned::root(&flags)
        .deserialize(yaml_serde::Deserializer::from_slice(bytes))
        .map_err(|e| match flags.too_deep.get() {
            true => too_deep(e.location().map(|l| l.line())),
            false => IngestError::Yaml(e.to_string()),
        })?;
    Ok(Tree {
        root,
        refs_paths: flags.refs_paths.get(),
    })
}

fn too_deep(line: Option<usize>) -> IngestError {
    IngestError::TooDeep {
        limit: MAX_DEPTH,
        line,
    }
}

/// YAML in UTF-16 (libyaml reads it when it starts with a byte order mark), as UTF-8, so
/// that the depth scan reads the same text as the parser.
fn utf16_to_utf8(bytes: &[u8]) -> Result<Option<String>, IngestError> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return Ok(None),
    };
    let body = bytes[2..].chunks_exact(2);
    if !body.remainder().is_empty() {
        return Err(IngestError::Yaml("incomplete UTF-16 character".into()));
    }
    let units = body.map(|u| match little {
        true => u16::from_le_bytes([u[0], u[1]]),
        false => u16::from_be_bytes([u[0], u[1]]),
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map(Some)
        .map_err(|e| IngestError::Yaml(format!("invalid UTF-16: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_yaml_is_read_as_the_parser_reads_it() {
        let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n";
        for little in [true, false] {
            let mut bytes = if little {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for u in text.encode_utf16() {
                bytes.extend(if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                });
            }
            let t = tree(&bytes).unwrap();
            assert_eq!(t.root["openapi"], "3.0.3");
            let deep = format!("a: {}", "[".repeat(1000)).encode_utf16().fold(
                vec![0xFF, 0xFE],
                |mut v, u| {
                    v.extend(u.to_le_bytes());
                    v
                },
            );
            assert!(matches!(tree(&deep), Err(IngestError::TooDeep { .. })));
        }
        assert!(matches!(
            tree(&[0xFF, 0xFE, b'a']),
            Err(IngestError::Yaml(_))
        ));
    }
}
