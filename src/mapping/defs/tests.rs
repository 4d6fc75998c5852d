//! The shared table held equal to what copying gives: each schema with its own copy of the
//! `$defs` it reaches, rewritten per direction and pruned (how tools were built before the
//! table), on generated documents.

use super::*;
use serde_json::json;

/// The copying way, kept as the reference.
mod copying {
    use super::*;

    pub fn used_defs(schema: &Map<String, Value>, defs: &Map<String, Value>) -> Map<String, Value> {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(o) => {
                    if let Some(r) = o.get("$ref").and_then(Value::as_str)
                        && let Some(k) = r.strip_prefix("#/$defs/")
                    {
                        out.push(k);
                    }
                    o.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut keep = std::collections::BTreeSet::new();
        let mut stack = Vec::new();
        if let Some(k) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            stack.push(k);
        }
        schema.values().for_each(|v| refs(v, &mut stack));
        while let Some(k) = stack.pop() {
            let k = k.replace("~1", "/").replace("~0", "~");
            if let Some(d) = defs.get(&k)
                && keep.insert(k)
            {
                refs(d, &mut stack);
            }
        }
        keep.into_iter()
            .filter_map(|k| defs.get(&k).map(|v| (k, v.clone())))
            .collect()
    }

    pub fn prune_defs(schema: &mut Map<String, Value>) {
        let Some(Value::Object(defs)) = schema.remove("$defs") else {
            return;
        };
        let keep = used_defs(schema, &defs);
        if !keep.is_empty() {
            schema.insert("$defs".into(), Value::Object(keep));
        }
    }

    pub fn whole(
        mut schema: Map<String, Value>,
        defs: &Map<String, Value>,
        dir: Direction,
        keep_root: bool,
    ) -> Map<String, Value> {
        let used = used_defs(&schema, defs);
        let marked = direction::mentions(&schema, dir)
            || used
                .values()
                .any(|d| d.as_object().is_some_and(|o| direction::mentions(o, dir)));
        if !used.is_empty() {
            schema.insert("$defs".into(), Value::Object(used));
        }
        if marked && direction::strip(&mut schema, dir, keep_root) {
            prune_defs(&mut schema);
        }
        schema
    }
}

/// xorshift64*: the same documents on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NAMES: [&str; 7] = ["A", "B", "c.d", "e/f", "g~h", "I", "J"];

fn pointer(name: &str) -> String {
    format!("#/$defs/{}", name.replace('~', "~0").replace('/', "~1"))
}

fn property(r: &mut Rng, depth: u32) -> Value {
    let target = NAMES[r.below(NAMES.len() as u64) as usize];
    let mut p = match r.below(if depth > 2 { 2 } else { 8 }) {
        0 => json!({"type": "string"}),
        1 => json!({"$ref": pointer(target)}),
        2 => json!({"anyOf": [{"$ref": pointer(target)}, {"type": "null"}]}),
        3 => json!({"type": "array", "items": {"$ref": pointer(target)}}),
        4 => json!({"allOf": [{"$ref": pointer(target)}]}),
        5 => object(r, depth + 1),
        6 => json!({"$ref": "#/$defs/missing"}),
        _ => json!({"type": "integer", "enum": [1, {"readOnly": true}]}),
    };
    match r.below(6) {
        0 => p["readOnly"] = json!(true),
        1 => p["writeOnly"] = json!(true),
        _ => {}
    }
    p
}

fn object(r: &mut Rng, depth: u32) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for i in 0..r.below(5) {
        let name = format!("p{i}");
        if r.below(2) == 0 {
            required.push(json!(name));
        }
        props.insert(name, property(r, depth));
    }
    let mut o = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        o["required"] = Value::Array(required);
    }
    if r.below(4) == 0 {
        let base = NAMES[r.below(NAMES.len() as u64) as usize];
        o = json!({"allOf": [{"$ref": pointer(base)}, o]});
    }
    if r.below(12) == 0 {
        o["readOnly"] = json!(true);
    }
    o
}

fn document(r: &mut Rng) -> Map<String, Value> {
    let mut defs = Map::new();
    for n in NAMES {
        if r.below(5) != 0 {
            defs.insert(n.to_string(), object(r, 0));
        }
    }
    defs
}

#[test]
fn the_shared_table_gives_what_copying_gives() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut marked = 0;
    for _ in 0..1000 {
        let defs = document(&mut r);
        let table = DefTable::new(Arc::new(defs.clone()));
        for _ in 0..4 {
            let root = match object(&mut r, 0) {
                Value::Object(o) => o,
                _ => unreachable!(),
            };
            let dir = if r.below(2) == 0 {
                Direction::Request
            } else {
                Direction::Response
            };
            let keep_root = r.below(2) == 0;
            let expected = copying::whole(root.clone(), &defs, dir, keep_root);

            let mut own = root;
            let reached = table.reach(&own);
            assert_eq!(
                table.object_len(&reached),
                serde_json::to_vec(&copying::used_defs(&own, &defs))
                    .unwrap()
                    .len()
            );
            let list = table.finish(&mut own, dir, keep_root, reached);
            marked += usize::from(list.variant != Variant::Original);
            let got = table.whole(&own, &list);
            // Byte for byte: same members, same order.
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
            // And the frozen bytes write the same `$defs`.
            if !list.is_empty() {
                let mut out = Vec::new();
                let frozen = table.freeze();
                frozen.write(&list, &mut out);
                assert_eq!(out.len(), frozen.len(&list));
                let want = format!(
                    "\"$defs\":{}",
                    serde_json::to_string(&expected["$defs"]).unwrap()
                );
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }
    // The generator does reach the rewriting paths.
    assert!(marked > 300, "{marked}");
}

#[test]
fn a_document_without_definitions() {
    let table = DefTable::empty();
    let mut s = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}})
        .as_object()
        .unwrap()
        .clone();
    let reached = table.reach(&s);
    assert!(reached.is_empty());
    assert_eq!(table.object_len(&reached), 2);
    let list = table.finish(&mut s, Direction::Request, true, reached);
    assert!(list.is_empty());
}
