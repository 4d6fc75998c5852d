//! The large-API mode (`mode: search`): instead of one tool per operation, an endpoint lists
//! three tools, so an API of thousands of operations fits a client's tool limit and costs a
//! model little context:
//!
//! - `search_tools`: text in, the best-matching operations out (tool name, one-line summary,
//!   method, path), ranked by BM25 over names, summaries, descriptions, tags and paths;
//! - `describe_tool`: a tool name in, its full definition (input and output schema) out;
//! - `call_tool`: a tool name and arguments in, called exactly as the plain tool would be.
//!
//! Every answer is filtered by what the caller may call (the same per-tool scopes as the plain
//! tools); an operation the caller may not see is never named, described or called.

use std::collections::HashMap;

use serde_json::{Value, json};

/// One operation as the index sees it.
pub struct Doc<'a> {
    pub name: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
    pub method: &'a str,
    pub path: &'a str,
}

/// The BM25 index of an API's tools (their positions in the catalog).
pub struct Index {
    /// term -> (tool, weighted term frequency)
    postings: HashMap<Box<str>, Vec<(u32, f32)>>,
    /// Weighted length of each tool's text.
    lengths: Vec<f32>,
    avg: f32,
    /// Per operation: what the ranking's priors read (see [`Shape`]).
    shapes: Vec<Shape>,
}

/// What an operation is, beyond its words: its method, how deep its path is, whether it
/// names one item. Two priors read it. A query's verb says which method it wants ("list",
/// "get": a GET; "create", "send": a POST; ...), and "list" a collection rather than an
/// item. And of two operations that match alike, the shallower path is the more general one
/// (`GET /users` before `GET /users/{id}/todo/lists`).
#[derive(Clone, Copy)]
struct Shape {
    method: Verb,
    /// Path segments that are not parameters.
    depth: u8,
    /// The path ends with a parameter (`/users/{id}`).
    item: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Other,
}

impl Shape {
    fn of(method: &str, path: &str) -> Shape {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Verb::Get,
            "POST" => Verb::Post,
            "PUT" => Verb::Put,
            "PATCH" => Verb::Patch,
            "DELETE" => Verb::Delete,
            _ => Verb::Other,
        };
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let depth = segments.clone().filter(|s| !s.starts_with('{')).count();
        let item = segments.next_back().is_some_and(|s| s.starts_with('{'));
        Shape {
            method,
            depth: depth.min(255) as u8,
            item,
        }
    }
}

/// Query words that say which method (and, for `list`, a collection) the caller means.
const VERBS: [(&str, &[Verb]); 16] = [
    ("list", &[Verb::Get]),
    ("get", &[Verb::Get]),
    ("show", &[Verb::Get]),
    ("read", &[Verb::Get]),
    ("find", &[Verb::Get]),
    ("search", &[Verb::Get]),
    ("create", &[Verb::Post, Verb::Put]),
    ("add", &[Verb::Post, Verb::Put]),
    ("open", &[Verb::Post]),
    ("send", &[Verb::Post]),
    ("update", &[Verb::Patch, Verb::Put]),
    ("edit", &[Verb::Patch, Verb::Put]),
    ("change", &[Verb::Patch, Verb::Put]),
    ("delete", &[Verb::Delete]),
    ("remove", &[Verb::Delete]),
    ("fork", &[Verb::Post]),
];
/// A score's factor when the method is one the query's verb means.
const VERB_BONUS: f32 = 1.3;
/// ... and when `list` meets a collection.
const LIST_BONUS: f32 = 1.2;
/// Each path segment past the first takes this share off.
const DEPTH_PENALTY: f32 = 0.06;

/// Field weights: a word in a tool's name or path says more than one in its description.
const W_NAME: f32 = 3.0;
const W_SUMMARY: f32 = 2.0;
const W_TAG: f32 = 1.5;
const W_PATH: f32 = 1.5;
const W_DESCRIPTION: f32 = 1.0;
/// Description words indexed per tool (long descriptions would drown the other fields).
const MAX_DESCRIPTION_WORDS: usize = 60;
const K1: f32 = 1.2;
const B: f32 = 0.75;

impl Index {
    pub fn build<'a>(docs: impl Iterator<Item = Doc<'a>>) -> Index {
        let mut postings: HashMap<Box<str>, Vec<(u32, f32)>> = HashMap::new();
        let mut lengths = Vec::new();
        let mut shapes = Vec::new();
        for (i, d) in docs.enumerate() {
            shapes.push(Shape::of(d.method, d.path));
            let mut tf: HashMap<String, f32> = HashMap::new();
            let mut len = 0.0;
            let mut add = |text: &str, w: f32, limit: usize| {
                for t in words(text).take(limit) {
                    *tf.entry(t).or_default() += w;
                    len += w;
                }
            };
            add(d.name, W_NAME, usize::MAX);
            add(d.summary, W_SUMMARY, usize::MAX);
            for t in d.tags {
                add(t, W_TAG, usize::MAX);
            }
            add(d.path, W_PATH, usize::MAX);
            add(d.method, 0.5, usize::MAX);
            add(d.description, W_DESCRIPTION, MAX_DESCRIPTION_WORDS);
            for (t, f) in tf {
                postings.entry(t.into()).or_default().push((i as u32, f));
            }
            lengths.push(len);
        }
        let avg = if lengths.is_empty() {
            1.0
        } else {
            (lengths.iter().sum::<f32>() / lengths.len() as f32).max(1.0)
        };
        postings.shrink_to_fit();
        Index {
            postings,
            lengths,
            avg,
            shapes,
        }
    }

    /// The `limit` best tools for `query` among those `allowed` lets through, best first.
    pub fn search(&self, query: &str, limit: usize, allowed: impl Fn(usize) -> bool) -> Vec<usize> {
        let n = self.lengths.len() as f32;
        // Scores by operation, dense (11k operations: 44 KB), and the operations scored.
        let mut scores = vec![0f32; self.lengths.len()];
        let mut scored: Vec<u32> = Vec::new();
        let mut terms = query_terms(query);
        // Two words written apart that the API writes as one ("to do": `todo`, "one drive":
        // `onedrive`), weighed as a synonym.
        let raw: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        for pair in raw.windows(2) {
            let joined = stem(&format!("{}{}", pair[0], pair[1]));
            if self.postings.contains_key(joined.as_str())
                && !terms.iter().any(|(t, _)| *t == joined)
            {
                terms.push((joined, SYNONYM_WEIGHT));
            }
        }
        for (t, weight) in terms {
            let Some(list) = self.postings.get(t.as_str()) else {
                continue;
            };
            let df = list.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in list {
                let len = self.lengths[doc as usize];
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.avg));
                let at = &mut scores[doc as usize];
                if *at == 0.0 {
                    scored.push(doc);
                }
                *at += weight * s;
            }
        }
        let words: Vec<String> = words(query).collect();
        let wanted: Vec<Verb> = VERBS
            .iter()
            .filter(|(v, _)| words.iter().any(|w| w == v))
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        let list = words.iter().any(|w| w == "list");
        let mut ranked: Vec<(u32, f32)> = scored
            .into_iter()
            .filter(|d| allowed(*d as usize))
            .map(|d| {
                let s = scores[d as usize];
                let shape = self.shapes[d as usize];
                let mut s = s / (1.0 + DEPTH_PENALTY * f32::from(shape.depth.saturating_sub(1)));
                if wanted.contains(&shape.method) {
                    s *= VERB_BONUS;
                }
                if list && shape.method == Verb::Get && !shape.item {
                    s *= LIST_BONUS;
                }
                (d, s)
            })
            .collect();
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        // The best `limit` first, then only those sorted.
        if ranked.len() > limit && limit > 0 {
            ranked.select_nth_unstable_by(limit - 1, order);
            ranked.truncate(limit);
        }
        ranked.sort_by(order);
        ranked.truncate(limit);
        ranked.into_iter().map(|(d, _)| d as usize).collect()
    }
}

/// How people ask against how REST APIs name things: a query word also finds the verb or noun
/// operation names use for it (`open an issue` finds `issues/create`, `email` finds
/// `sendMail`), at a lower weight than the word itself.
const SYNONYMS: [(&str, &str); 14] = [
    ("open", "create"),
    ("add", "create"),
    ("new", "create"),
    ("make", "create"),
    ("start", "create"),
    ("remove", "delete"),
    ("erase", "delete"),
    ("edit", "update"),
    ("change", "update"),
    ("modify", "update"),
    ("show", "get"),
    ("fetch", "get"),
    ("retrieve", "get"),
    ("email", "mail"),
];
const SYNONYM_WEIGHT: f32 = 0.6;

/// A query's terms with their weights: its own words (1.0), then their synonyms.
fn query_terms(query: &str) -> Vec<(String, f32)> {
    let mut terms: Vec<(String, f32)> = words(query).map(|w| (w, 1.0)).collect();
    // "my" is a stop word, but APIs name the caller's own things `me` (`/me/events`).
    if query
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("my"))
    {
        terms.push(("me".into(), SYNONYM_WEIGHT));
    }
    let own: Vec<String> = terms.iter().map(|(w, _)| w.clone()).collect();
    for w in &own {
        for (from, to) in SYNONYMS {
            if w == from && !own.iter().any(|o| o == to) {
                terms.push((to.to_string(), SYNONYM_WEIGHT));
            }
        }
    }
    terms.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    terms.dedup_by(|a, b| a.0 == b.0);
    terms
}

/// Lower-case words of a text, with identifiers split at case changes, digits, `_`, `-`, `/`,
/// `.` and `{}` (`listCalendarEvents` -> list, calendar, events), and a crude plural folding
/// (`events` -> event) so that a query and a name meet.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            cur.extend(c.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .filter(|w| w.len() > 1 && !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
}

const STOP: [&str; 24] = [
    "the", "a", "an", "of", "to", "for", "in", "on", "and", "or", "by", "with", "my", "is", "be",
    "it", "this", "that", "from", "as", "at", "all", "your", "its",
];

fn stem(w: &str) -> String {
    for (suffix, keep) in [("ies", "y"), ("sses", "ss"), ("es", ""), ("s", "")] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
            && !(suffix == "s" && base.ends_with('s'))
            && !(suffix == "es"
                && !(base.ends_with("sh") || base.ends_with("ch") || base.ends_with('x')))
        {
            return format!("{base}{keep}");
        }
    }
    w.to_string()
}

/// The three tools a search-mode endpoint lists (serialized once per API).
pub fn meta_tools(api_title: &str, tools: usize) -> Vec<Value> {
    vec![
        json!({
            "name": "search_tools",
            "title": "Search operations",
            "description": format!(
                "Search the {tools} operations of the {api_title} API. Give words describing what you want to do; returns the best-matching operations (tool name, summary, method, path). Then use describe_tool for an operation's arguments and call_tool to call it."
            ),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What you want to do, in words"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}
                },
                "required": ["query"],
                "additionalProperties": false
            },
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        }),
        json!({
            "name": "describe_tool",
            "title": "Describe an operation",
            "description": "The full definition of one operation found by search_tools: its description, input schema (the arguments call_tool takes for it), output schema and annotations.",
            "inputSchema": {
                "type": "object",
                "properties": {"name": {"type": "string", "description": "A tool name from search_tools"}},
                "required": ["name"],
                "additionalProperties": false
            },
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        }),
        json!({
            "name": "call_tool",
            "title": "Call an operation",
            "description": "Call one operation by its tool name, with arguments matching its input schema (see describe_tool). The result is the operation's own result.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "A tool name from search_tools"},
                    "arguments": {"type": "object", "description": "The operation's arguments"}
                },
                "required": ["name"],
                "additionalProperties": false
            },
            "annotations": {"openWorldHint": true}
        }),
    ]
}

/// Answer a call of one of the three search-mode tools (`None`: `name` is none of them).
/// `view`: the tools the caller may see here (sorted indices into the catalog; `None`: all).
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    api: &crate::catalog::ApiCatalog,
    upstream: &crate::upstream::Upstream,
    access: &crate::auth::Access,
    caller: Option<&crate::auth::Caller>,
    view: Option<std::sync::Arc<Vec<usize>>>,
    name: &str,
    args: serde_json::Map<String, Value>,
    trace: &crate::telemetry::Trace,
) -> Option<crate::upstream::Outcome> {
    use crate::upstream::Outcome;
    let search = api.search.as_ref()?;
    let allowed = |i: usize| view.as_ref().is_none_or(|v| v.binary_search(&i).is_ok());
    // A tool the caller may not see is, to it, no tool at all.
    let find = |n: &str| {
        api.by_name
            .get(n)
            .copied()
            .filter(|i| allowed(*i))
            .map(|i| &api.tools[i])
    };
    let unknown = |n: &str| {
        Outcome::Failed(format!(
            "unknown tool `{n}`: search_tools lists the tools there are"
        ))
    };
    let text = |v: Value| Outcome::Answer {
        body: serde_json::to_vec(&v).unwrap_or_default().into(),
        structured: Some(v),
    };
    match name {
        "search_tools" => {
            let Some(query) = args.get("query").and_then(Value::as_str) else {
                return Some(Outcome::Failed(
                    "invalid arguments:\nargument `query`: a string is required".into(),
                ));
            };
            let limit = match args.get("limit") {
                None => 10,
                Some(v) => match v.as_u64().filter(|l| (1..=50).contains(l)) {
                    Some(l) => l as usize,
                    None => {
                        return Some(Outcome::Failed(
                            "invalid arguments:\nargument `limit`: an integer from 1 to 50".into(),
                        ));
                    }
                },
            };
            if let Some(extra) = args
                .keys()
                .find(|k| !matches!(k.as_str(), "query" | "limit"))
            {
                return Some(Outcome::Failed(format!(
                    "invalid arguments:\nunknown argument `{extra}`"
                )));
            }
            let hits: Vec<Value> = search
                .index
                .search(query, limit, allowed)
                .into_iter()
                .map(|i| {
                    let t = &api.tools[i].mapped;
                    json!({"name": t.name, "summary": t.title, "method": t.op.method, "path": t.op.path})
                })
                .collect();
            Some(text(json!({ "tools": hits })))
        }
        "describe_tool" => {
            let Some(n) = args.get("name").and_then(Value::as_str) else {
                return Some(Outcome::Failed(
                    "invalid arguments:\nargument `name`: a string is required".into(),
                ));
            };
            Some(match find(n) {
                Some(t) => text(api.tool_value(t)),
                None => unknown(n),
            })
        }
        "call_tool" => {
            let Some(n) = args.get("name").and_then(Value::as_str) else {
                return Some(Outcome::Failed(
                    "invalid arguments:\nargument `name`: a string is required".into(),
                ));
            };
            let arguments = match args.get("arguments") {
                None => Value::Object(Default::default()),
                Some(v @ Value::Object(_)) => v.clone(),
                Some(_) => {
                    return Some(Outcome::Failed(
                        "invalid arguments:\nargument `arguments`: an object is required".into(),
                    ));
                }
            };
            Some(match find(n) {
                Some(t) => {
                    crate::mcp::call(api, upstream, access, caller, t, arguments, trace).await
                }
                None => unknown(n),
            })
        }
        _ => None,
    }
}

/// The tool a search-mode `call_tool` names, for the HTTP layer's scope check.
pub fn called_tool<'a>(
    api: &crate::catalog::ApiCatalog,
    name: &str,
    args: Option<&'a Value>,
) -> Option<&'a str> {
    (api.search.is_some() && name == "call_tool")
        .then(|| args?.get("name")?.as_str())
        .flatten()
}

#[cfg(test)]
mod tests;
