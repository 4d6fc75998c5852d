//! The document's definitions, shared by every tool of an API.
//!
//! A tool's schema may reach hundreds of definitions (Microsoft Graph: `user` reaches most of
//! its 2,600), and served tools carry the `$defs` they reach. Copying and serializing those per
//! tool made Graph's catalog 100 MB and most of its load time. Here each definition is read for
//! its references once and serialized once (per direction variant, see `direction`); a tool's
//! `$defs` is a sorted list of entry ids ([`DefList`]) that the catalog splices from the shared
//! bytes ([`DefBytes`]) when a page is written. The bytes are exactly what serializing the
//! tool's own copy would give (`tests`: held equal to copying, on generated documents).

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use super::direction::{self, Direction};

/// Which form of a definition a tool's `$defs` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// As the document wrote it.
    #[default]
    Original = 0,
    /// Read-only properties left out (tool arguments).
    Request = 1,
    /// Write-only properties left out (tool output).
    Response = 2,
}

impl From<Direction> for Variant {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Request => Variant::Request,
            Direction::Response => Variant::Response,
        }
    }
}

/// The `$defs` one schema reaches: entry ids in key order, all of one variant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefList {
    pub variant: Variant,
    pub ids: Box<[u32]>,
}

impl DefList {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One definition in one variant: its rewritten value (`None`: as the original), the entries
/// it refers to, and its serialized `"key":value` bytes (made on first use).
struct Slot {
    value: Option<Value>,
    refs: Box<[u32]>,
    bytes: OnceLock<Arc<[u8]>>,
}

/// Every definition of one document, by key order, while an API's tools are mapped.
pub struct DefTable {
    values: Arc<Map<String, Value>>,
    /// Keys in sorted order: an entry's id is its position (the order `$defs` are written in).
    keys: Vec<String>,
    /// Definitions that mark properties `readOnly` (index 0) or `writeOnly` (index 1) themselves.
    marked: [Vec<bool>; 2],
    /// Three per definition (one per [`Variant`]), filled on first use.
    slots: Vec<OnceLock<Slot>>,
}

impl std::fmt::Debug for DefTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DefTable({} definitions)", self.keys.len())
    }
}

impl DefTable {
    pub fn new(values: Arc<Map<String, Value>>) -> Self {
        let mut keys: Vec<String> = values.keys().cloned().collect();
        keys.sort_unstable();
        let marked = [Direction::Request, Direction::Response].map(|dir| {
            keys.iter()
                .map(|k| {
                    values[k]
                        .as_object()
                        .is_some_and(|o| direction::mentions(o, dir))
                })
                .collect()
        });
        let slots = (0..keys.len() * 3).map(|_| OnceLock::new()).collect();
        DefTable {
            values,
            keys,
            marked,
            slots,
        }
    }

    /// The table of a document without definitions.
    pub fn empty() -> Arc<DefTable> {
        static EMPTY: OnceLock<Arc<DefTable>> = OnceLock::new();
        EMPTY
            .get_or_init(|| Arc::new(DefTable::new(Arc::default())))
            .clone()
    }

    /// The entry a `#/$defs/...` pointer names (escaped as in the pointer).
    fn id(&self, escaped: &str) -> Option<u32> {
        let key = if escaped.contains('~') {
            std::borrow::Cow::Owned(escaped.replace("~1", "/").replace("~0", "~"))
        } else {
            std::borrow::Cow::Borrowed(escaped)
        };
        self.keys
            .binary_search_by(|k| k.as_str().cmp(&key))
            .ok()
            .map(|i| i as u32)
    }

    /// The entries `v` refers to directly (anywhere inside it).
    fn refs(&self, v: &Value, out: &mut Vec<u32>) {
        match v {
            Value::Object(o) => {
                if let Some(k) = o
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    && let Some(i) = self.id(k)
                {
                    out.push(i);
                }
                o.values().for_each(|v| self.refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| self.refs(v, out)),
            _ => {}
        }
    }

    fn slot(&self, id: u32, variant: Variant) -> &Slot {
        self.slots[id as usize * 3 + variant as usize].get_or_init(|| {
            let original = &self.values[&self.keys[id as usize]];
            let rewritten = match variant {
                Variant::Original => None,
                Variant::Request | Variant::Response => {
                    let dir = match variant {
                        Variant::Request => Direction::Request,
                        _ => Direction::Response,
                    };
                    let mut copy = original.clone();
                    let changed = copy
                        .as_object_mut()
                        .is_some_and(|o| direction::strip_def(o, &self.values, dir));
                    changed.then_some(copy)
                }
            };
            let refs = match (&rewritten, variant) {
                (None, Variant::Request | Variant::Response) => {
                    self.slot(id, Variant::Original).refs.clone()
                }
                (v, _) => {
                    let mut out = Vec::new();
                    self.refs(v.as_ref().unwrap_or(original), &mut out);
                    out.into()
                }
            };
            Slot {
                value: rewritten,
                refs,
                bytes: OnceLock::new(),
            }
        })
    }

    fn value(&self, id: u32, variant: Variant) -> &Value {
        self.slot(id, variant)
            .value
            .as_ref()
            .unwrap_or_else(|| &self.values[&self.keys[id as usize]])
    }

    /// `"key":value`, serialized once per entry and variant.
    fn bytes(&self, id: u32, variant: Variant) -> &Arc<[u8]> {
        let slot = self.slot(id, variant);
        slot.bytes.get_or_init(|| {
            if slot.value.is_none() && variant != Variant::Original {
                return self.bytes(id, Variant::Original).clone();
            }
            let mut b = serde_json::to_vec(&self.keys[id as usize]).expect("strings serialize");
            b.push(b':');
            serde_json::to_writer(&mut b, self.value(id, variant)).expect("values serialize");
            b.into()
        })
    }

    /// Every entry reachable from `roots` in this variant, in key order.
    fn closure(&self, mut stack: Vec<u32>, variant: Variant) -> Box<[u32]> {
        let mut seen = vec![false; self.keys.len()];
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i as usize], true) {
                continue;
            }
            out.push(i);
            stack.extend_from_slice(&self.slot(i, variant).refs);
        }
        out.sort_unstable();
        out.into()
    }

    /// The entries a schema (without `$defs`) refers to directly.
    fn roots(&self, schema: &Map<String, Value>) -> Vec<u32> {
        let mut roots = Vec::new();
        schema.values().for_each(|v| self.refs(v, &mut roots));
        if let Some(k) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            && let Some(i) = self.id(k)
        {
            roots.push(i);
        }
        roots
    }

    /// The definitions a schema (without `$defs`) reaches, as the document wrote them.
    pub fn reach(&self, schema: &Map<String, Value>) -> DefList {
        DefList {
            variant: Variant::Original,
            ids: self.closure(self.roots(schema), Variant::Original),
        }
    }

    /// Make `schema` fit for one direction: when it or a definition it reaches marks a property
    /// hidden that way, those properties leave `schema` (its root's own properties stay with
    /// `keep_root`) and its `$defs` become the rewritten variant, pruned to what is still
    /// reached. `reached` is [`Self::reach`] of `schema`.
    pub fn finish(
        &self,
        schema: &mut Map<String, Value>,
        dir: Direction,
        keep_root: bool,
        reached: DefList,
    ) -> DefList {
        let marked = &self.marked[dir as usize];
        let list = if !direction::mentions(schema, dir)
            && !reached.ids.iter().any(|&i| marked[i as usize])
        {
            reached
        } else {
            direction::strip_with(schema, &self.values, dir, keep_root);
            let variant = Variant::from(dir);
            DefList {
                variant,
                ids: self.closure(self.roots(schema), variant),
            }
        };
        // What the catalog will write: serialized now, kept by `freeze`.
        for &i in &list.ids {
            self.bytes(i, list.variant);
        }
        list
    }

    /// The length of `{"key":value,...}` for a list (`{}` when empty).
    pub fn object_len(&self, list: &DefList) -> usize {
        2 + list
            .ids
            .iter()
            .map(|&i| self.bytes(i, list.variant).len() + 1)
            .sum::<usize>()
            .saturating_sub(1)
    }

    /// A list as the `$defs` map it stands for (tests, and whoever wants the whole schema).
    pub fn to_map(&self, list: &DefList) -> Map<String, Value> {
        list.ids
            .iter()
            .map(|&i| {
                (
                    self.keys[i as usize].clone(),
                    self.value(i, list.variant).clone(),
                )
            })
            .collect()
    }

    /// A schema and its list as one self-contained schema (`$defs` last, when any).
    pub fn whole(&self, schema: &Map<String, Value>, list: &DefList) -> Map<String, Value> {
        let mut s = schema.clone();
        if !list.is_empty() {
            s.insert("$defs".into(), Value::Object(self.to_map(list)));
        }
        s
    }

    /// The serialized entries the catalog keeps once mapping is done: those some
    /// [`Self::finish`] returned (the definitions' trees are dropped with the table).
    pub fn freeze(&self) -> DefBytes {
        DefBytes(
            self.slots
                .iter()
                .map(|s| s.get().and_then(|s| s.bytes.get()).cloned())
                .collect(),
        )
    }
}

/// The serialized definitions of one API's catalog: `"key":value` per entry and variant.
#[derive(Default)]
pub struct DefBytes(Vec<Option<Arc<[u8]>>>);

impl DefBytes {
    /// Append `"$defs":{...}` for a list.
    pub fn write(&self, list: &DefList, out: &mut Vec<u8>) {
        out.extend_from_slice(br#""$defs":{"#);
        for (n, &i) in list.ids.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if let Some(b) = &self.0[i as usize * 3 + list.variant as usize] {
                out.extend_from_slice(b);
            }
        }
        out.push(b'}');
    }

    /// What [`Self::write`] appends.
    pub fn len(&self, list: &DefList) -> usize {
        br#""$defs":{"#.len()
            + list
                .ids
                .iter()
                .map(|&i| {
                    self.0[i as usize * 3 + list.variant as usize]
                        .as_ref()
                        .map_or(0, |b| b.len())
                        + 1
                })
                .sum::<usize>()
                .max(1)
    }

    /// Bytes held (for the start-up log).
    pub fn size(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .flatten()
            .filter(|b| seen.insert(b.as_ptr()))
            .map(|b| b.len())
            .sum()
    }
}

#[cfg(test)]
mod tests;
