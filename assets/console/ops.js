// The operations editor: operations grouped by tag, filters, selection, inline tool name /
// description / scopes edits checked against the server's naming rules, the save bar with the
// live tool count and tool-list size, and the mapping built from all of it.

import { h, replace, uid, fmtBytes, fmtTokens, badge } from './util.js';

/** VS Code sends at most this many tools per request. */
export const MAX_CLIENT_TOOLS = 128;

const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'];

/** `[["a","b"],["c"]]` -> `a b | c` (both a and b, or c), as `rest2mcp inspect` prints them. */
export function scopesText(alternatives) {
  return (alternatives || []).map((alt) => alt.join(' ')).join(' | ');
}

function parseScopes(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** The include rule that selects exactly this operation. */
export function includeRule(op) {
  return op.operation_id ? { operation_id: op.operation_id } : { path: op.path, method: op.method };
}

/** The server's tool naming rules from `auth-config.naming`. */
export function namingRules(naming) {
  let re = /^[A-Za-z0-9_-]{1,64}$/;
  try { if (naming?.pattern) re = new RegExp(naming.pattern); } catch { /* keep the default */ }
  return { re, pattern: naming?.pattern || re.source, maxLen: naming?.max_len || 64 };
}

function diagText(d) {
  return typeof d === 'string' ? d : (d?.message || JSON.stringify(d));
}

function makeItem(op) {
  const skipped = op.tool == null;
  const scopes = scopesText(op.scopes);
  return {
    op,
    skipped,
    selected: !skipped && !!op.selected,
    name: op.tool || '',
    description: op.description_override || '',
    scopes,
    scopesInitial: scopes,
    nameError: '',
    scopesError: '',
    els: {},
  };
}

/** The key of the operation in the mapping's `tools`: its operationId, else its tool name. */
function toolKey(item, tools) {
  const { op } = item;
  if (op.operation_id) return op.operation_id;
  if (op.name_override) {
    const found = Object.entries(tools).find(([, t]) => t && t.name === op.name_override);
    if (found) return found[0];
  }
  return op.tool;
}

export function opsEditor({ operations, naming, readOnly = false, onChange = () => {} }) {
  const rules = namingRules(naming);
  const items = operations.map(makeItem);
  let touched = false; // any edit by the user since the editor was drawn
  const tags = [...new Set(items.map((i) => i.op.tags?.[0] || 'untagged'))];
  const methods = [...new Set(items.map((i) => i.op.method.toUpperCase()))]
    .sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b));

  // ---- filters
  const filterText = h('input', { type: 'search', placeholder: 'Path, tool, summary…', 'data-testid': 'filter-text', autocomplete: 'off' });
  const tagSel = h('select', { 'data-testid': 'filter-tag' }, h('option', { value: '' }, 'All tags'), tags.map((t) => h('option', { value: t }, t)));
  const methodSel = h('select', { 'data-testid': 'filter-method' }, h('option', { value: '' }, 'All methods'), methods.map((m) => h('option', { value: m }, m)));
  const selectShown = h('button', { type: 'button', class: 'btn btn-small', disabled: readOnly, 'data-testid': 'select-shown' }, 'Select shown');
  const clearShown = h('button', { type: 'button', class: 'btn btn-small', disabled: readOnly, 'data-testid': 'clear-shown' }, 'Deselect shown');
  const filters = h('div', { class: 'filters', role: 'search' },
    fieldInline('Filter', filterText), fieldInline('Tag', tagSel), fieldInline('Method', methodSel),
    h('div', { class: 'filter-actions' }, selectShown, clearShown));
  const emptyMsg = h('p', { class: 'hint empty', hidden: true }, 'No operation matches the filters.');

  // ---- groups and rows
  const groups = tags.map((tag) => {
    const members = items.filter((i) => (i.op.tags?.[0] || 'untagged') === tag);
    const box = h('input', { type: 'checkbox', 'data-testid': 'tag-select', 'aria-label': `Select every operation tagged ${tag}`, disabled: readOnly || members.every((i) => i.skipped) });
    const count = h('span', { class: 'tag-count' });
    const list = h('ul', { class: 'op-list' }, members.map((item) => renderRow(item)));
    const cols = h('div', { class: 'op-cols', 'aria-hidden': 'true' }, h('span', {}, 'Operation'), h('span', {}, 'Tool name'), h('span', {}, 'Marks · input schema'));
    const el = h('section', { class: 'tag-group', 'data-testid': 'tag-group', dataset: { tag } },
      h('div', { class: 'tag-head' }, box, h('h3', {}, tag), count), cols, list);
    box.addEventListener('change', () => {
      for (const i of members) if (!i.skipped) setSelected(i, box.checked);
      touched = true;
      refresh();
    });
    return { tag, members, box, count, el };
  });

  function renderRow(item) {
    const { op } = item;
    const method = op.method.toUpperCase();
    const cbId = uid('op');
    const cb = h('input', { type: 'checkbox', id: cbId, class: 'op-check', checked: item.selected, disabled: readOnly || item.skipped, 'data-testid': 'op-select' });
    cb.addEventListener('change', () => { item.selected = cb.checked; touched = true; refresh(); });
    const head = h('div', { class: 'op-head' }, cb,
      h('label', { for: cbId, class: 'op-label' },
        h('span', { class: `method method-${method.toLowerCase()}` }, method),
        h('code', { class: 'op-path' }, op.path)),
      op.summary ? h('p', { class: 'op-summary' }, op.summary) : null);
    const marks = h('div', { class: 'op-marks' },
      op.read_only ? badge('read-only', 'ok', 'Does not change anything (GET/HEAD)') : null,
      op.destructive ? badge('destructive', 'danger', 'Deletes or overwrites data') : null,
      item.skipped ? null : h('span', { class: 'op-size', title: 'Input schema size and estimated token cost' },
        `${fmtBytes(op.schema_bytes || 0)} · ${fmtTokens(op.schema_bytes || 0)}`));
    const row = h('li', { class: `op${item.skipped ? ' op-skipped' : ''}`, 'data-testid': 'op-row', dataset: { op: op.operation_id || '', method, path: op.path } }, head);
    item.els = { row, cb };
    if (item.skipped) {
      const reasons = (op.diagnostics || []).map(diagText);
      row.append(h('p', { class: 'op-skip-reason' }, badge('skipped', 'warn'), ' ', reasons.join('; ') || 'This operation cannot become a tool.'), marks);
      return row;
    }
    const errId = uid('err');
    const nameInput = h('input', {
      class: 'tool-name', value: item.name, disabled: readOnly, spellcheck: 'false', autocomplete: 'off',
      'aria-label': `Tool name for ${method} ${op.path}`, 'aria-describedby': errId, 'data-testid': 'tool-name',
    });
    nameInput.addEventListener('input', () => { item.name = nameInput.value; touched = true; refresh(); });
    const nameError = h('p', { class: 'field-error', id: errId, 'data-testid': 'tool-name-error' });
    const desc = h('textarea', { rows: 2, value: item.description, disabled: readOnly, placeholder: op.description || op.summary || '', 'data-testid': 'tool-description' });
    desc.addEventListener('input', () => { item.description = desc.value; touched = true; onChange(); });
    const scopeErrId = uid('err');
    const scopes = h('input', { value: item.scopes, disabled: readOnly, spellcheck: 'false', 'aria-describedby': scopeErrId, 'data-testid': 'tool-scopes' });
    scopes.addEventListener('input', () => { item.scopes = scopes.value; touched = true; refresh(); });
    const scopesError = h('p', { class: 'field-error', id: scopeErrId });
    const tool = h('div', { class: 'op-tool' },
      h('span', { class: 'mini-label', 'aria-hidden': 'true' }, 'Tool name'), nameInput, nameError);
    const more = h('details', { class: 'op-more' },
      h('summary', {}, 'Description and scopes'),
      h('div', { class: 'op-more-body' },
        fieldBlock('Tool description', desc, 'Empty: the spec’s own description is used.'),
        fieldBlock('Required scopes', scopes, `Space-separated; a caller needs all of them. From the spec: ${item.scopesInitial || 'none'} (“a b | c”: a and b, or c).`),
        scopesError));
    row.append(tool, marks, more);
    Object.assign(item.els, { nameInput, nameError, scopes, scopesError });
    return row;
  }

  function setSelected(item, on) {
    item.selected = on;
    if (item.els.cb) item.els.cb.checked = on;
  }

  // ---- validation, counts, filters
  function validate() {
    const counts = new Map();
    for (const i of items) if (i.selected) counts.set(i.name, (counts.get(i.name) || 0) + 1);
    for (const i of items) {
      if (i.skipped) continue;
      let msg = '';
      if (i.selected) {
        if (!i.name) msg = 'A tool needs a name.';
        else if (i.name.length > rules.maxLen) msg = `At most ${rules.maxLen} characters (this is ${i.name.length}).`;
        else if (!rules.re.test(i.name)) msg = `Not allowed by the server’s naming rule ${rules.pattern}: letters, digits, _ and - only.`;
        else if (counts.get(i.name) > 1) msg = `Another selected tool is also named “${i.name}”.`;
      }
      i.nameError = msg;
      i.scopesError = i.selected && i.scopes.includes('|') && i.scopes !== i.scopesInitial
        ? 'Only one set of scopes can be set here (all required): remove the “|”.' : '';
      const { nameInput, nameError, scopes, scopesError } = i.els;
      if (!nameInput) continue;
      nameError.textContent = i.nameError;
      setInvalid(nameInput, i.nameError);
      scopesError.textContent = i.scopesError;
      setInvalid(scopes, i.scopesError);
      i.els.row.classList.toggle('op-selected', i.selected);
      i.els.row.classList.toggle('op-invalid', !!(i.nameError || i.scopesError));
    }
  }

  function matches(item) {
    const q = filterText.value.trim().toLowerCase();
    if (tagSel.value && (item.op.tags?.[0] || 'untagged') !== tagSel.value) return false;
    if (methodSel.value && item.op.method.toUpperCase() !== methodSel.value) return false;
    if (!q) return true;
    const { op } = item;
    return [op.method, op.path, op.summary, op.operation_id, item.name, op.description]
      .some((s) => s && String(s).toLowerCase().includes(q));
  }

  function applyFilters() {
    let shown = 0;
    for (const g of groups) {
      let visible = 0;
      for (const i of g.members) {
        const ok = matches(i);
        i.els.row.hidden = !ok;
        if (ok) visible += 1;
      }
      g.el.hidden = visible === 0;
      shown += visible;
    }
    emptyMsg.hidden = shown > 0;
  }

  function refresh() {
    validate();
    for (const g of groups) {
      const selectable = g.members.filter((i) => !i.skipped);
      const on = selectable.filter((i) => i.selected).length;
      g.box.checked = selectable.length > 0 && on === selectable.length;
      g.box.indeterminate = on > 0 && on < selectable.length;
      g.count.textContent = `${on} of ${g.members.length} selected`;
    }
    onChange();
  }

  for (const ctl of [filterText, tagSel, methodSel]) ctl.addEventListener('input', applyFilters);
  const bulk = (on) => {
    for (const i of items) if (!i.skipped && !i.els.row.hidden) setSelected(i, on);
    touched = true;
    refresh();
  };
  selectShown.addEventListener('click', () => bulk(true));
  clearShown.addEventListener('click', () => bulk(false));

  const el = h('div', { class: 'ops', 'data-testid': 'ops' }, filters, emptyMsg, groups.map((g) => g.el));
  refresh();

  return {
    el,
    items,
    stats() {
      const sel = items.filter((i) => i.selected);
      return {
        selected: sel.length,
        selectable: items.filter((i) => !i.skipped).length,
        total: items.length,
        bytes: sel.reduce((sum, i) => sum + (i.op.schema_bytes || 0), 0),
      };
    },
    errors: () => items.filter((i) => i.selected && (i.nameError || i.scopesError)).length,
    isDirty: () => touched,
    focusFirstError() {
      const bad = items.find((i) => i.selected && (i.nameError || i.scopesError));
      if (!bad) return;
      bad.els.row.hidden = false;
      if (bad.scopesError) { bad.els.row.querySelector('details').open = true; bad.els.scopes.focus(); } else bad.els.nameInput.focus();
    },
    /** The mapping: `base` (the API's current mapping, or {} for a new API) with this selection. */
    buildMapping(base, mode) {
      const m = structuredClone(base || {});
      const existing = Object.keys(m).length > 0;
      m.include = items.filter((i) => i.selected).map((i) => includeRule(i.op));
      if (existing) m.exclude = [];
      const tools = { ...(m.tools || {}) };
      for (const i of items) {
        if (i.skipped || !i.selected) continue;
        const key = toolKey(i, tools);
        const entry = { ...(tools[key] || {}) };
        if (i.name !== i.op.tool || i.op.name_override) entry.name = i.name; else delete entry.name;
        if (i.description.trim()) entry.description = i.description.trim(); else delete entry.description;
        if (i.scopes !== i.scopesInitial) entry.scopes = parseScopes(i.scopes);
        if (Object.keys(entry).length) tools[key] = entry; else delete tools[key];
      }
      if (Object.keys(tools).length || m.tools) m.tools = tools;
      m.mode = mode;
      return m;
    },
  };
}

function setInvalid(control, message) {
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

function fieldInline(labelText, control) {
  const id = uid('flt');
  control.id = id;
  return h('div', { class: 'field field-inline' }, h('label', { for: id }, labelText), control);
}

function fieldBlock(labelText, control, hint) {
  const id = uid('fld');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), hintEl.id].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), control, hintEl);
}

/**
 * The bar under the operations: live count and tool-list size, the 128-tool warning, the
 * large-API mode toggle and the save button.
 */
export function saveBar({ mode = 'tools', readOnly = false, saveLabel = 'Save', onSave, onModeChange = () => {} }) {
  const count = h('strong', { 'data-testid': 'selected-count' }, '0');
  const of = h('span');
  const size = h('span', { 'data-testid': 'toollist-size' });
  const stats = h('p', { class: 'savebar-stats', 'aria-live': 'polite' }, count, of, h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · '), size);
  const modeBox = h('input', { type: 'checkbox', checked: mode === 'search', disabled: readOnly, 'data-testid': 'mode-search' });
  const modeId = uid('mode');
  modeBox.id = modeId;
  const modeToggle = h('div', { class: 'switch' }, modeBox,
    h('label', { for: modeId }, 'Large-API mode ', h('span', { class: 'hint-inline' }, '(mode: search)')));
  const useSearch = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'use-search-mode' }, 'Use large-API mode');
  const warn = h('div', { class: 'notice notice-warn savebar-warn', hidden: true, role: 'status', 'data-testid': 'too-many-warning' },
    h('p', {}, `More than ${MAX_CLIENT_TOOLS} tools: VS Code sends at most ${MAX_CLIENT_TOOLS} tools per request, so some would never reach the model. `,
      'Large-API mode serves a search tool instead, through which clients find and call the others.'), useSearch);
  const searchNote = h('p', { class: 'hint savebar-note', hidden: true }, 'Large-API mode: clients load a search tool instead of the whole list.');
  const problems = h('p', { class: 'field-error savebar-problems', 'data-testid': 'save-problems' });
  const save = h('button', { type: 'button', class: 'btn btn-primary', disabled: readOnly, 'data-testid': 'save' }, saveLabel);
  let currentMode = mode;
  let onProblemClick = null;

  modeBox.addEventListener('change', () => { currentMode = modeBox.checked ? 'search' : 'tools'; onModeChange(currentMode); });
  useSearch.addEventListener('click', () => { modeBox.checked = true; currentMode = 'search'; onModeChange(currentMode); modeBox.focus(); });
  save.addEventListener('click', () => onSave());
  problems.addEventListener('click', () => onProblemClick && onProblemClick());

  const el = h('div', { class: 'savebar', 'data-testid': 'savebar' },
    warn,
    h('div', { class: 'savebar-row' }, h('div', { class: 'savebar-info' }, stats, searchNote, problems), modeToggle, save));

  return {
    el,
    get mode() { return currentMode; },
    setBusy(busy) { save.disabled = busy || readOnly; save.setAttribute('aria-busy', busy ? 'true' : 'false'); },
    update({ selected, selectable, bytes }, errors, focusError) {
      count.textContent = String(selected);
      of.textContent = ` of ${selectable} tool${selectable === 1 ? '' : 's'} selected`;
      size.textContent = `tool list ${fmtBytes(bytes)}, ${fmtTokens(bytes)}`;
      warn.hidden = !(selected > MAX_CLIENT_TOOLS && currentMode !== 'search');
      searchNote.hidden = currentMode !== 'search';
      let msg = '';
      if (readOnly) msg = '';
      else if (errors) msg = `${errors} tool${errors === 1 ? '' : 's'} to fix before saving.`;
      else if (!selected) msg = 'Select at least one operation.';
      replace(problems, msg);
      onProblemClick = errors ? focusError : null;
      problems.classList.toggle('clickable', !!errors);
      save.disabled = readOnly || !!errors || !selected;
    },
  };
}
