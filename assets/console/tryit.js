// "Try it": list an API's tools through its real MCP endpoint, fill a tool's arguments in a form
// generated from its input schema (or as raw JSON), call it and show the result.

import { listTools, callTool, McpHttpError } from './client.js';
import { h, replace, uid, errorText, badge, field } from './util.js';

/** Follows a local `$ref` (e.g. `#/$defs/Pet`) inside the tool's input schema. */
function deref(schema, root) {
  let s = schema;
  for (let i = 0; i < 8 && s && typeof s.$ref === 'string' && s.$ref.startsWith('#'); i += 1) {
    let v = root;
    for (const part of s.$ref.slice(1).split('/').filter(Boolean)) v = v?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!v) break;
    s = { ...v, ...(s.description ? { description: s.description } : {}) };
  }
  return s || {};
}

function schemaType(s) {
  let t = s.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') || t[0];
  if (s.enum) return 'enum';
  if (t) return t;
  if (s.properties) return 'object';
  if (s.items) return 'array';
  return 'json';
}

/** One form control for one argument: `read()` gives {set, value} or throws; `write(v)` fills it. */
function argField(key, schema, required) {
  const type = schemaType(schema);
  const hint = [schema.description, typeHint(type, schema)].filter(Boolean).join(' · ');
  let control;
  let read;
  let write;
  const id = uid('arg');
  if (type === 'enum' || type === 'boolean') {
    const values = type === 'enum' ? schema.enum : [true, false];
    control = h('select', { id }, h('option', { value: '' }, '(not set)'),
      values.map((v, i) => h('option', { value: String(i) }, typeof v === 'string' ? v : JSON.stringify(v))));
    read = () => (control.value === '' ? { set: false } : { set: true, value: values[Number(control.value)] });
    write = (v) => {
      const i = values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));
      control.value = i < 0 ? '' : String(i);
    };
  } else if (type === 'string' || type === 'integer' || type === 'number') {
    const numeric = type !== 'string';
    control = h('input', { id, type: numeric ? 'number' : 'text', step: type === 'integer' ? '1' : (numeric ? 'any' : null), inputmode: type === 'integer' ? 'numeric' : null, autocomplete: 'off', spellcheck: 'false' });
    if (schema.default !== undefined) control.placeholder = String(schema.default);
    read = () => {
      const raw = control.value;
      if (raw === '') return { set: false };
      if (!numeric) return { set: true, value: raw };
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw new Error(`${key}: expected ${type === 'integer' ? 'an integer' : 'a number'}`);
      return { set: true, value: n };
    };
    write = (v) => { control.value = v == null ? '' : String(v); };
  } else {
    control = h('textarea', { id, rows: 3, class: 'code-input', spellcheck: 'false', placeholder: type === 'array' ? '[]' : '{}' });
    read = () => {
      if (!control.value.trim()) return { set: false };
      try { return { set: true, value: JSON.parse(control.value) }; } catch (err) { throw new Error(`${key}: not valid JSON (${err.message})`); }
    };
    write = (v) => { control.value = v === undefined ? '' : JSON.stringify(v, null, 2); };
  }
  control.dataset.testid = `arg-${key}`;
  if (required) control.required = true;
  const label = h('span', {}, key, required ? h('span', { class: 'req', title: 'required' }, ' *') : null);
  return { key, required, el: field(label, control, hint || null), read, write };
}

function typeHint(type, s) {
  if (type === 'enum') return 'one of the listed values';
  if (type === 'array' || type === 'object' || type === 'json') return `${type === 'json' ? 'any' : type}, as JSON`;
  return [type, s.format].filter(Boolean).join(', ');
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

export function tryIt({ name, isProtected }) {
  let tools = [];
  let fields = [];
  let token = '';

  const status = h('div', { class: 'tryit-status', 'aria-live': 'polite', 'data-testid': 'tryit-status' });
  const toolSel = h('select', { 'data-testid': 'tryit-tool', disabled: true });
  const toolDesc = h('p', { class: 'hint tool-desc' });
  const formBox = h('div', { class: 'arg-form', 'data-testid': 'tryit-form' });
  const rawId = uid('raw');
  const raw = h('textarea', { id: rawId, class: 'code-input', rows: 8, spellcheck: 'false', 'data-testid': 'tryit-raw' });
  const rawBox = h('div', { class: 'field', hidden: true }, h('label', { for: rawId }, 'Arguments (JSON object)'), raw);
  const rawToggle = h('input', { type: 'checkbox', 'data-testid': 'tryit-raw-toggle' });
  const rawToggleId = uid('rawtoggle');
  rawToggle.id = rawToggleId;
  const callBtn = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true, 'data-testid': 'tryit-call' }, 'Call tool');
  const result = h('div', { class: 'tryit-result', 'aria-live': 'polite', 'data-testid': 'tryit-result' });

  let tokenBox = null;
  if (isProtected) {
    const tokenInput = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'tryit-token' });
    const reload = h('button', { type: 'button', class: 'btn' }, 'Use token and reload tools');
    reload.addEventListener('click', () => { token = tokenInput.value.trim(); load(); });
    tokenBox = h('div', { class: 'notice' },
      field('Bearer token for this API', tokenInput,
        'Protected API: sent as Authorization: Bearer, kept in this tab’s memory only. Leave it empty to see what a client without a token gets.'),
      reload);
  }

  function collectForm() {
    const args = {};
    for (const f of fields) {
      const { set, value } = f.read();
      if (set) args[f.key] = value;
      else if (f.required) throw new Error(`${f.key} is required`);
    }
    return args;
  }

  function collectRaw() {
    let args;
    try { args = JSON.parse(raw.value || '{}'); } catch (err) { throw new Error(`Arguments are not valid JSON: ${err.message}`); }
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw new Error('Arguments must be a JSON object');
    return args;
  }

  const collect = () => (rawToggle.checked ? collectRaw() : collectForm());

  function renderForm() {
    const tool = tools.find((t) => t.name === toolSel.value);
    replace(result);
    if (!tool) { replace(formBox); fields = []; return; }
    toolDesc.textContent = tool.description || '';
    const schema = tool.inputSchema || { type: 'object' };
    const required = new Set(schema.required || []);
    fields = Object.entries(schema.properties || {}).map(([k, s]) => argField(k, deref(s, schema), required.has(k)));
    replace(formBox, fields.length ? fields.map((f) => f.el) : h('p', { class: 'hint' }, 'This tool takes no arguments.'));
    raw.value = '{}';
  }

  rawToggle.addEventListener('change', () => {
    // Carry the arguments over between the two views (partial ones too).
    try {
      if (rawToggle.checked) {
        const args = {};
        for (const f of fields) {
          try { const { set, value } = f.read(); if (set) args[f.key] = value; } catch { /* left out */ }
        }
        raw.value = JSON.stringify(args, null, 2);
      } else {
        const args = collectRaw();
        for (const f of fields) f.write(args[f.key]);
      }
    } catch (err) {
      replace(status, h('p', { class: 'field-error' }, errorText(err)));
    }
    rawBox.hidden = !rawToggle.checked;
    formBox.hidden = rawToggle.checked;
  });

  toolSel.addEventListener('change', renderForm);

  function showHttpError(err) {
    const parts = [h('p', {}, h('strong', {}, `HTTP ${err.status}`), err.status === 401
      ? ' — a client without a valid token gets this; it reads the metadata and signs the user in.'
      : err.status === 403 ? ' — the token lacks a scope this needs; clients ask for more scopes.' : '')];
    if (err.wwwAuthenticate) parts.push(h('p', {}, 'WWW-Authenticate:'), h('pre', { class: 'code wrap', 'data-testid': 'www-authenticate' }, err.wwwAuthenticate));
    else parts.push(h('p', { class: 'diag-msg' }, errorText(err)));
    return h('div', { class: 'notice notice-error', role: 'alert' }, parts);
  }

  async function load() {
    replace(status, h('p', { class: 'hint' }, 'Loading tools…'));
    toolSel.disabled = true;
    callBtn.disabled = true;
    try {
      tools = await listTools(name, token);
      replace(toolSel, tools.length ? null : h('option', { value: '' }, '(no tools)'),
        tools.map((t) => h('option', { value: t.name }, t.name)));
      replace(status, h('p', { class: 'hint' }, `${tools.length} tool${tools.length === 1 ? '' : 's'} from tools/list on /mcp/${name}.`));
      toolSel.disabled = !tools.length;
      callBtn.disabled = !tools.length;
      form.hidden = false;
      renderForm();
    } catch (err) {
      tools = [];
      replace(toolSel);
      replace(formBox);
      form.hidden = true;
      replace(status, err instanceof McpHttpError ? showHttpError(err) : h('p', { class: 'field-error' }, errorText(err)));
    }
  }

  async function call(e) {
    e.preventDefault();
    let args;
    try { args = collect(); } catch (err) {
      replace(result, h('p', { class: 'field-error', role: 'alert' }, errorText(err)));
      return;
    }
    callBtn.disabled = true;
    replace(result, h('p', { class: 'hint' }, `Calling ${toolSel.value}…`));
    const started = performance.now();
    try {
      const res = await callTool(name, toolSel.value, args, token);
      const ms = Math.round(performance.now() - started);
      const texts = (res.content || []).map((c) => (c.type === 'text' ? c.text : `[${c.type} content]`));
      replace(result, h('div', { class: `result ${res.isError ? 'result-error' : 'result-ok'}` },
        h('div', { class: 'result-head' }, res.isError ? badge('isError: true', 'danger') : badge('OK', 'ok'), h('span', { class: 'hint' }, ` ${ms} ms`)),
        texts.length ? [h('h4', {}, 'Text content'), h('pre', { class: 'code', 'data-testid': 'tryit-text' }, pretty(texts.join('\n')))] : null,
        res.structuredContent !== undefined ? [h('h4', {}, 'structuredContent'), h('pre', { class: 'code', 'data-testid': 'tryit-structured' }, JSON.stringify(res.structuredContent, null, 2))] : null,
        h('details', {}, h('summary', {}, 'Whole result'), h('pre', { class: 'code' }, JSON.stringify(res, null, 2)))));
    } catch (err) {
      replace(result, err instanceof McpHttpError ? showHttpError(err) : h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, errorText(err))));
    } finally {
      callBtn.disabled = false;
    }
  }

  const form = h('form', { class: 'tryit-form', novalidate: true, onsubmit: call },
    field('Tool', toolSel), toolDesc,
    h('div', { class: 'switch' }, rawToggle, h('label', { for: rawToggleId }, 'Edit the arguments as raw JSON')),
    formBox, rawBox, h('div', { class: 'actions' }, callBtn));

  const el = h('div', { class: 'tryit', 'data-testid': 'tryit' },
    h('p', { class: 'hint' }, `Calls go through the real MCP endpoint /mcp/${name}, as a client’s would.`),
    tokenBox, status, form, result);
  load();
  return el;
}
