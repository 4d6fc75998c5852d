// Small DOM and formatting helpers shared by the console modules.
// No inline styles anywhere: the page runs under `style-src 'self'`, so looks come from classes.

let idCounter = 0;

/** A unique element id, for label/for and aria-describedby pairs. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * Creates an element. attrs: `class`, `dataset`, `on<event>` handlers, DOM properties
 * (value, checked, disabled, hidden, indeterminate, selected, textContent) and plain attributes.
 * Children: nodes, strings, arrays of them; null/false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, val] of Object.entries(attrs || {})) {
    if (val == null || val === false) continue;
    if (key === 'style') throw new Error('inline styles are blocked by the CSP; use a class');
    if (key === 'class') el.className = val;
    else if (key === 'dataset') Object.assign(el.dataset, val);
    else if (key.startsWith('on') && typeof val === 'function') el.addEventListener(key.slice(2), val);
    else if (PROPS.has(key)) el[key] = val;
    else el.setAttribute(key, val === true ? '' : String(val));
  }
  append(el, children);
  return el;
}

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'indeterminate', 'selected', 'textContent', 'open']);

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The estimated token cost of a JSON schema: about one token per four bytes. */
export function tokens(bytes) {
  return Math.round(bytes / 4);
}

export function fmtTokens(bytes) {
  return `~${tokens(bytes).toLocaleString('en-US')} tokens`;
}

export function fmtDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? '') : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Shows a short message in the live region at the bottom of the page. */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.append(item);
  while (region.children.length > 2) region.firstElementChild.remove(); // the newest two only
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4000);
}

/** Copies text to the clipboard; falls back to selecting a hidden textarea. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    return ok;
  }
}

/** A button that copies `getText()` and says so. */
export function copyButton(getText, label = 'Copy', attrs = {}) {
  const btn = h('button', { type: 'button', class: 'btn btn-small', ...attrs }, label);
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { btn.textContent = label; }, 1600);
  });
  return btn;
}

/** A badge: small rounded label. */
export function badge(text, kind = '', title) {
  return h('span', { class: `badge ${kind ? `badge-${kind}` : ''}`, title }, text);
}

/** A labelled form field: returns the wrapper; the control gets the id. */
export function field(labelText, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    const described = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', described ? `${described} ${hintEl.id}` : hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), control, hintEl);
}

export function errorText(err) {
  if (!err) return '';
  return err.message || String(err);
}
