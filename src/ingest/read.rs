//! JSON or YAML -> a pruned JSON tree ([`super::prune`]), refusing a document nested deeper
//! than [`MAX_DEPTH`] with the same [`IngestError::TooDeep`] whatever its format.

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::IngestError;
use super::limits::{MAX_DEPTH, SCAN_SLACK, yaml_too_deep};
use super::prune::{Flags, Pruned, Skip};

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
    if let Some(line) = yaml_too_deep(bytes, MAX_DEPTH + SCAN_SLACK) {
        return Err(too_deep(Some(line)));
    }
    let flags = Flags::bounded(yaml_budget(bytes.len()));
    let root = Pruned::root(&flags)
        .deserialize(yaml_serde::Deserializer::from_slice(bytes))
        .map_err(|e| {
            if flags.too_deep.get() {
                too_deep(e.location().map(|l| l.line()))
            } else if flags.too_big.get() {
                IngestError::TooBig {
                    limit: yaml_budget(bytes.len()),
                }
            } else {
                IngestError::Yaml(e.to_string())
            }
        })?;
    Ok(Tree {
        root,
        refs_paths: flags.refs_paths.get(),
    })
}

/// A YAML text walked without building anything, refused like [`tree`] refuses it (too deep,
/// or aliases expanding it past its budget): for a small document about to be read into types
/// (an admin mapping), which would otherwise expand its aliases unbounded.
pub fn yaml_bounded(bytes: &[u8]) -> Result<(), IngestError> {
    if let Some(line) = yaml_too_deep(bytes, MAX_DEPTH + SCAN_SLACK) {
        return Err(too_deep(Some(line)));
    }
    let flags = Flags::bounded(yaml_budget(bytes.len()));
    Skip(&flags)
        .deserialize(yaml_serde::Deserializer::from_slice(bytes))
        .map_err(|e| match flags.too_big.get() {
            true => IngestError::TooBig {
                limit: yaml_budget(bytes.len()),
            },
            false => IngestError::Yaml(e.to_string()),
        })
}

/// What a YAML text's tree may cost: 16 times its size, plus 16 MiB. Anchors and aliases that
/// share blocks of parameters or responses stay well inside; a text whose aliases multiply it
/// is refused before its tree takes more than some hundred MiB.
fn yaml_budget(len: usize) -> u64 {
    (len as u64).saturating_mul(16) + (16 << 20)
}

fn too_deep(line: Option<usize>) -> IngestError {
    IngestError::TooDeep {
        limit: MAX_DEPTH,
        line,
    }
}

/// A reader that shows every byte it reads to `see`, in order (`load_file_seen`).
pub struct Seen<'a, R> {
    inner: R,
    see: &'a mut dyn FnMut(&[u8]),
}

impl<'a, R> Seen<'a, R> {
    pub fn new(inner: R, see: &'a mut dyn FnMut(&[u8])) -> Self {
        Seen { inner, see }
    }
}

impl<R: std::io::Read> std::io::Read for Seen<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.see)(&buf[..n]);
        Ok(n)
    }
}
