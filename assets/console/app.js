// rest2mcp console: sign-in, the API list, the new-API flow and the per-API pages
// (operations, connect, try it, versions). Talks only to the admin API and /mcp/{name}.

import { admin, credential, onUnauthorized, finishOAuth, startOAuth, ApiError } from './client.js';
import { h, replace, field, badge, toast, errorText } from './util.js';
import { specInput, suggestName, renderDiagnostics, renderError } from './spec.js';
import { opsEditor, saveBar } from './ops.js';
import { tryIt } from './tryit.js';
import { renderConnect, renderVersions, reviewAndApply } from './views.js';

const API_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

const state = {
  authConfig: null,
  session: null,
  apis: [],
  lastSave: null, // {name, result} of the last save, shown once on the connect page
  shownHash: '', // the route on screen
  unsaved: null, // () => true while the page on screen holds work that leaving would lose
};

const LEAVE = 'Leave this page? Your unsaved changes to the tools will be lost.';

const $ = (id) => document.getElementById(id);
const main = () => $('main');

// ---------------------------------------------------------------- start and sign-in

async function boot() {
  onUnauthorized(() => {
    if (!state.session) return;
    state.session = null;
    credential.clear();
    renderSignIn('Your admin session is no longer valid: sign in again.');
  });
  $('sign-out').addEventListener('click', signOut);
  document.querySelector('.skip-link').addEventListener('click', (e) => { e.preventDefault(); main().focus(); });
  window.addEventListener('hashchange', navigate);
  window.addEventListener('beforeunload', (e) => { if (state.unsaved?.()) e.preventDefault(); });
  try {
    state.authConfig = await admin.authConfig();
  } catch (err) {
    replace(main(), h('div', { class: 'card narrow' }, h('h1', {}, 'Cannot reach the admin API'),
      h('p', { class: 'diag-msg' }, errorText(err)),
      h('p', { class: 'hint' }, 'Start the gateway with the admin API on (serve --admin) and reload.')));
    return;
  }
  try {
    const token = await finishOAuth(state.authConfig.oauth);
    if (token) credential.set(token, 'oauth');
  } catch (err) {
    renderSignIn(errorText(err));
    return;
  }
  if (credential.token) {
    try {
      const session = await admin.session(credential.token);
      await enterApp(session);
      return;
    } catch (err) {
      credential.clear();
      renderSignIn(err.status === 401 ? 'Your admin session has expired: sign in again.' : errorText(err));
      return;
    }
  }
  renderSignIn();
}

function renderSignIn(message) {
  state.session = null;
  $('sidebar').hidden = true;
  $('user').hidden = true;
  document.body.classList.add('signed-out');
  const cfg = state.authConfig || {};
  const msg = message ? h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'signin-error' }, message) : null;
  let tokenForm = null;
  if (cfg.token !== false) {
    const input = h('input', { type: 'password', autocomplete: 'current-password', spellcheck: 'false', required: true, 'data-testid': 'admin-token' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'sign-in' }, 'Sign in');
    tokenForm = h('form', { class: 'stack', novalidate: true }, field('Admin token', input,
      'REST2MCP_ADMIN_TOKEN, or the admin-token file in the data directory (written on first run). Kept in this tab only.'),
    h('div', { class: 'actions' }, submit));
    tokenForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) { input.focus(); return; }
      submit.disabled = true;
      try {
        const session = await admin.session(token);
        credential.set(token, 'token');
        await enterApp(session);
      } catch (err) {
        submit.disabled = false;
        renderSignIn(err.status === 401 ? 'That token was not accepted.' : errorText(err));
      }
    });
  }
  let oauthBlock = null;
  if (cfg.oauth) {
    let host = cfg.oauth.issuer;
    try { host = new URL(cfg.oauth.issuer).host; } catch { /* keep the issuer */ }
    const btn = h('button', { type: 'button', class: `btn ${tokenForm ? '' : 'btn-primary'}`, 'data-testid': 'sign-in-oauth' }, `Sign in with ${host}`);
    btn.addEventListener('click', () => startOAuth(cfg.oauth).catch((err) => renderSignIn(errorText(err))));
    oauthBlock = h('div', { class: 'stack' }, tokenForm ? h('p', { class: 'divider' }, 'or') : null, btn);
  }
  replace(main(), h('div', { class: 'card narrow signin' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'lead' }, 'Publish REST APIs as MCP servers: upload an OpenAPI spec, choose the tools, connect your clients.'),
    msg, tokenForm, oauthBlock));
  main().querySelector('input, button')?.focus();
}

async function enterApp(session) {
  state.session = session;
  document.body.classList.remove('signed-out');
  $('user').hidden = false;
  $('user-label').textContent = session.via === 'oauth'
    ? `Signed in as ${session.subject || 'OAuth user'}` : 'Signed in with the admin token';
  $('sidebar').hidden = false;
  await refreshApis();
  await route();
}

function signOut() {
  if (state.unsaved?.() && !window.confirm(LEAVE)) return;
  state.unsaved = null;
  credential.clear();
  state.session = null;
  history.replaceState(null, '', `${location.pathname}`);
  renderSignIn();
}

// ---------------------------------------------------------------- API list

async function refreshApis() {
  try {
    state.apis = await admin.apis();
  } catch (err) {
    if (err.status !== 401) toast(`Could not list the APIs: ${errorText(err)}`, 'error');
  }
  renderSidebar();
}

function renderSidebar() {
  const current = parseRoute();
  const items = state.apis.map((api) => {
    const active = current?.view === 'api' && current.name === api.name;
    return h('li', {}, h('a', { href: `#/api/${encodeURIComponent(api.name)}`, class: 'api-link', 'aria-current': active ? 'page' : null, 'data-testid': 'api-link', dataset: { name: api.name } },
      h('span', { class: 'api-name' }, api.name),
      h('span', { class: 'api-meta' }, `${api.tools} tool${api.tools === 1 ? '' : 's'}`,
        api.source === 'config' ? badge('config', '', 'Defined in the config file: read-only here') : null,
        api.protected ? badge('protected', 'info', 'OAuth protected') : null,
        api.mode === 'search' ? badge('search', '', 'Large-API mode') : null,
        api.last_reload && api.last_reload !== 'ok' ? badge('reload failed', 'danger', api.last_reload) : null)));
  });
  replace($('sidebar'),
    h('div', { class: 'sidebar-head' }, h('h2', {}, 'APIs'),
      h('a', { href: '#/new', class: 'btn btn-small btn-primary', 'data-testid': 'new-api', 'aria-current': current?.view === 'new' ? 'page' : null }, '+ New API')),
    items.length ? h('ul', { class: 'api-list' }, items) : h('p', { class: 'hint' }, 'None yet.'));
}

// ---------------------------------------------------------------- routing

function parseRoute() {
  const hash = location.hash;
  if (!hash.startsWith('#/')) return null;
  const parts = hash.slice(2).split('/').filter(Boolean).map(decodeURIComponent);
  if (!parts.length) return { view: 'home' };
  if (parts[0] === 'new') return { view: 'new' };
  if (parts[0] === 'api' && parts[1]) return { view: 'api', name: parts[1], tab: parts[2] || 'operations' };
  return { view: 'home' };
}

async function route() {
  if (!state.session) return;
  const r = parseRoute();
  if (!r) { if (!location.hash) await renderHome(); return; } // e.g. the skip link's #main
  state.shownHash = location.hash;
  state.unsaved = null;
  renderSidebar();
  if (r.view === 'new') renderNew();
  else if (r.view === 'api') await renderApi(r.name, r.tab);
  else await renderHome();
}

/**
 * A navigation by the user: draws the page, then puts the focus back on the link that was used
 * (the sidebar and tabs are drawn anew), unless the page focused something itself.
 */
async function navigate() {
  if (parseRoute() && state.unsaved?.() && !window.confirm(LEAVE)) {
    history.replaceState(null, '', state.shownHash || '#/');
    return;
  }
  const before = document.activeElement;
  const testid = before?.dataset?.testid;
  const name = before?.dataset?.name;
  await route();
  const now = document.activeElement;
  if (now && now !== document.body && main().contains(now) && !now.matches('.tab')) return;
  const again = testid && document.querySelector(`[data-testid="${CSS.escape(testid)}"]${name ? `[data-name="${CSS.escape(name)}"]` : ''}`);
  (again || main()).focus({ preventScroll: !!again });
}

/** Navigates; resolves once the page is drawn when the hash is already the current one. */
function go(hash) {
  if (location.hash === hash) return route();
  location.hash = hash;
  return Promise.resolve();
}

async function renderHome() {
  replace(main(), h('div', { class: 'empty-state' },
    h('h1', {}, state.apis.length ? 'Choose an API' : 'No APIs yet'),
    h('p', { class: 'lead' }, state.apis.length
      ? 'Pick one on the left to choose its tools, connect a client or try a call, or publish a new one.'
      : 'Upload an OpenAPI document to publish its operations as MCP tools.'),
    h('a', { class: 'btn btn-primary', href: '#/new' }, 'New API')));
}

// ---------------------------------------------------------------- new API

function renderNew() {
  let analyzed = null; // {text, name, result}
  let editor = null;
  let bar = null;

  const nameInput = h('input', { autocomplete: 'off', spellcheck: 'false', 'data-testid': 'api-name', placeholder: 'pets' });
  const nameError = h('p', { class: 'field-error', id: 'api-name-error' });
  nameInput.setAttribute('aria-describedby', 'api-name-error');
  const validName = () => {
    const v = nameInput.value.trim();
    const msg = !v ? '' : API_NAME_RE.test(v) ? '' : 'Letters, digits, “.”, “_” and “-” only (at most 64).';
    nameError.textContent = msg;
    if (msg) nameInput.setAttribute('aria-invalid', 'true'); else nameInput.removeAttribute('aria-invalid');
    return !!v && !msg;
  };
  nameInput.addEventListener('input', validName);

  const spec = specInput({
    allowUrl: state.authConfig?.fetch_url === true,
    onLoaded: (text, label) => {
      if (!nameInput.value.trim()) nameInput.value = suggestName(label);
      if (validName()) analyze();
    },
  });
  const check = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'check-spec' }, 'Check spec');
  check.addEventListener('click', analyze);
  const errorBox = h('div', { hidden: true, 'data-testid': 'spec-errors' });
  const diagBox = h('div', { hidden: true, class: 'diagnostics', 'data-testid': 'diagnostics' });
  const existsNote = h('div', { class: 'notice', hidden: true });
  const opsCard = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'tools-title' });
  state.unsaved = () => !!analyzed;

  replace(main(), h('div', { class: 'page' },
    h('h1', {}, 'New API'),
    h('p', { class: 'lead' }, 'Its operations become MCP tools at /mcp/<name>. Nothing is served until you save.'),
    h('section', { class: 'card', 'aria-labelledby': 'spec-title' },
      h('h2', { id: 'spec-title' }, h('span', { class: 'step' }, '1'), ' Spec and name'),
      field('API name', nameInput, 'Served at /mcp/<name>. Letters, digits, “.”, “_” and “-”.'), nameError,
      spec.el, h('div', { class: 'actions' }, check)),
    errorBox, diagBox, existsNote, opsCard));
  nameInput.focus();

  async function analyze() {
    const text = spec.text();
    const name = nameInput.value.trim();
    if (!validName()) { nameError.textContent ||= 'Name the API first.'; nameInput.focus(); return; }
    if (!text.trim()) { renderError(errorBox, new Error('Choose, drop or paste an OpenAPI document first.')); return; }
    check.disabled = true;
    errorBox.hidden = true;
    try {
      let result;
      try {
        result = await admin.putSpec(name, text, null, { dryRun: true });
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && err.body?.operations) result = err.body; // breaking vs the existing API
        else throw err;
      }
      analyzed = { text, name, result };
      renderDiagnostics(diagBox, result.diagnostics || []);
      showOps(result);
    } catch (err) {
      analyzed = null;
      opsCard.hidden = true;
      diagBox.hidden = true;
      renderError(errorBox, err); // role=alert: read out as it appears
    } finally {
      check.disabled = false;
    }
  }

  function showOps(result) {
    const exists = state.apis.find((a) => a.name === analyzed.name);
    existsNote.hidden = !exists;
    replace(existsNote, `An API named “${analyzed.name}” exists: saving stores a new version of it, and you review the changes first.`);
    editor = opsEditor({ operations: result.operations || [], naming: state.authConfig.naming, onChange: update });
    bar = saveBar({ mode: exists?.mode || 'tools', saveLabel: exists ? 'Review and save' : 'Create API', onSave: save, onModeChange: update });
    opsCard.hidden = false;
    replace(opsCard, h('h2', { id: 'tools-title' }, h('span', { class: 'step' }, '2'), ' Choose the tools'), editor.el, bar.el);
    update();
  }

  function update() {
    if (editor && bar) bar.update(editor.stats(), editor.errors(), () => editor.focusFirstError());
  }

  async function save() {
    const name = nameInput.value.trim();
    if (!analyzed || spec.text() !== analyzed.text || name !== analyzed.name) {
      toast('The spec or the name changed since the check: checking again.', 'info');
      await analyze();
      return;
    }
    bar.setBusy(true);
    try {
      let result;
      if (state.apis.some((a) => a.name === name)) {
        const base = await admin.mapping(name);
        const mapping = editor.buildMapping(base, bar.mode);
        result = await reviewAndApply(name, {
          dry: () => admin.putSpec(name, analyzed.text, mapping, { dryRun: true }),
          apply: (force) => admin.putSpec(name, analyzed.text, mapping, { force }),
        });
      } else {
        // One PUT with spec and mapping: the API is never served with every operation exposed.
        result = await admin.putSpec(name, analyzed.text, editor.buildMapping({}, bar.mode));
      }
      if (result) await afterSave(name, result, 'connect');
    } catch (err) {
      renderError(errorBox, err);
      errorBox.scrollIntoView({ block: 'nearest' });
      toast(`Not saved: ${errorText(err)}`, 'error');
    } finally {
      bar?.setBusy(false);
      update();
    }
  }
}

async function afterSave(name, result, tab) {
  state.lastSave = { name, result };
  state.unsaved = null;
  toast(`Saved ${name}: version ${result.version ?? '?'}, ${result.tools ?? '?'} tools.`, 'success');
  await refreshApis();
  await go(`#/api/${encodeURIComponent(name)}/${tab}`);
}

// ---------------------------------------------------------------- one API

const TABS = [['operations', 'Operations'], ['connect', 'Connect'], ['try', 'Try it'], ['versions', 'Versions']];

async function renderApi(name, tab) {
  const api = state.apis.find((a) => a.name === name);
  if (!api) {
    replace(main(), h('div', { class: 'empty-state' }, h('h1', {}, 'No such API'),
      h('p', {}, `There is no API named “${name}”.`), h('a', { class: 'btn', href: '#/' }, 'Back')));
    return;
  }
  const panel = h('section', { class: 'panel', id: 'panel', 'aria-label': TABS.find(([k]) => k === tab)?.[1] || tab });
  replace(main(), h('div', { class: 'page' },
    h('header', { class: 'api-head' },
      h('div', { class: 'api-title' }, h('h1', {}, api.name), api.title ? h('span', { class: 'api-subtitle' }, api.title) : null),
      h('div', { class: 'api-badges' },
        badge(`${api.tools} tool${api.tools === 1 ? '' : 's'}`),
        api.version != null ? badge(`version ${api.version}`) : null,
        badge(api.source === 'config' ? 'config file' : 'stored', api.source === 'config' ? '' : 'info'),
        api.protected ? badge('OAuth protected', 'info') : badge('open', ''),
        api.mode === 'search' ? badge('large-API mode') : null),
      api.last_reload && api.last_reload !== 'ok'
        ? h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', {}, 'The last change did not apply: '), api.last_reload, ' (the previous version is still served).') : null),
    h('nav', { class: 'tabs', 'aria-label': `${api.name} sections` }, TABS.map(([key, label]) =>
      h('a', { href: `#/api/${encodeURIComponent(name)}/${key}`, class: 'tab', 'aria-current': key === tab ? 'page' : null, 'data-testid': `tab-${key}` }, label))),
    panel));
  const ctx = { api, state, refreshApis, afterSave, go };
  try {
    if (tab === 'connect') await renderConnect(panel, ctx);
    else if (tab === 'try') panel.append(tryIt({ name, isProtected: !!api.protected }));
    else if (tab === 'versions') await renderVersions(panel, ctx);
    else await renderOperations(panel, ctx);
  } catch (err) {
    if (err.status !== 401) panel.append(h('div', { class: 'notice notice-error', role: 'alert' }, errorText(err)));
  }
}

async function renderOperations(panel, { api }) {
  const name = api.name;
  const readOnly = api.source === 'config';
  // A config API is only shown, so its mapping is not needed to save; a stored one's is.
  const [operations, mapping] = await Promise.all([admin.operations(name), readOnly ? admin.mapping(name).catch(() => ({})) : admin.mapping(name)]);
  if (!panel.isConnected) return; // the user went elsewhere meanwhile
  let pendingSpec = null;
  let editor;
  let bar;
  const editorBox = h('div');
  const errorBox = h('div', { hidden: true });
  const diagBox = h('div', { hidden: true, class: 'diagnostics', 'data-testid': 'diagnostics' });
  const pendingNote = h('div', { class: 'notice notice-info', hidden: true, 'data-testid': 'pending-spec' });

  const mount = (ops) => {
    editor = opsEditor({ operations: ops, naming: state.authConfig.naming, readOnly, onChange: update });
    const mode = bar ? bar.mode : initialMode;
    bar = saveBar({ mode, readOnly, saveLabel: 'Review and save', onSave: save, onModeChange: update });
    replace(editorBox, editor.el, bar.el);
    update();
  };
  function update() {
    if (editor && bar) bar.update(editor.stats(), editor.errors(), () => editor.focusFirstError());
  }

  const initialMode = mapping.mode || api.mode || 'tools';
  if (!readOnly) state.unsaved = () => !!pendingSpec || !!editor?.isDirty() || (bar && bar.mode !== initialMode);

  let upload = null;
  if (!readOnly) {
    const check = h('button', { type: 'button', class: 'btn' }, 'Check new spec');
    const spec = specInput({ allowUrl: state.authConfig?.fetch_url === true, onLoaded: () => analyze() });
    check.addEventListener('click', () => analyze());
    upload = h('details', { class: 'card upload' }, h('summary', {}, 'Upload a new spec version'),
      h('p', { class: 'hint' }, 'The current tool choices are kept; you see what changes before anything is stored.'),
      spec.el, h('div', { class: 'actions' }, check));
    async function analyze() {
      const text = spec.text();
      if (!text.trim()) return;
      errorBox.hidden = true;
      try {
        let result;
        try { result = await admin.putSpec(name, text, null, { dryRun: true }); } catch (err) {
          if (err instanceof ApiError && err.status === 409 && err.body?.operations) result = err.body; else throw err;
        }
        pendingSpec = text;
        renderDiagnostics(diagBox, result.diagnostics || []);
        pendingNote.hidden = false;
        const ops = result.operations || [];
        replace(pendingNote, `New spec “${spec.label()}” loaded: ${ops.length} operations, ${ops.filter((o) => o.selected).length} of them selected by the current tool choices. `,
          'Check the selection below, then review and save.');
        mount(result.operations || []);
      } catch (err) {
        renderError(errorBox, err);
      }
    }
  }

  async function save() {
    bar.setBusy(true);
    try {
      const m = editor.buildMapping(mapping, bar.mode);
      const result = await reviewAndApply(name, pendingSpec
        ? { dry: () => admin.putSpec(name, pendingSpec, m, { dryRun: true }), apply: (force) => admin.putSpec(name, pendingSpec, m, { force }) }
        : { dry: () => admin.putMapping(name, m, { dryRun: true }), apply: (force) => admin.putMapping(name, m, { force }) });
      if (result) await afterSave(name, result, 'operations');
    } catch (err) {
      renderError(errorBox, err);
      toast(`Not saved: ${errorText(err)}`, 'error');
    } finally {
      bar.setBusy(false);
      update();
    }
  }

  replace(panel,
    readOnly ? h('div', { class: 'notice' }, 'This API comes from the config file: it is read-only here. Change it in the config file; the tools below show what it serves.') : null,
    upload, errorBox, pendingNote, diagBox,
    h('section', { class: 'card', 'aria-labelledby': 'tools-title' }, h('h2', { id: 'tools-title' }, 'Tools'), editorBox));
  renderDiagnostics(diagBox, operations.flatMap((op) => (op.diagnostics || []).map((d) => (typeof d === 'string'
    ? { operation: `${op.method} ${op.path}`, message: d, skipped: op.tool == null }
    : { operation: `${op.method} ${op.path}`, skipped: op.tool == null, ...d }))));
  mount(operations);
}

boot();
