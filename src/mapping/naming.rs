//! Tool names: valid, stable, at most 64 characters, never silently shortened or collided.
//!
//! Names use `[A-Za-z0-9_-]`, the subset of the MCP tool-name characters that every major
//! client and model API accepts (some reject `.`). An operationId keeps its word boundaries:
//! `issues/create-label` becomes `issues_create-label`.

/// Longest name produced; the MCP spec allows 128 but several clients stop at 64.
pub const MAX_LEN: usize = 64;

/// True when `name` is a tool name this gateway will serve as-is.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Replace every run of characters outside `[A-Za-z0-9_-]` by one `_`, trimming the ends.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if pending && !out.is_empty() && !out.ends_with('_') && c != '_' {
                out.push('_');
            }
            pending = false;
            out.push(c);
        } else {
            pending = true;
        }
    }
    out.trim_matches('_').to_string()
}

/// Name for an operation without an operationId: `get_pets_petId`.
pub fn from_method_path(method: &str, path: &str) -> String {
    sanitize(&format!("{}_{}", method.to_ascii_lowercase(), path))
}

/// Fit a name into `max` characters: keep a readable prefix and add a stable hash of the whole.
pub fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
    let keep = max - hash.len() - 1;
    let mut prefix: String = name.chars().take(keep).collect();
    while prefix.len() > keep {
        prefix.pop();
    }
    format!("{}_{hash}", prefix.trim_end_matches(['_', '-']))
}

/// A suffixed variant for the `n`th holder of a taken name, still within `MAX_LEN`.
pub fn with_suffix(name: &str, n: usize) -> String {
    let suffix = format!("_{n}");
    let mut base: String = name.to_string();
    while base.len() + suffix.len() > MAX_LEN {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// FNV-1a, 64 bit: a hash that is the same on every machine and every release (std's is not).
/// Written here because it is six lines and a crate would add more than it saves.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_keep_word_boundaries() {
        assert_eq!(sanitize("issues/create-label"), "issues_create-label");
        assert_eq!(sanitize("pets.list"), "pets_list");
        assert_eq!(sanitize("  weird name!! "), "weird_name");
        assert_eq!(from_method_path("GET", "/pets/{petId}"), "get_pets_petId");
    }

    #[test]
    fn long_names_are_shortened_stably_and_stay_valid() {
        let long = "a".repeat(70) + "-tail";
        let s = shorten(&long, MAX_LEN);
        assert_eq!(s.len(), MAX_LEN);
        assert_eq!(s, shorten(&long, MAX_LEN));
        assert!(is_valid(&s));
        assert_ne!(s, shorten(&("a".repeat(70) + "-tall"), MAX_LEN));
        assert_eq!(with_suffix(&"b".repeat(64), 2).len(), 64);
    }
}
