//! A tool's definition as served: rmcp's serialization of the tool without its `$defs`, and
//! where the shared definitions go back in (see `mapping::defs`).
//!
//! The tool is serialized with a marker string as each schema's `$defs` value, in the place
//! the definitions would take (last in the schema); the marker is cut out and its offset kept.
//! Writing the tool puts `"$defs":{...}` back at that offset from the API's [`DefBytes`]: the
//! same bytes serializing the whole tool gives (`catalog::tests`).

use std::sync::{Arc, OnceLock};

use rmcp::model::Tool;
use serde_json::{Map, Value};

use crate::mapping::defs::{DefBytes, DefList};

/// Which schema's `$defs` a splice puts back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Input,
    Output,
}

/// A tool's serialized definition, its `$defs` cut out.
#[derive(Debug, Default)]
pub struct ToolJson {
    own: Box<[u8]>,
    /// Offsets into `own` where a schema's `$defs` goes, in order.
    splices: Box<[(u32, Which)]>,
}

/// This process's marker: random, so no text of a document can be taken for it.
fn marker(which: Which) -> &'static str {
    static MARKERS: OnceLock<[String; 2]> = OnceLock::new();
    let m = MARKERS.get_or_init(|| {
        let mut nonce = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .expect("the system's random source works");
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        [
            format!("rest2mcp-defs-in-{hex}"),
            format!("rest2mcp-defs-out-{hex}"),
        ]
    });
    &m[which as usize]
}

/// Put the marker where a schema's `$defs` goes (it has none of its own).
pub fn mark(schema: &mut Arc<Map<String, Value>>, which: Which) {
    Arc::make_mut(schema).insert("$defs".into(), Value::String(marker(which).into()));
}

impl ToolJson {
    /// Serialize a tool whose schemas carry markers (see [`mark`]).
    pub fn new(tool: &Tool) -> Self {
        let bytes = serde_json::to_vec(tool).expect("tools serialize");
        let needles =
            [Which::Input, Which::Output].map(|w| (w, format!(r#""$defs":"{}""#, marker(w))));
        let mut cuts: Vec<(usize, usize, Which)> = needles
            .iter()
            .filter_map(|(w, n)| {
                memchr::memmem::find(&bytes, n.as_bytes()).map(|at| (at, n.len(), *w))
            })
            .collect();
        cuts.sort_unstable_by_key(|c| c.0);
        let mut own = Vec::with_capacity(bytes.len());
        let mut splices = Vec::with_capacity(cuts.len());
        let mut from = 0;
        for (at, len, which) in cuts {
            own.extend_from_slice(&bytes[from..at]);
            splices.push((own.len() as u32, which));
            from = at + len;
        }
        own.extend_from_slice(&bytes[from..]);
        ToolJson {
            own: own.into_boxed_slice(),
            splices: splices.into(),
        }
    }

    /// Append the whole definition.
    pub fn write(&self, defs: &DefBytes, input: &DefList, output: &DefList, out: &mut Vec<u8>) {
        let mut from = 0;
        for &(at, which) in &self.splices {
            out.extend_from_slice(&self.own[from..at as usize]);
            defs.write(pick(which, input, output), out);
            from = at as usize;
        }
        out.extend_from_slice(&self.own[from..]);
    }

    /// What [`Self::write`] appends.
    pub fn len(&self, defs: &DefBytes, input: &DefList, output: &DefList) -> usize {
        self.own.len()
            + self
                .splices
                .iter()
                .map(|&(_, w)| defs.len(pick(w, input, output)))
                .sum::<usize>()
    }

    /// Bytes held (for the start-up log).
    pub fn size(&self) -> usize {
        self.own.len() + self.splices.len() * 8
    }
}

fn pick<'a>(which: Which, input: &'a DefList, output: &'a DefList) -> &'a DefList {
    match which {
        Which::Input => input,
        Which::Output => output,
    }
}
