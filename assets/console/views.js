// Per-API pages besides the operations: "Connect" (MCP URL, .vscode/mcp.json, install links,
// the sign-in a protected API asks of clients), "Versions" (rollback, delete), and the
// review dialogs (diff before saving, confirmations).

import { admin, protectedResourceMetadata, ApiError } from './client.js';
import { h, replace, badge, copyButton, fmtDate, toast, errorText, uid } from './util.js';
import { renderDiff, renderDiagnostics } from './spec.js';

// ---------------------------------------------------------------- dialogs

function dialogEl() {
  return document.getElementById('dialog');
}

/** Opens the page's <dialog> with `content` and resolves with the button value it closed with. */
function openDialog(title, content, buttons, { onReady } = {}) {
  const dlg = dialogEl();
  const titleId = uid('dlg');
  const actions = buttons.map((b) => h('button', { value: b.value, class: `btn ${b.kind ? `btn-${b.kind}` : ''}`, disabled: b.disabled, 'data-testid': b.testid }, b.label));
  replace(dlg, h('form', { method: 'dialog', class: 'dialog-body' },
    h('h2', { id: titleId }, title), content, h('div', { class: 'actions dialog-actions' }, actions)));
  dlg.setAttribute('aria-labelledby', titleId);
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue || 'cancel'), { once: true });
    dlg.showModal();
    if (onReady) onReady(actions);
  });
}

/** A yes/no question. */
export async function confirmDialog(title, body, confirmLabel, kind = 'primary') {
  const answer = await openDialog(title, h('div', {}, body), [
    { value: 'cancel', label: 'Cancel', testid: 'dialog-cancel' },
    { value: 'ok', label: confirmLabel, kind, testid: 'dialog-confirm' },
  ]);
  return answer === 'ok';
}

/**
 * Saving a new version: a dry run first, its diff shown, then the real request once the user
 * confirms; breaking changes need an explicit tick and are sent with force=true.
 * Resolves with the server's answer, or null when cancelled.
 */
export async function reviewAndApply(name, { dry, apply }) {
  let preview;
  try {
    preview = await dry();
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && err.body?.diff) preview = err.body;
    else throw err;
  }
  const breaking = !!preview.diff?.breaking;
  const diagBox = h('div', { class: 'diagnostics' });
  renderDiagnostics(diagBox, preview.diagnostics || []);
  const confirmId = uid('confirm');
  const confirm = breaking ? h('input', { type: 'checkbox', id: confirmId, 'data-testid': 'confirm-breaking' }) : null;
  const content = h('div', { class: 'review', 'data-testid': 'review' },
    h('p', {}, `After saving, ${name} serves ${preview.tools ?? '?'} tool${preview.tools === 1 ? '' : 's'}.`),
    breaking ? h('div', { class: 'notice notice-error' }, h('strong', {}, 'Breaking changes. '),
      'Clients that use the tools marked “breaking” may fail until they are updated.') : null,
    renderDiff(preview.diff || {}), diagBox,
    breaking ? h('div', { class: 'switch confirm-breaking' }, confirm,
      h('label', { for: confirmId }, 'I understand: apply these breaking changes')) : null);
  const answer = await openDialog(`Review changes to ${name}`, content, [
    { value: 'cancel', label: 'Cancel', testid: 'dialog-cancel' },
    { value: 'apply', label: breaking ? 'Apply breaking changes' : 'Apply', kind: breaking ? 'danger' : 'primary', disabled: breaking, testid: 'apply' },
  ], {
    onReady: (buttons) => {
      if (confirm) confirm.addEventListener('change', () => { buttons[1].disabled = !confirm.checked; });
    },
  });
  if (answer !== 'apply') {
    toast('Not saved.', 'info');
    return null;
  }
  return apply(breaking);
}

// ---------------------------------------------------------------- connect

export function mcpJson(name, url) {
  return JSON.stringify({ servers: { [name]: { type: 'http', url } } }, null, 2);
}

export function installLink(scheme, name, url) {
  return `${scheme}:mcp/install?${encodeURIComponent(JSON.stringify({ name, type: 'http', url }))}`;
}

export async function renderConnect(panel, { api, state }) {
  const { name } = api;
  const url = api.mcp_url;
  let saved = null;
  if (state.lastSave?.name === name) {
    const r = state.lastSave.result;
    state.lastSave = null;
    const diag = h('div');
    renderDiagnostics(diag, r.diagnostics || []);
    saved = h('div', { class: 'notice notice-success', role: 'status', 'data-testid': 'saved-banner' },
      h('strong', {}, `Saved: version ${r.version ?? '?'}, ${r.tools ?? '?'} tool${r.tools === 1 ? '' : 's'}. `),
      r.created ? 'The API is served now.' : 'The new version is served now.', diag);
  }
  const json = mcpJson(name, url);
  const urlBox = h('div', { class: 'copy-row' }, h('code', { class: 'code-inline', 'data-testid': 'mcp-url' }, url),
    copyButton(() => url, 'Copy URL', { 'data-testid': 'copy-mcp-url' }));
  replace(panel, saved,
    h('section', { class: 'card' }, h('h2', {}, 'MCP endpoint'),
      h('p', { class: 'hint' }, 'Any MCP client that speaks Streamable HTTP connects here.'), urlBox),
    h('section', { class: 'card' }, h('h2', {}, 'VS Code'),
      h('p', {}, 'Add this to ', h('code', {}, '.vscode/mcp.json'), ' in your workspace:'),
      h('pre', { class: 'code', 'data-testid': 'mcp-json' }, json),
      h('div', { class: 'actions' },
        copyButton(() => json, 'Copy mcp.json', { 'data-testid': 'copy-mcp-json', class: 'btn' }),
        h('a', { class: 'btn', href: installLink('vscode', name, url), 'data-testid': 'open-vscode' }, 'Open in VS Code'),
        h('a', { class: 'btn', href: installLink('vscode-insiders', name, url), 'data-testid': 'open-vscode-insiders' }, 'Open in VS Code Insiders'))),
    api.protected ? await protectedCard(name) : h('section', { class: 'card' }, h('h2', {}, 'Sign-in'),
      h('p', { class: 'hint' }, 'This endpoint is open: clients connect without signing in.')));
}

async function protectedCard(name) {
  const card = h('section', { class: 'card', 'data-testid': 'protected-info' }, h('h2', {}, 'Sign-in'));
  try {
    const meta = await protectedResourceMetadata(name);
    const servers = meta.authorization_servers || [];
    const scopes = meta.scopes_supported || [];
    card.append(
      h('p', {}, 'This endpoint is OAuth protected. On first use a client gets 401, reads ',
        h('code', {}, `/.well-known/oauth-protected-resource/mcp/${name}`), ' and sends the user to sign in at:'),
      h('ul', { class: 'plain-list', 'data-testid': 'authorization-servers' }, servers.map((s) => h('li', {}, h('code', {}, s)))),
      h('p', {}, 'Scopes it may ask for: ', scopes.length ? scopes.map((s) => [h('code', { class: 'scope' }, s), ' ']) : 'none'),
      meta.resource ? h('p', { class: 'hint' }, 'Tokens must carry the audience ', h('code', {}, meta.resource), '.') : null);
  } catch (err) {
    card.append(h('p', { class: 'field-error' }, `Could not read the protected resource metadata: ${errorText(err)}`));
  }
  return card;
}

// ---------------------------------------------------------------- versions

export async function renderVersions(panel, { api, refreshApis, afterSave, go }) {
  const { name } = api;
  if (api.source === 'config') {
    replace(panel, h('div', { class: 'notice' }, 'This API comes from the config file: it has no stored versions here.'));
    return;
  }
  const versions = await admin.versions(name);
  const rows = versions.map((v) => {
    let action = h('span', { class: 'hint' }, 'served now');
    if (!v.current) {
      action = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'rollback', dataset: { version: v.version }, 'aria-label': `Roll back to version ${v.version}` }, 'Roll back');
      action.addEventListener('click', () => rollback(v));
    }
    return h('tr', { class: v.current ? 'current' : '', 'data-testid': 'version-row' },
      h('td', {}, h('strong', {}, String(v.version)), v.current ? [' ', badge('current', 'ok')] : null,
        h('span', { class: 'change-inline hint' }, v.change || '')),
      h('td', {}, fmtDate(v.created)), h('td', { class: 'col-change' }, v.change || ''), h('td', { class: 'num' }, String(v.tools ?? '')), h('td', { class: 'col-action' }, action));
  });
  const del = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'delete-api' }, `Delete ${name}`);
  del.addEventListener('click', async () => {
    const ok = await confirmDialog(`Delete ${name}?`, h('p', {}, `/mcp/${name} stops serving at once, and its stored versions are removed.`), 'Delete', 'danger');
    if (!ok) return;
    try {
      await admin.remove(name);
      toast(`Deleted ${name}.`, 'success');
      await refreshApis();
      go('#/');
    } catch (err) {
      toast(`Not deleted: ${errorText(err)}`, 'error');
    }
  });

  async function rollback(v) {
    const ok = await confirmDialog(`Roll back ${name} to version ${v.version}?`,
      h('p', {}, `This stores a new version with version ${v.version}’s spec and tool choices (${v.tools ?? '?'} tools) and serves it at once.`),
      'Roll back');
    if (!ok) return;
    try {
      const result = await admin.rollback(name, v.version);
      const diff = renderDiff(result.diff || {});
      await afterSave(name, result, 'versions');
      const panelNow = document.getElementById('panel');
      panelNow?.prepend(h('div', { class: 'notice notice-success', role: 'status', 'data-testid': 'rollback-result' },
        h('strong', {}, `Rolled back: version ${result.version} serves version ${v.version}’s tools.`), diff));
    } catch (err) {
      toast(`Rollback failed: ${errorText(err)}`, 'error');
    }
  }

  replace(panel,
    h('section', { class: 'card' }, h('h2', {}, 'Versions'),
      h('p', { class: 'hint' }, 'Every save stores a version; the newest ones are kept.'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'versions', 'data-testid': 'versions' },
        h('thead', {}, h('tr', {}, [['Version'], ['Saved'], ['Change', 'col-change'], ['Tools', 'num']].map(([t, c]) => h('th', { scope: 'col', class: c }, t)),
          h('th', { scope: 'col', class: 'col-action' }, h('span', { class: 'sr-only' }, 'Action')))),
        h('tbody', {}, rows)))),
    h('section', { class: 'card danger-zone' }, h('h2', {}, 'Delete'),
      h('p', { class: 'hint' }, 'Removes the API and stops serving it.'), del));
}
