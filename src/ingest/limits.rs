//! How deep a document may nest, and a pass over YAML text that enforces it before the YAML
//! parser runs.
//!
//! Both readers count nesting themselves ([`super::prune::Pruned`] refuses the 101st map or
//! list from the root, JSON and YAML alike), but that is too late for YAML: the parser
//! (libyaml, inside `yaml_serde`) reads the whole text into events first, and its scanner does
//! work proportional to the current flow depth (`[`, `{`) for every token: a 200 KB file of
//! `[[[[...` took minutes. [`yaml_too_deep`] walks the text once, in linear time, tracking
//! the two things that scanner tracks (its flow level and its stack of block indentations),
//! with libyaml's own rules for where tokens start and end (quoted, block and plain scalars,
//! comments, tags, anchors), so that brackets inside strings and comments are not counted and
//! a string cannot hide real brackets. It refuses a text once those levels exceed the limit
//! by [`SCAN_SLACK`]; the exact count stays with the deserializer.

/// The deepest nesting (maps and lists, counted from the document's root) a document may
/// have. Real descriptions stay far below it (GitHub's: 21); the JSON and YAML parsers refuse
/// 128 on their own, with a less clear message, so this must stay below that.
pub const MAX_DEPTH: usize = 100;

/// Levels the pre-scan allows beyond [`MAX_DEPTH`]: an implicit YAML mapping (`key:` with the
/// sequence below it at the same indentation) has no level of its own in the scanner, so the
/// scan never counts more than the deserializer; the slack only keeps the exact limit (and its
/// error) with the deserializer.
pub const SCAN_SLACK: usize = 16;

/// The 1-based line at which YAML `text` (UTF-8) opens more than `limit` flow collections and
/// block indentation levels together, if it does.
pub fn yaml_too_deep(text: &[u8], limit: usize) -> Option<usize> {
    let mut s = Scan {
        b: text,
        i: 0,
        line: 0,
        col: 0,
        flow: 0,
        indent: -1,
        indents: Vec::new(),
        allowed: true,
        key: None,
        limit,
    };
    s.run().err()
}

/// A possible simple key (at flow level 0): where it started.
#[derive(Clone, Copy)]
struct Key {
    line: usize,
    index: usize,
    col: usize,
}

/// libyaml's scanner state, as far as nesting goes (`yaml_parser_fetch_next_token` & co.).
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    /// Column in characters, as libyaml counts it.
    col: usize,
    flow: usize,
    /// Current block indentation (-1 outside any block collection) and the enclosing ones.
    indent: isize,
    indents: Vec<isize>,
    /// Whether a simple key may start here (`simple_key_allowed`).
    allowed: bool,
    key: Option<Key>,
    limit: usize,
}

type Deep = Result<(), usize>;

impl Scan<'_> {
    fn at(&self, k: usize) -> u8 {
        self.b.get(k).copied().unwrap_or(0)
    }
    fn c(&self) -> u8 {
        self.at(self.i)
    }
    /// Length of the line break at `k` (CR LF, CR, LF, NEL, LS, PS), 0 if none.
    fn brk(&self, k: usize) -> usize {
        match (self.at(k), self.at(k + 1), self.at(k + 2)) {
            (b'\r', b'\n', _) => 2,
            (b'\r' | b'\n', _, _) => 1,
            (0xC2, 0x85, _) => 2,
            (0xE2, 0x80, 0xA8 | 0xA9) => 3,
            _ => 0,
        }
    }
    fn blank(&self, k: usize) -> bool {
        matches!(self.at(k), b' ' | b'\t')
    }
    /// Blank, line break or end of text (a NUL, which libyaml refuses anyway, ends it too).
    fn blankz(&self, k: usize) -> bool {
        self.blank(k) || self.brk(k) > 0 || self.at(k) == 0
    }
    fn eof(&self) -> bool {
        self.i >= self.b.len()
    }
    /// One character forward.
    fn skip(&mut self) {
        let width = match self.c() {
            c if c & 0xE0 == 0xC0 => 2,
            c if c & 0xF0 == 0xE0 => 3,
            c if c & 0xF8 == 0xF0 => 4,
            _ => 1,
        };
        self.i += width;
        self.col += 1;
    }
    /// Past the line break here.
    fn skip_line(&mut self) {
        self.i += self.brk(self.i).max(1);
        self.line += 1;
        self.col = 0;
    }
    fn doc_marker(&self) -> bool {
        self.col == 0
            && (self.b[self.i..].starts_with(b"---") || self.b[self.i..].starts_with(b"..."))
            && self.blankz(self.i + 3)
    }

    fn check(&self) -> Deep {
        if self.indents.len() + self.flow > self.limit {
            return Err(self.line + 1);
        }
        Ok(())
    }
    fn roll(&mut self, col: usize) -> Deep {
        let col = col as isize;
        if self.flow == 0 && self.indent < col {
            self.indents.push(self.indent);
            self.indent = col;
        }
        self.check()
    }
    fn unroll(&mut self, col: isize) {
        if self.flow == 0 {
            while self.indent > col {
                self.indent = self.indents.pop().unwrap_or(-1);
            }
        }
    }
    fn save_key(&mut self) {
        if self.allowed && self.flow == 0 {
            self.key = Some(Key {
                line: self.line,
                index: self.i,
                col: self.col,
            });
        }
    }
    /// `remove_simple_key` at the current flow level (only level 0's is tracked).
    fn remove_key(&mut self) {
        if self.flow == 0 {
            self.key = None;
        }
    }

    fn run(&mut self) -> Deep {
        loop {
            self.skip_to_next_token();
            if let Some(k) = self.key
                && (k.line < self.line || k.index + 1024 < self.i)
            {
                self.key = None;
            }
            self.unroll(self.col as isize);
            if self.eof() {
                return Ok(());
            }
            self.token()?;
        }
    }

    /// `yaml_parser_scan_to_next_token`: spaces, comments, line breaks.
    fn skip_to_next_token(&mut self) {
        loop {
            // `yaml_serde` sets the encoding, so libyaml's reader leaves a leading byte order
            // mark to the scanner, which skips it as one column.
            if self.col == 0 && self.b[self.i.min(self.b.len())..].starts_with(b"\xEF\xBB\xBF") {
                self.skip();
            }
            while self.c() == b' ' || ((self.flow > 0 || !self.allowed) && self.c() == b'\t') {
                self.skip();
            }
            if self.c() == b'#' {
                self.skip_to_line_end();
            }
            if self.brk(self.i) == 0 {
                return;
            }
            self.skip_line();
            if self.flow == 0 {
                self.allowed = true;
            }
        }
    }

    fn skip_to_line_end(&mut self) {
        while !self.eof() && self.brk(self.i) == 0 {
            self.skip();
        }
    }

    /// One token, as `yaml_parser_fetch_next_token` picks it.
    fn token(&mut self) -> Deep {
        let (c, next_blankz) = (self.c(), self.blankz(self.i + 1));
        if self.col == 0 && (c == b'%' || self.doc_marker()) {
            // A directive or document marker: the block collections end.
            self.unroll(-1);
            self.remove_key();
            self.allowed = false;
            if c == b'%' {
                self.skip_to_line_end();
            } else {
                (0..3).for_each(|_| self.skip());
            }
            return Ok(());
        }
        match c {
            b'[' | b'{' => {
                self.save_key();
                self.flow += 1;
                self.allowed = true;
                self.skip();
                return self.check();
            }
            b']' | b'}' => {
                self.remove_key();
                self.flow = self.flow.saturating_sub(1);
                self.allowed = false;
                self.skip();
            }
            b',' => {
                self.remove_key();
                self.allowed = true;
                self.skip();
            }
            b'-' if next_blankz => {
                self.roll(self.col)?;
                self.remove_key();
                self.allowed = true;
                self.skip();
            }
            b'?' if self.flow > 0 || next_blankz => {
                self.roll(self.col)?;
                self.remove_key();
                self.allowed = self.flow == 0;
                self.skip();
            }
            b':' if self.flow > 0 || next_blankz => self.value()?,
            b'*' | b'&' => {
                self.save_key();
                self.allowed = false;
                self.skip();
                while self.c().is_ascii_alphanumeric() || matches!(self.c(), b'_' | b'-') {
                    self.skip();
                }
            }
            b'!' => {
                self.save_key();
                self.allowed = false;
                self.tag();
            }
            b'|' | b'>' if self.flow == 0 => {
                self.remove_key();
                self.allowed = true;
                self.block_scalar();
            }
            b'\'' | b'"' => {
                self.save_key();
                self.allowed = false;
                self.quoted(c);
            }
            _ if self.plain_start() => {
                self.save_key();
                self.allowed = false;
                self.plain();
            }
            // libyaml stops here ("cannot start any token"); going on only reads more.
            _ => self.skip(),
        }
        Ok(())
    }

    /// `yaml_parser_fetch_value`: a simple key before it opens a block mapping at its column.
    fn value(&mut self) -> Deep {
        if self.flow == 0 {
            match self.key.take() {
                Some(k) => {
                    self.roll(k.col)?;
                    self.allowed = false;
                }
                None => {
                    self.roll(self.col)?;
                    self.allowed = true;
                }
            }
        } else {
            self.allowed = false;
        }
        self.skip();
        Ok(())
    }

    fn plain_start(&self) -> bool {
        let c = self.c();
        let indicator = b"-?:,[]{}#&*!|>'\"%@`".contains(&c);
        !(self.blankz(self.i) || indicator)
            || (c == b'-' && !self.blank(self.i + 1))
            || (self.flow == 0 && matches!(c, b'?' | b':') && !self.blankz(self.i + 1))
    }

    /// `yaml_parser_scan_plain_scalar`: words, and the lines that continue them.
    fn plain(&mut self) {
        let indent = self.indent + 1;
        let mut leading_break = false;
        loop {
            if self.doc_marker() || self.c() == b'#' {
                break;
            }
            while !self.blankz(self.i) {
                let c = self.c();
                if self.flow > 0 && c == b':' && b",?[]{}".contains(&self.at(self.i + 1)) {
                    return; // libyaml: "found unexpected ':'"
                }
                if (c == b':' && self.blankz(self.i + 1))
                    || (self.flow > 0 && b",[]{}".contains(&c))
                {
                    break;
                }
                self.skip();
            }
            if !(self.blank(self.i) || self.brk(self.i) > 0) {
                break;
            }
            while self.blank(self.i) || self.brk(self.i) > 0 {
                if self.blank(self.i) {
                    self.skip();
                } else {
                    self.skip_line();
                    leading_break = true;
                }
            }
            if self.flow == 0 && (self.col as isize) < indent {
                break;
            }
        }
        if leading_break {
            self.allowed = true;
        }
    }

    /// `yaml_parser_scan_flow_scalar`: up to the closing quote, across lines.
    fn quoted(&mut self, quote: u8) {
        let single = quote == b'\'';
        self.skip();
        loop {
            if self.doc_marker() || self.c() == 0 {
                return; // libyaml: an error (a document marker, the end, a NUL)
            }
            while !self.blankz(self.i) {
                let c = self.c();
                if single && c == b'\'' && self.at(self.i + 1) == b'\'' {
                    self.skip();
                    self.skip();
                } else if c == quote {
                    break;
                } else if !single && c == b'\\' && self.brk(self.i + 1) > 0 {
                    self.skip();
                    self.skip_line();
                    break;
                } else if !single && c == b'\\' {
                    self.skip();
                    self.skip();
                } else {
                    self.skip();
                }
            }
            if self.c() == quote {
                self.skip();
                return;
            }
            while self.blank(self.i) || self.brk(self.i) > 0 {
                if self.blank(self.i) {
                    self.skip();
                } else {
                    self.skip_line();
                }
            }
        }
    }

    /// `yaml_parser_scan_block_scalar`: the header, then every line indented enough.
    fn block_scalar(&mut self) {
        self.skip();
        let mut increment = 0;
        for _ in 0..2 {
            match self.c() {
                b'+' | b'-' => self.skip(),
                d @ b'1'..=b'9' => {
                    increment = isize::from(d - b'0');
                    self.skip();
                }
                _ => break,
            }
        }
        while self.blank(self.i) {
            self.skip();
        }
        if self.c() == b'#' {
            self.skip_to_line_end();
        }
        if self.brk(self.i) == 0 {
            return; // libyaml: an error unless at the end
        }
        self.skip_line();
        let mut indent = match increment {
            0 => 0,
            n if self.indent >= 0 => self.indent + n,
            n => n,
        };
        self.block_breaks(&mut indent);
        while self.col as isize == indent && !self.eof() {
            self.skip_to_line_end();
            if self.brk(self.i) > 0 {
                self.skip_line();
            }
            self.block_breaks(&mut indent);
        }
    }

    /// `yaml_parser_scan_block_scalar_breaks`: indentation and empty lines; settles the
    /// scalar's indentation from its first line when it has no indicator.
    fn block_breaks(&mut self, indent: &mut isize) {
        let mut max = 0;
        loop {
            while (*indent == 0 || (self.col as isize) < *indent) && self.c() == b' ' {
                self.skip();
            }
            max = max.max(self.col as isize);
            if self.brk(self.i) == 0 {
                break;
            }
            self.skip_line();
        }
        if *indent == 0 {
            *indent = max.max(self.indent + 1).max(1);
        }
    }

    /// `yaml_parser_scan_tag`: `!<verbatim>` or `!handle!suffix`.
    fn tag(&mut self) {
        const URI: &[u8] = b";/?:@&=+$.%!~*'()_-";
        self.skip();
        let verbatim = self.c() == b'<';
        if verbatim {
            self.skip();
        }
        while self.c().is_ascii_alphanumeric()
            || URI.contains(&self.c())
            || (verbatim && b",[]".contains(&self.c()))
        {
            self.skip();
        }
        if verbatim && self.c() == b'>' {
            self.skip();
        }
    }
}

#[cfg(test)]
mod tests;
