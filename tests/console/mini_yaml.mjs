// A small YAML reader for the mock server: block mappings and sequences, flow collections
// ({a: b}, [a, b]), quoted and plain scalars, comments, `|` and `>` block scalars. Enough for
// OpenAPI documents like specs/petstore.yaml; not a full YAML implementation.

export function parseYaml(text) {
  const lines = [];
  text.replace(/\r\n?/g, '\n').split('\n').forEach((raw, i) => {
    if (/^\s*(---|\.\.\.)\s*$/.test(raw)) return;
    const content = stripComment(raw);
    if (!content.trim()) { lines.push({ blank: true, raw, n: i + 1 }); return; }
    lines.push({ indent: content.match(/^ */)[0].length, text: content.trim(), raw, n: i + 1 });
  });
  const p = { lines, i: 0 };
  skipBlank(p);
  if (p.i >= lines.length) return null;
  const value = parseNode(p, lines[p.i].indent);
  skipBlank(p);
  if (p.i < lines.length) throw new Error(`YAML: unexpected content at line ${lines[p.i].n}`);
  return value;
}

function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:[{,-]/.test(line[i - 1])) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).replace(/\s+$/, '');
    }
  }
  return line.replace(/\s+$/, '');
}

function skipBlank(p) {
  while (p.i < p.lines.length && p.lines[p.i].blank) p.i += 1;
}

function parseNode(p, indent) {
  skipBlank(p);
  const line = p.lines[p.i];
  if (line.text.startsWith('- ') || line.text === '-') return parseSeq(p, line.indent);
  return parseMap(p, line.indent);
}

/** Index of the `:` ending a mapping key in `s`, or -1. */
function keyColon(s) {
  let depth = 0;
  let quote = null;
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i];
    if (quote) { if (c === quote) quote = null; continue; }
    if ((c === '"' || c === "'") && i === 0) { quote = c; continue; }
    if (c === '[' || c === '{') { if (i === 0) return -1; depth += 1; }
    if (c === ']' || c === '}') depth -= 1;
    if (c === ':' && depth <= 0 && (i === s.length - 1 || s[i + 1] === ' ')) return i;
  }
  return -1;
}

function parseMap(p, indent) {
  const out = {};
  while (p.i < p.lines.length) {
    skipBlank(p);
    const line = p.lines[p.i];
    if (!line || line.indent < indent) break;
    if (line.indent > indent) throw new Error(`YAML: bad indentation at line ${line.n}`);
    if (line.text.startsWith('- ')) break;
    const at = keyColon(line.text);
    if (at < 0) throw new Error(`YAML: expected "key: value" at line ${line.n}`);
    const key = unquote(line.text.slice(0, at).trim());
    const rest = line.text.slice(at + 1).trim();
    p.i += 1;
    out[key] = valueAfterKey(p, rest, indent, line);
  }
  return out;
}

function valueAfterKey(p, rest, indent, line) {
  if (rest === '|' || rest === '>' || /^[|>][-+]?$/.test(rest)) return blockScalar(p, indent, rest[0]);
  if (rest) return flowOrScalar(p, rest, line);
  skipBlank(p);
  const next = p.lines[p.i];
  if (!next) return null;
  if (next.indent > indent) return parseNode(p, next.indent);
  if (next.indent === indent && (next.text.startsWith('- ') || next.text === '-')) return parseSeq(p, indent);
  return null;
}

function parseSeq(p, indent) {
  const out = [];
  while (p.i < p.lines.length) {
    skipBlank(p);
    const line = p.lines[p.i];
    if (!line || line.indent !== indent || !(line.text.startsWith('- ') || line.text === '-')) break;
    const rest = line.text.slice(1).trim();
    if (!rest) {
      p.i += 1;
      skipBlank(p);
      out.push(p.lines[p.i] && p.lines[p.i].indent > indent ? parseNode(p, p.lines[p.i].indent) : null);
    } else if (keyColon(rest) > 0 && !/^[[{]/.test(rest)) {
      // "- key: value" starts a mapping whose keys are indented like `key`
      const inner = indent + (line.text.length - rest.length);
      p.lines[p.i] = { indent: inner, text: rest, n: line.n };
      out.push(parseMap(p, inner));
    } else {
      p.i += 1;
      out.push(flowOrScalar(p, rest, line));
    }
  }
  return out;
}

function blockScalar(p, indent, style) {
  const parts = [];
  let blockIndent = null;
  while (p.i < p.lines.length) {
    const line = p.lines[p.i];
    if (!line.blank && line.indent <= indent) break;
    if (!line.blank && blockIndent == null) blockIndent = line.indent;
    parts.push(line.blank ? '' : line.raw.slice(blockIndent));
    p.i += 1;
  }
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return style === '|' ? `${parts.join('\n')}\n` : `${parts.join(' ')}\n`;
}

function flowOrScalar(p, text, line) {
  if (text[0] === '[' || text[0] === '{') {
    let s = text;
    while (!balanced(s) && p.i < p.lines.length) { s += ` ${p.lines[p.i].text || ''}`; p.i += 1; }
    const f = { s, i: 0, n: line.n };
    const v = flowValue(f);
    return v;
  }
  return scalar(text);
}

function balanced(s) {
  let depth = 0;
  let quote = null;
  for (const c of s) {
    if (quote) { if (c === quote) quote = null; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth += 1;
    else if (c === ']' || c === '}') depth -= 1;
  }
  return depth === 0;
}

function ws(f) { while (f.i < f.s.length && /\s/.test(f.s[f.i])) f.i += 1; }

function flowValue(f) {
  ws(f);
  const c = f.s[f.i];
  if (c === '{') {
    f.i += 1;
    const out = {};
    for (;;) {
      ws(f);
      if (f.s[f.i] === '}') { f.i += 1; return out; }
      const key = flowScalar(f, ':');
      if (f.s[f.i] !== ':') throw new Error(`YAML: expected ":" in flow mapping at line ${f.n}`);
      f.i += 1;
      out[key] = flowValue(f);
      ws(f);
      if (f.s[f.i] === ',') f.i += 1;
    }
  }
  if (c === '[') {
    f.i += 1;
    const out = [];
    for (;;) {
      ws(f);
      if (f.s[f.i] === ']') { f.i += 1; return out; }
      out.push(flowValue(f));
      ws(f);
      if (f.s[f.i] === ',') f.i += 1;
    }
  }
  const raw = flowScalar(f, '');
  return typeof raw === 'string' && f.quoted ? raw : scalar(raw);
}

function flowScalar(f, stopAlso) {
  ws(f);
  f.quoted = false;
  const q = f.s[f.i];
  if (q === '"' || q === "'") {
    const end = f.s.indexOf(q, f.i + 1);
    if (end < 0) throw new Error(`YAML: unterminated string at line ${f.n}`);
    const v = unquote(f.s.slice(f.i, end + 1));
    f.i = end + 1;
    ws(f);
    f.quoted = true;
    return v;
  }
  let start = f.i;
  while (f.i < f.s.length && !',]}'.includes(f.s[f.i]) && !(stopAlso && f.s[f.i] === ':' && /[\s]/.test(f.s[f.i + 1] || ' '))) f.i += 1;
  return f.s.slice(start, f.i).trim();
}

function unquote(s) {
  if (s.length >= 2 && s[0] === "'" && s[s.length - 1] === "'") return s.slice(1, -1).replace(/''/g, "'");
  if (s.length >= 2 && s[0] === '"' && s[s.length - 1] === '"') return JSON.parse(s);
  return s;
}

function scalar(s) {
  if (s[0] === '"' || s[0] === "'") return unquote(s);
  if (s === 'null' || s === '~' || s === '') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^-?\d*\.\d+([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}
