//! Reading a document into a JSON tree while leaving out what no tool ever uses: `examples`,
//! response `headers` and `links`, `callbacks`, `externalDocs` and vendor extensions (`x-*`,
//! except `x-nullable`). On large documents this is a third
//! of the tree (GitHub's description: ~1.5 MB of `components/examples` alone), and the tree is
//! the largest thing the gateway ever holds in memory.
//!
//! Keys are only dropped where they are keywords: inside a map of *names* (`properties`,
//! `schemas`, `paths`, ...) a property that happens to be called `examples` is kept.

use std::cell::Cell;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::limits::MAX_DEPTH;

/// Keywords no tool uses: examples, response headers and links, callbacks, external docs.
const UNUSED: [&str; 5] = ["examples", "headers", "links", "callbacks", "externalDocs"];

/// Maps whose keys are user-chosen names, not keywords.
const NAME_MAPS: [&str; 18] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "schemas",
    "parameters",
    "responses",
    "headers",
    "requestBodies",
    "securitySchemes",
    "links",
    "callbacks",
    "paths",
    "content",
    "variables",
    "mapping",
    "encoding",
    "pathItems",
];

/// What reading a document found out on the way.
#[derive(Default)]
pub struct Flags {
    /// Some `$ref` points into `#/paths` (then the paths must stay whole).
    pub refs_paths: Cell<bool>,
    /// The document nests deeper than [`MAX_DEPTH`]: the reader's error is that.
    pub too_deep: Cell<bool>,
    /// What the tree may still cost (a byte per byte of string, 16 per value, about what they
    /// take in memory: at most 8 times a text without aliases), when bounded:
    /// YAML aliases repeat a node wherever they appear, so a small text can expand to a tree
    /// of any size. `None`: unbounded (JSON, whose tree is never much larger than its text).
    pub budget: Cell<Option<u64>>,
    /// The budget ran out: the reader's error is that.
    pub too_big: Cell<bool>,
}

impl Flags {
    /// Flags for a document whose tree may cost at most `budget`.
    pub fn bounded(budget: u64) -> Self {
        Flags {
            budget: Cell::new(Some(budget)),
            ..Flags::default()
        }
    }

    /// Spend `cost` of the budget, or fail once it is gone.
    fn spend<E: serde::de::Error>(&self, cost: usize) -> Result<(), E> {
        let Some(left) = self.budget.get() else {
            return Ok(());
        };
        match left.checked_sub(cost as u64 + 16) {
            Some(rest) => {
                self.budget.set(Some(rest));
                Ok(())
            }
            None => {
                self.too_big.set(true);
                Err(E::custom("the document expands past its size limit"))
            }
        }
    }
}

/// Deserialize a whole document, pruned, refusing one nested deeper than [`MAX_DEPTH`].
#[derive(Clone, Copy)]
pub struct Pruned<'a> {
    /// The map being read has names as keys.
    names: bool,
    /// Maps and lists around the value being read.
    depth: usize,
    flags: &'a Flags,
}

impl<'a> Pruned<'a> {
    /// The seed for a document's root.
    pub fn root(flags: &'a Flags) -> Self {
        Pruned {
            names: false,
            depth: 0,
            flags,
        }
    }

    /// The seed for the values inside a map or list read by `self`, or the depth error.
    fn inside<E: serde::de::Error>(self, names: bool) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            self.flags.too_deep.set(true);
            return Err(E::custom(format_args!(
                "the document nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(Pruned {
            names,
            depth: self.depth + 1,
            flags: self.flags,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    /// An integer past 64 bits (YAML reads `1e30` written out in digits so): as a float.
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.flags.spend(v.len())?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.flags.spend(v.len())?;
        Ok(Value::String(v))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(Value::Null)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.flags.spend(0)?;
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.inside(false)?;
        self.flags.spend(0)?;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(child)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.inside(false)?;
        let mut out = Map::new();
        self.flags.spend(0)?;
        while let Some(key) = map.next_key::<String>()? {
            self.flags.spend(key.len())?;
            let keyword = !self.names;
            if keyword
                && (UNUSED.contains(&key.as_str())
                    || (key.starts_with("x-") && key != "x-nullable"))
            {
                map.next_value_seed(Skip(self.flags))?;
                continue;
            }
            let names = keyword && NAME_MAPS.contains(&key.as_str());
            let v = map.next_value_seed(Pruned { names, ..child })?;
            if key == "$ref"
                && v.as_str()
                    .and_then(super::schema::canonical_ref)
                    .is_some_and(|r| r.starts_with("#/paths"))
            {
                self.flags.refs_paths.set(true);
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A value read and dropped, its cost still spent: an alias under a pruned key is replayed
/// by the YAML reader all the same.
#[derive(Clone, Copy)]
pub struct Skip<'a>(pub &'a Flags);

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.spend(v.len())
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.0.spend(v.len())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    /// A tagged YAML value (`!Sub ...`, as in `x-amazon-apigateway-integration`).
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.spend(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.spend(0)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.spend(0)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_go_names_stay() {
        let doc = br#"{"x-logo":1,"components":{"examples":{"a":1},"schemas":{"examples":{
            "type":"object","x-internal":true,"x-nullable":true,
            "properties":{"examples":{"type":"string"},"x-count":{"type":"integer"}}}}}}"#;
        let flags = Flags::default();
        let v = Pruned::root(&flags)
            .deserialize(&mut serde_json::Deserializer::from_slice(doc))
            .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"components":{"schemas":{"examples":{"type":"object","x-nullable":true,
                "properties":{"examples":{"type":"string"},"x-count":{"type":"integer"}}}}}})
        );
    }
}
