//! What a new version changes for clients: tools added, removed and changed (input schema,
//! output schema, description, scopes, annotations), each marked breaking or not. Breaking is
//! what can make a call that worked before fail now: a removed tool, a removed argument, a new
//! required argument, a narrowed type or enum, more scopes needed.

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{ApiCatalog, ToolEntry};

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Diff {
    pub breaking: bool,
    pub added: Vec<ToolChange>,
    pub removed: Vec<ToolChange>,
    pub changed: Vec<ToolChange>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ToolChange {
    pub tool: String,
    pub breaking: bool,
    pub changes: Vec<String>,
}

/// One tool as the diff sees it.
struct View {
    tool: Value,
    scopes: Vec<Vec<String>>,
}

impl View {
    fn of(bytes: &[u8], t: &ToolEntry) -> View {
        View {
            tool: serde_json::from_slice(bytes).unwrap_or(Value::Null),
            scopes: t.mapped.scopes.clone(),
        }
    }
}

/// The diff from `old` (none: a new API) to `new`. Tools are found by name, and only those
/// whose served definition or scopes differ are read (a large API's reload compares bytes).
pub fn diff(old: Option<&ApiCatalog>, new: &ApiCatalog) -> Diff {
    let mut d = Diff::default();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for n in &new.tools {
        let name = &n.mapped.name;
        match old.and_then(|old| Some((old, old.tool(name)?))) {
            None => d.added.push(ToolChange {
                tool: name.clone(),
                breaking: false,
                changes: vec!["new tool".into()],
            }),
            Some((old, o)) => {
                before.clear();
                after.clear();
                old.write_tool(o, &mut before);
                new.write_tool(n, &mut after);
                if before == after && o.mapped.scopes == n.mapped.scopes {
                    continue;
                }
                let mut c = Changes::default();
                compare(&View::of(&before, o), &View::of(&after, n), &mut c);
                if !c.lines.is_empty() {
                    d.changed.push(ToolChange {
                        tool: name.clone(),
                        breaking: c.breaking,
                        changes: c.lines,
                    });
                }
            }
        }
    }
    for o in old.map_or(&[][..], |old| &old.tools) {
        if new.tool(&o.mapped.name).is_none() {
            d.removed.push(ToolChange {
                tool: o.mapped.name.clone(),
                breaking: true,
                changes: vec!["tool removed".into()],
            });
        }
    }
    d.breaking = !d.removed.is_empty() || d.changed.iter().any(|c| c.breaking);
    d
}

#[derive(Default)]
struct Changes {
    breaking: bool,
    lines: Vec<String>,
}

impl Changes {
    fn note(&mut self, breaking: bool, line: String) {
        self.breaking |= breaking;
        self.lines.push(line);
    }
}

fn compare(o: &View, n: &View, c: &mut Changes) {
    let field = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    if field(&o.tool, "description") != field(&n.tool, "description") {
        c.note(false, "description changed".into());
    }
    if field(&o.tool, "annotations") != field(&n.tool, "annotations") {
        c.note(false, "annotations changed".into());
    }
    if field(&o.tool, "outputSchema") != field(&n.tool, "outputSchema") {
        c.note(false, "output schema changed".into());
    }
    input(
        &field(&o.tool, "inputSchema"),
        &field(&n.tool, "inputSchema"),
        c,
    );
    if o.scopes != n.scopes {
        // Breaking when a caller who could call it before may not now: some old alternative
        // is no longer enough.
        let enough = |alt: &Vec<String>| {
            n.scopes.is_empty() || n.scopes.iter().any(|na| na.iter().all(|s| alt.contains(s)))
        };
        let narrower = if o.scopes.is_empty() {
            !n.scopes.is_empty()
        } else {
            !o.scopes.iter().all(enough)
        };
        c.note(
            narrower,
            format!(
                "scopes: {} -> {}",
                show_scopes(&o.scopes),
                show_scopes(&n.scopes)
            ),
        );
    }
}

fn show_scopes(s: &[Vec<String>]) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.iter()
            .map(|a| a.join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

fn input(o: &Value, n: &Value, c: &mut Changes) {
    if o == n {
        return;
    }
    let props = |v: &Value| {
        v.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let required = |v: &Value| -> Vec<String> {
        v.get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (op, np) = (props(o), props(n));
    let (or, nr) = (required(o), required(n));
    let mut noted = false;
    for (name, ns) in &np {
        match op.get(name) {
            None if nr.contains(name) => {
                c.note(
                    true,
                    format!("input schema: new required argument `{name}`"),
                );
                noted = true;
            }
            None => {
                c.note(
                    false,
                    format!("input schema: new optional argument `{name}`"),
                );
                noted = true;
            }
            Some(os) => {
                if nr.contains(name) && !or.contains(name) {
                    c.note(
                        true,
                        format!("input schema: argument `{name}` is now required"),
                    );
                    noted = true;
                }
                noted |= narrowed(name, os, ns, c);
            }
        }
    }
    for name in op.keys() {
        if !np.contains_key(name) {
            c.note(true, format!("input schema: argument `{name}` removed"));
            noted = true;
        }
    }
    if !noted {
        c.note(false, "input schema changed".into());
    }
}

/// Notes a narrowed type or enum of argument `name`; whether anything was noted.
fn narrowed(name: &str, o: &Value, n: &Value, c: &mut Changes) -> bool {
    let types = |v: &Value| -> Option<Vec<String>> {
        match v.get("type")? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
            ),
            _ => None,
        }
    };
    let mut noted = false;
    match (types(o), types(n)) {
        (ot, Some(nt)) if ot.as_ref() != Some(&nt) => {
            // Widening `integer` to `number` is not narrowing.
            let lost = match &ot {
                None => true,
                Some(ot) => ot.iter().any(|t| {
                    !(nt.contains(t) || t == "integer" && nt.iter().any(|x| x == "number"))
                }),
            };
            c.note(
                lost,
                format!(
                    "input schema: argument `{name}` type {} -> {}",
                    ot.map_or("any".into(), |t| t.join("|")),
                    nt.join("|")
                ),
            );
            noted = true;
        }
        _ => {}
    }
    let enums = |v: &Value| v.get("enum").and_then(Value::as_array).cloned();
    match (enums(o), enums(n)) {
        (oe, Some(ne)) if oe.as_ref() != Some(&ne) => {
            let lost = oe.is_none_or(|oe| oe.iter().any(|x| !ne.contains(x)));
            c.note(
                lost,
                format!("input schema: argument `{name}` allowed values changed"),
            );
            noted = true;
        }
        (Some(_), None) => {
            c.note(
                false,
                format!("input schema: argument `{name}` allows any value now"),
            );
            noted = true;
        }
        _ => {}
    }
    if !noted && o != n {
        c.note(false, format!("input schema: argument `{name}` changed"));
        noted = true;
    }
    noted
}
