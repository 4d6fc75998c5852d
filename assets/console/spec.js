// Getting a spec into the page (file picker, drag and drop, paste, URL) and showing what the
// server said about it: diagnostics (skipped operations and why) and version diffs.

import { admin, ApiError } from './client.js';
import { h, replace, uid, fmtBytes, badge, errorText } from './util.js';

/**
 * The spec source widget. `onLoaded(text, sourceLabel)` runs when a file is read or a URL
 * fetched (not on every keystroke of pasted text; read `text()` for that).
 */
export function specInput({ allowUrl = false, onLoaded = () => {} } = {}) {
  let current = { text: '', label: '' };
  const fileId = uid('spec-file');
  const status = h('p', { class: 'spec-status', 'aria-live': 'polite', 'data-testid': 'spec-status' });

  const setLoaded = (text, label) => {
    current = { text, label };
    status.textContent = text ? `Loaded ${label} (${fmtBytes(new Blob([text]).size)})` : '';
  };

  const readFile = async (file) => {
    if (!file) return;
    try {
      const text = await file.text();
      paste.value = '';
      setLoaded(text, file.name);
      onLoaded(text, file.name);
    } catch (err) {
      status.textContent = `Could not read ${file.name}: ${errorText(err)}`;
    }
  };

  const fileInput = h('input', {
    type: 'file', id: fileId, class: 'file-input', 'data-testid': 'spec-file',
    accept: '.yaml,.yml,.json,application/json,application/yaml,text/yaml',
    onchange: () => readFile(fileInput.files[0]),
  });

  const drop = h('div', { class: 'dropzone', 'data-testid': 'dropzone' },
    h('p', { class: 'dropzone-text' }, 'Drop an OpenAPI document (YAML or JSON) here, or'),
    fileInput,
    h('label', { for: fileId, class: 'btn' }, 'Choose a file…'),
    status);
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('dragging'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    readFile(e.dataTransfer?.files?.[0]);
  });

  const pasteId = uid('spec-paste');
  const paste = h('textarea', {
    id: pasteId, class: 'code-input', rows: 6, spellcheck: 'false', 'data-testid': 'spec-paste',
    placeholder: 'openapi: 3.0.3\ninfo: …',
    oninput: () => setLoaded(paste.value, 'pasted text'),
  });
  const pasteField = h('div', { class: 'field' },
    h('label', { for: pasteId }, 'Or paste the document'), paste);

  let urlField = null;
  if (allowUrl) {
    const urlInput = h('input', { type: 'url', placeholder: 'https://example.com/openapi.yaml', 'data-testid': 'spec-url' });
    const urlId = uid('spec-url');
    urlInput.id = urlId;
    const fetchBtn = h('button', { type: 'button', class: 'btn' }, 'Fetch');
    fetchBtn.addEventListener('click', async () => {
      if (!urlInput.value) { urlInput.focus(); return; }
      fetchBtn.disabled = true;
      status.textContent = `Fetching ${urlInput.value}…`;
      try {
        const text = await admin.fetchUrl(urlInput.value);
        paste.value = '';
        setLoaded(text, urlInput.value);
        onLoaded(text, urlInput.value);
      } catch (err) {
        status.textContent = `Fetch failed: ${errorText(err)}`;
      } finally {
        fetchBtn.disabled = false;
      }
    });
    urlField = h('div', { class: 'field' },
      h('label', { for: urlId }, 'Or fetch it from a URL'),
      h('div', { class: 'inline-row' }, urlInput, fetchBtn),
      h('p', { class: 'hint' }, 'The server fetches it (allowed by its configuration).'));
  }

  const el = h('div', { class: 'spec-input' }, drop, pasteField, urlField);
  return { el, text: () => current.text, label: () => current.label, focus: () => fileInput.focus() };
}

/** A suggested API name from a file name or URL: its stem, in the allowed characters. */
export function suggestName(label) {
  const stem = String(label || '').split(/[/\\?#]/).filter(Boolean).pop() || '';
  return stem.replace(/\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64);
}

/** Diagnostics of a dry run or save: skipped operations first, then warnings. */
export function renderDiagnostics(container, diagnostics = []) {
  if (!diagnostics.length) {
    replace(container);
    container.hidden = true;
    return;
  }
  container.hidden = false;
  const skipped = diagnostics.filter((d) => d.skipped);
  const notes = diagnostics.filter((d) => !d.skipped);
  const list = (items) => h('ul', { class: 'diag-list' }, items.map((d) => h('li', { 'data-testid': 'diagnostic' },
    h('code', { class: 'diag-op' }, d.operation || '(spec)'), ' ', h('span', { class: 'diag-msg' }, d.message))));
  replace(container,
    skipped.length ? h('div', { class: 'notice notice-warn' },
      h('h3', {}, `${skipped.length} operation${skipped.length === 1 ? '' : 's'} skipped`),
      h('p', { class: 'hint' }, 'These cannot become tools; the rest of the spec is served.'),
      list(skipped)) : null,
    notes.length ? h('div', { class: 'notice' },
      h('h3', {}, `${notes.length} note${notes.length === 1 ? '' : 's'}`), list(notes)) : null);
}

/** A spec or mapping the server refused (422 and friends): its message and diagnostics. */
export function renderError(container, err) {
  container.hidden = false;
  const diags = err instanceof ApiError && err.body && Array.isArray(err.body.diagnostics) ? err.body.diagnostics : [];
  const inner = h('div');
  renderDiagnostics(inner, diags);
  replace(container, h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'spec-error' },
    h('h3', {}, err instanceof ApiError ? `The server refused it (${err.status})` : 'Something went wrong'),
    h('p', { class: 'diag-msg' }, errorText(err))), diags.length ? inner : null);
}

/** The diff of a version: added, removed and changed tools, breaking ones marked. */
export function renderDiff(diff) {
  const groups = [['removed', 'Removed'], ['changed', 'Changed'], ['added', 'Added']];
  const any = groups.some(([key]) => (diff?.[key] || []).length);
  if (!any) return h('p', { class: 'hint', 'data-testid': 'diff-empty' }, 'No tool is added, removed or changed.');
  return h('div', { class: 'diff', 'data-testid': 'diff' }, groups.map(([key, title]) => {
    const items = diff[key] || [];
    if (!items.length) return null;
    // "new tool" / "tool removed" alone says nothing the heading does not: those stay compact.
    const plain = (item) => (item.changes || []).every((c) => c === 'new tool' || c === 'tool removed');
    const compact = items.every(plain);
    return h('section', { class: `diff-group diff-${key}` },
      h('h3', {}, `${title} (${items.length})`),
      h('ul', { class: compact ? 'diff-compact' : '' }, items.map((item) => h('li', { class: item.breaking ? 'breaking' : '', 'data-testid': 'diff-item' },
        h('code', {}, item.tool), ' ',
        item.breaking ? badge('breaking', 'danger') : null,
        plain(item) ? null : h('ul', { class: 'diff-changes' }, item.changes.map((c) => h('li', {}, c)))))));
  }));
}
