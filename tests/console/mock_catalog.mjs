// The mock gateway's model of "operations become tools": reads an OpenAPI document, applies a
// mapping (include/exclude/tools/mode), reports skipped operations, diffs two tool lists, and
// answers tool calls from a small in-memory pet store. Mirrors README "How operations become
// tools" closely enough for the console; not the real rules in every corner.

import { parseYaml } from './mini_yaml.mjs';

export class HttpError extends Error {
  constructor(status, message, extra = {}) { super(message); this.status = status; this.extra = extra; }
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAPPING_KEYS = ['base_url', 'include', 'exclude', 'tools', 'output_schemas', 'mode', 'auth', 'downstream', 'title'];
const RULE_KEYS = ['operation_id', 'tag', 'path', 'method'];
const TOOL_KEYS = ['name', 'description', 'title', 'scopes', 'output_schema'];

/** The document of a spec text (JSON or YAML), or a 422 that says why not. */
export function parseSpec(text) {
  let doc;
  try {
    doc = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new HttpError(422, `the document cannot be read: ${e.message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || !(typeof doc.openapi === 'string' || doc.swagger)) {
    throw new HttpError(422, 'not an OpenAPI document: no `openapi` (3.x) or `swagger` (2.0) version field at the top level');
  }
  return doc;
}

/** Checks a mapping's shape; unknown fields are refused (400), like the real admin API. */
export function validateMapping(m) {
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new HttpError(400, 'the mapping must be a JSON object');
  for (const k of Object.keys(m)) if (!MAPPING_KEYS.includes(k)) throw new HttpError(400, `unknown field \`${k}\` in the mapping`);
  for (const list of ['include', 'exclude']) {
    if (m[list] === undefined) continue;
    if (!Array.isArray(m[list])) throw new HttpError(400, `\`${list}\` must be a list of rules`);
    for (const rule of m[list]) for (const k of Object.keys(rule || {})) if (!RULE_KEYS.includes(k)) throw new HttpError(400, `unknown field \`${k}\` in an ${list} rule`);
  }
  for (const [key, t] of Object.entries(m.tools || {})) {
    for (const k of Object.keys(t || {})) if (!TOOL_KEYS.includes(k)) throw new HttpError(400, `unknown field \`${k}\` in tools.${key}`);
    if (t.scopes !== undefined && !(Array.isArray(t.scopes) && t.scopes.every((s) => typeof s === 'string'))) throw new HttpError(400, `tools.${key}.scopes must be a list of strings`);
  }
  if (m.mode !== undefined && !['tools', 'search'].includes(m.mode)) throw new HttpError(400, '`mode` is `tools` or `search`');
  return m;
}

function pointer(root, ref) {
  let v = root;
  for (const part of ref.replace(/^#\/?/, '').split('/').filter((s) => s !== '')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v == null || typeof v !== 'object' || !(key in v)) return undefined;
    v = v[key];
  }
  return v;
}

function deref(root, v) {
  for (let i = 0; i < 32; i += 1) {
    if (!v || typeof v !== 'object' || typeof v.$ref !== 'string') return v;
    const r = v.$ref;
    if (!r.startsWith('#')) throw new Error(`external $ref \`${r}\` is not supported (only references inside the document)`);
    const next = pointer(root, r);
    if (next === undefined) throw new Error(`$ref \`${r}\` does not point at anything in the document`);
    v = next;
  }
  throw new Error('$ref chain longer than 32 links (a cycle?)');
}

/** A schema with every $ref inlined (recursion cut at depth 6). */
function inline(root, schema, depth = 0) {
  if (Array.isArray(schema)) return schema.map((s) => inline(root, s, depth));
  if (!schema || typeof schema !== 'object') return schema;
  if (depth > 6) return {};
  const s = deref(root, schema);
  const out = {};
  for (const [k, v] of Object.entries(s)) out[k] = k === 'enum' || k === 'required' || k === 'example' ? v : inline(root, v, depth + 1);
  return out;
}

function generatedName(method, p, operationId) {
  if (operationId) return operationId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  const segs = p.split('/').filter(Boolean).map((s) => s.replace(/[{}]/g, '').replace(/[^A-Za-z0-9_-]/g, '_'));
  return [method, ...segs].join('_').slice(0, 64);
}

function glob(pattern, s) {
  const re = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*');
  return new RegExp(`^${re}$`).test(s);
}

function ruleMatches(rule, op) {
  if (rule.operation_id != null && !glob(String(rule.operation_id), op.operation_id || '')) return false;
  if (rule.tag != null && !(op.tags || []).includes(rule.tag)) return false;
  if (rule.path != null && rule.path !== op.path && !glob(String(rule.path), op.path)) return false;
  if (rule.method != null && ![].concat(rule.method).map((m) => String(m).toUpperCase()).includes(op.method)) return false;
  return true;
}

/** One operation: its input schema, or the reason it is skipped. */
function readOperation(doc, p, item, method) {
  const op = item[method];
  const params = [...(item.parameters || []), ...(op.parameters || [])].map((x) => deref(doc, x));
  const properties = {};
  const required = [];
  for (const prm of params) {
    properties[prm.name] = { ...inline(doc, prm.schema || { type: 'string' }), ...(prm.description ? { description: prm.description } : {}) };
    if (prm.required || prm.in === 'path') required.push(prm.name);
  }
  if (op.requestBody) {
    const rb = deref(doc, op.requestBody);
    const content = rb.content || {};
    if (content['multipart/form-data'] && !content['application/json']) throw new Error('multipart/form-data request bodies are not supported yet');
    const media = content['application/json'] || Object.values(content)[0];
    const schema = inline(doc, media?.schema || {});
    if (schema.type === 'object' && schema.properties) {
      Object.assign(properties, schema.properties);
      if (rb.required) required.push(...(schema.required || []));
    } else {
      properties.body = schema;
      if (rb.required) required.push('body');
    }
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
}

/** Operations, tools and diagnostics of a document under a mapping. */
export function buildCatalog(doc, mapping = {}, naming = null) {
  const include = mapping.include || [];
  const exclude = mapping.exclude || [];
  const overrides = mapping.tools || {};
  const operations = [];
  const tools = [];
  const diagnostics = [];
  const used = new Set();
  if (!doc.paths || typeof doc.paths !== 'object') {
    diagnostics.push({ operation: 'document', message: 'the document has no `paths`: no operations to expose', skipped: false });
  }
  for (const [p, rawItem] of Object.entries(doc.paths || {})) {
    let item;
    try { item = deref(doc, rawItem); } catch (e) {
      diagnostics.push({ operation: `* ${p}`, message: `path item skipped: ${e.message}`, skipped: true });
      continue;
    }
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const M = method.toUpperCase();
      const label = `${M} ${p}`;
      const base = {
        method: M, path: p, operation_id: op.operationId || null, tags: op.tags || [], summary: op.summary || null,
        description: op.description || null, read_only: M === 'GET' || M === 'HEAD', destructive: M === 'DELETE',
      };
      let inputSchema;
      try { inputSchema = readOperation(doc, p, item, method); } catch (e) {
        diagnostics.push({ operation: label, message: e.message, skipped: true });
        operations.push({ ...base, tool: null, selected: false, diagnostics: [{ message: e.message, skipped: true }], schema_bytes: 0, scopes: [], description_override: null, name_override: null });
        continue;
      }
      const gen = generatedName(method, p, op.operationId);
      const ov = overrides[op.operationId] || overrides[gen] || {};
      const selected = (include.length === 0 || include.some((r) => ruleMatches(r, base))) && !exclude.some((r) => ruleMatches(r, base));
      let name = ov.name || gen;
      if (selected && used.has(name) && !ov.name) {
        let i = 2;
        while (used.has(`${gen}_${i}`)) i += 1;
        name = `${gen}_${i}`;
        diagnostics.push({ operation: label, message: `tool name \`${gen}\` is taken: named \`${name}\``, skipped: false });
      }
      const security = op.security ?? doc.security ?? [];
      const scopes = ov.scopes ? [ov.scopes] : security.map((req) => Object.values(req).flat()).filter((alt) => alt.length);
      const description = ov.description || op.description || op.summary || '';
      operations.push({
        ...base, tool: name, selected, diagnostics: [], schema_bytes: JSON.stringify(inputSchema).length, scopes,
        description_override: ov.description || null, name_override: ov.name || null,
      });
      if (!selected) continue;
      if (naming && (!new RegExp(naming.pattern).test(name) || name.length > naming.max_len)) {
        throw new HttpError(422, `tool name \`${name}\` is not allowed: it must match ${naming.pattern}`, { diagnostics: [{ operation: label, message: `tool name \`${name}\` does not match ${naming.pattern}`, skipped: false }] });
      }
      if (used.has(name)) {
        throw new HttpError(422, `two tools are named \`${name}\``, { diagnostics: [{ operation: label, message: `tool name \`${name}\` is used by another tool`, skipped: false }] });
      }
      used.add(name);
      tools.push({
        name, title: op.summary, description, inputSchema, opId: op.operationId, method: M, path: p,
        annotations: { title: op.summary, readOnlyHint: base.read_only, destructiveHint: base.destructive, idempotentHint: M === 'PUT' || M === 'DELETE' },
      });
    }
  }
  return { title: doc.info?.title || 'API', operations, tools, diagnostics };
}

/** added / removed / changed tools between two tool lists, breaking ones marked. */
export function diffTools(oldTools, newTools) {
  const before = new Map(oldTools.map((t) => [t.name, t]));
  const after = new Map(newTools.map((t) => [t.name, t]));
  const added = [];
  const removed = [];
  const changed = [];
  for (const [n] of after) if (!before.has(n)) added.push({ tool: n, breaking: false, changes: ['new tool'] });
  for (const [n] of before) if (!after.has(n)) removed.push({ tool: n, breaking: true, changes: ['tool removed'] });
  for (const [n, a] of after) {
    const b = before.get(n);
    if (!b) continue;
    const changes = [];
    let breaking = false;
    const req0 = new Set(b.inputSchema.required || []);
    for (const r of a.inputSchema.required || []) if (!req0.has(r)) { changes.push(`input schema: new required argument \`${r}\``); breaking = true; }
    for (const k of Object.keys(b.inputSchema.properties || {})) if (!(k in (a.inputSchema.properties || {}))) { changes.push(`input schema: argument \`${k}\` removed`); breaking = true; }
    if (a.description !== b.description) changes.push('description changed');
    if (changes.length) changed.push({ tool: n, breaking, changes });
  }
  return { breaking: removed.length > 0 || changed.some((c) => c.breaking), added, removed, changed };
}

// ---------------------------------------------------------------- fake backend

const pets = [{ id: 1, name: 'Rex', tag: 'dog' }, { id: 2, name: 'Tom', tag: 'cat' }];

function typeOk(schema, v) {
  const t = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (!schema.type) return true;
  if (v === null) return t.includes('null') || schema.nullable === true;
  return t.some((x) => (x === 'integer' ? Number.isInteger(v) : x === 'number' ? typeof v === 'number'
    : x === 'array' ? Array.isArray(v) : x === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === x));
}

function result(data, isError = false) {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  const out = { content: [{ type: 'text', text }], isError };
  if (!isError && data && typeof data === 'object' && !Array.isArray(data)) out.structuredContent = data;
  return out;
}

/** A tools/call answer: arguments checked against the schema, then the pet store acts. */
export function callFakeTool(tool, args) {
  const props = tool.inputSchema.properties || {};
  for (const k of Object.keys(args)) if (!(k in props)) return result(`invalid arguments: unknown argument \`${k}\``, true);
  for (const r of tool.inputSchema.required || []) if (!(r in args)) return result(`invalid arguments: missing required argument \`${r}\``, true);
  for (const [k, v] of Object.entries(args)) {
    if (!typeOk(props[k], v)) return result(`invalid arguments: \`${k}\` must be ${[].concat(props[k].type).join(' or ')}, got ${JSON.stringify(v)}`, true);
  }
  switch (tool.opId) {
    case 'listPets': {
      let list = pets.filter((p) => !args.tag || p.tag === args.tag);
      if (args.limit) list = list.slice(0, args.limit);
      return result(list);
    }
    case 'getPet': {
      const pet = pets.find((p) => p.id === args.petId);
      return pet ? result(pet) : result('upstream answered 404 Not Found: {"message":"no such pet"}', true);
    }
    case 'createPet': {
      const pet = { id: Math.max(0, ...pets.map((p) => p.id)) + 1, name: args.name, tag: args.tag ?? null };
      pets.push(pet);
      return result(pet);
    }
    case 'deletePet': {
      const i = pets.findIndex((p) => p.id === args.petId);
      if (i < 0) return result('upstream answered 404 Not Found: {"message":"no such pet"}', true);
      pets.splice(i, 1);
      return result('');
    }
    default:
      return result({ called: tool.opId || tool.name, method: tool.method, path: tool.path, arguments: args });
  }
}
