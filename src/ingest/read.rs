//! Reading a document: from a file (JSON read whole up to 8 MiB, else streamed; every byte
//! shown to the caller for its fingerprint), then JSON or YAML -> a pruned JSON tree
//! ([`super::prune`]), refusing a document nested deeper than [`MAX_DEPTH`] with the same
//! [`IngestError::TooDeep`] whatever its format, or whose YAML aliases expand it past a budget.

use std::path::Path;

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

/// Read and normalise a document from a file.
pub fn load_file(path: &Path) -> Result<super::ApiSpec, IngestError> {
    load_file_seen(path, &mut |_| {})
}

/// [`load_file`], showing `see` every byte of the file, in order, as it is read (the caller
/// hashes them: the file is read once).
pub fn load_file_seen(
    path: &Path,
    see: &mut dyn FnMut(&[u8]),
) -> Result<super::ApiSpec, IngestError> {
    use std::io::{BufRead, BufReader};
    let read_err = |source| IngestError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let size = file.metadata().map_or(u64::MAX, |m| m.len());
    let mut reader = BufReader::with_capacity(256 * 1024, Seen::new(file, see));
    let first = reader
        .fill_buf()
        .map_err(read_err)?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first != Some(b'{') {
        // YAML (or something else): read it whole.
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(read_err)?;
        return super::parse(bytes);
    }
    // JSON up to `WHOLE_JSON` is read whole: parsing from memory is faster than from a reader
    // (serde_json reads a reader byte by byte), which counts when thousands of APIs load.
    // Larger documents are streamed into the tree, so they never sit in memory twice (the
    // peak of GitHub's 13 MB description: 79 MiB streamed, 93 MiB read whole).
    let t = std::time::Instant::now();
    if size <= WHOLE_JSON {
        let mut bytes = Vec::with_capacity(size as usize);
        std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(read_err)?;
        return super::parse(bytes);
    }
    let tree = json_stream(&mut reader)?;
    // The stream stops at the document's end: whatever follows is still seen.
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(read_err)?;
    super::normalise_tree(tree.root, tree.refs_paths, t)
}

/// Refuse a YAML text whose aliases would expand it past its budget, or that nests too deep,
/// before it is read into types (see `read::yaml_bounded`).
pub fn check_yaml(bytes: &[u8]) -> Result<(), IngestError> {
    yaml_bounded(bytes)
}

/// JSON documents up to this size are read into memory before parsing (see `load_file`).
const WHOLE_JSON: u64 = 8 * 1024 * 1024;
