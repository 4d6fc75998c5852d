#!/usr/bin/env node
// Browser test of the rest2mcp console (assets/console), against the real gateway or the mock.
//
//   BASE=http://127.0.0.1:8080 ADMIN_TOKEN=... SPEC=specs/petstore.yaml OUT=/tmp/console-out \
//     node tests/console/console_test.mjs
//
// Drives headless Chromium through: sign-in, upload of SPEC as API `pets` with createPet left out
// and getPet renamed fetch_pet, save, the .vscode/mcp.json entry, tools/list from Node as an MCP
// client, "Try it" on fetch_pet, a breaking change reviewed and forced, rollback, a protected API's
// connect info and 401 (when the server has one), a spec with an unresolvable $ref and a file
// that is not OpenAPI. Screenshots go to OUT. Exit 0 on success, 1 with the failed step's message.
// Other env: CHROMIUM (/usr/bin/chromium), API_NAME (pets), EXPECT_MCP_URL (${BASE}/mcp/pets),
// OAUTH_TEST=1 (also sign in through auth-config.oauth; needs an authorization server that
// answers without a login page, as the mock's does), FETCH_URL (a spec URL the server may fetch,
// used when auth-config.fetch_url is true), HEADFUL=1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BASE = (process.env.BASE || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const SPEC = path.resolve(process.env.SPEC || path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'specs', 'petstore.yaml'));
const OUT = path.resolve(process.env.OUT || 'console-test-out');
const NAME = process.env.API_NAME || 'pets';
const EXPECT_URL = process.env.EXPECT_MCP_URL || `${BASE}/mcp/${NAME}`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const BROKEN_SPEC = `openapi: 3.0.3
info: {title: Broken refs, version: '1'}
servers: [{url: 'http://127.0.0.1:18080'}]
paths:
  /ok:
    get:
      operationId: okOp
      summary: Works
      responses: {'200': {description: ok}}
  /broken:
    get:
      operationId: brokenOp
      summary: Points at nothing
      parameters:
        - $ref: '#/components/parameters/DoesNotExist'
      responses: {'200': {description: ok}}
`;
const NOT_OPENAPI = `title: Shopping list
items:
  - milk
  - bread
`;

// ---------------------------------------------------------------- helpers

class StepError extends Error {}
function check(cond, message) { if (!cond) throw new StepError(message); }

let stepNo = 0;
let passed = 0;
async function step(title, fn) {
  stepNo += 1;
  const t0 = Date.now();
  try {
    const v = await fn();
    console.log(`ok ${stepNo} - ${title} (${Date.now() - t0} ms)`);
    passed += 1;
    return v;
  } catch (err) {
    console.log(`not ok ${stepNo} - ${title}`);
    err.step = title;
    throw err;
  }
}

async function adminFetch(method, p, body) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-rest2mcp-admin': '1' };
  let data;
  if (body !== undefined) {
    headers['content-type'] = body.contentType || 'application/json';
    data = body.raw ?? JSON.stringify(body.json);
  }
  const res = await fetch(`${BASE}/admin/api${p}`, { method, headers, body: data });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

/** MCP over HTTP from Node, as a client would: tools/list with every page. */
async function mcpToolNames(name, token) {
  const names = [];
  let cursor;
  for (let i = 0; i < 100; i += 1) {
    const res = await fetch(`${BASE}/mcp/${name}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'tools/list', params: cursor ? { cursor } : {} }),
    });
    const text = await res.text();
    check(res.ok, `tools/list on /mcp/${name}: HTTP ${res.status} ${text.slice(0, 200)}`);
    let msg;
    if ((res.headers.get('content-type') || '').includes('text/event-stream')) {
      const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).pop();
      msg = JSON.parse(data);
    } else msg = JSON.parse(text);
    check(!msg.error, `tools/list error: ${JSON.stringify(msg.error)}`);
    names.push(...msg.result.tools.map((t) => t.name));
    cursor = msg.result.nextCursor;
    if (!cursor) break;
  }
  return names.sort();
}

function sameList(a, b) { return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort()); }

// ---------------------------------------------------------------- the run

async function main() {
  check(ADMIN_TOKEN, 'set ADMIN_TOKEN to the gateway admin token');
  check(fs.existsSync(SPEC), `SPEC not found: ${SPEC}`);
  check(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`);
  fs.mkdirSync(OUT, { recursive: true });

  const authConfig = await step('auth-config is public and names the naming rule', async () => {
    const res = await fetch(`${BASE}/admin/api/auth-config`);
    check(res.ok, `GET /admin/api/auth-config: HTTP ${res.status}`);
    const cfg = await res.json();
    check(cfg.naming && cfg.naming.pattern, 'auth-config has no naming.pattern');
    return cfg;
  });

  await step(`clean start: no API named ${NAME}, broken, notopenapi, bigapi`, async () => {
    for (const n of [NAME, 'broken', 'notopenapi', 'bigapi']) {
      const r = await adminFetch('DELETE', `/apis/${n}`);
      check([200, 404].includes(r.status), `DELETE /admin/api/apis/${n}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    }
  });

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'r2m-console-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: process.env.HEADFUL !== '1',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'].filter((a) => a !== '--headless' || process.env.HEADFUL !== '1'),
    viewport: { width: 1280, height: 800 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const problems = [];
  const watch = (page) => {
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to (apply|execute|load|connect)/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
    page.on('dialog', (d) => d.accept()); // "leave with unsaved changes?" after the aborted save
    page.setDefaultTimeout(TIMEOUT);
  };
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  const writes = []; // every admin API write the page sends
  page.on('request', (req) => {
    if (req.method() !== 'GET' && req.url().includes('/admin/api/')) writes.push({ method: req.method(), url: req.url(), body: req.postData() });
  });
  // Whole-page shots: the window is made as tall as the page first, so that the sticky bars sit
  // where a person sees them; toasts are left out.
  const shot = async (file, fullPage = true) => {
    // (no `style` option: it injects an inline style, which the page's CSP rightly refuses)
    await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
    const opts = { path: path.join(OUT, file) };
    if (!fullPage) return page.screenshot(opts);
    const size = page.viewportSize();
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: size.width, height: Math.min(Math.max(height, size.height), 6000) });
    await page.screenshot(opts);
    await page.setViewportSize(size);
    return undefined;
  };
  const byTest = (id) => page.getByTestId(id);
  const opRow = (opId) => page.locator(`[data-testid="op-row"][data-op="${opId}"]`);
  // Accessibility: axe-core's WCAG 2.1 A/AA rules (labels, names, contrast...) on what is shown;
  // serious and critical findings fail the run, the rest are printed.
  const accessible = async (where) => {
    await page.evaluate(AXE); // through the debugger protocol, so the page's CSP does not apply
    const found = await page.evaluate(async () => (await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    })).violations.map((v) => ({ impact: v.impact, text: `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')})` })));
    for (const f of found) console.log(`# ${where}: ${f.impact} ${f.text}`);
    const bad = found.filter((f) => f.impact === 'serious' || f.impact === 'critical');
    check(!bad.length, `${where}: accessibility problems:\n${bad.map((f) => f.text).join('\n')}`);
  };
  const noOverflow = async (where) => {
    const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
    check(sw <= iw, `${where}: the page is ${sw}px wide in a ${iw}px window (horizontal overflow)`);
  };

  try {
    await step('sign in with the admin token', async () => {
      await page.goto(`${BASE}/admin/`);
      await page.getByLabel('Admin token').waitFor();
      await shot('01-signin.png');
      await accessible('sign-in');
      await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await byTest('sign-out').waitFor({ state: 'visible' });
      check(!page.url().includes(ADMIN_TOKEN), 'the token ended up in the URL');
      const stored = await page.evaluate(() => Object.values(sessionStorage).join(' '));
      check(stored.includes(ADMIN_TOKEN), 'the token is not kept in sessionStorage');
    });

    await step(`upload ${path.basename(SPEC)} as ${NAME} through the file input`, async () => {
      await byTest('new-api').click();
      await page.getByLabel('API name').fill(NAME);
      await byTest('spec-file').setInputFiles(SPEC);
      await page.locator('[data-testid="op-row"]').first().waitFor();
      for (const op of ['listPets', 'createPet', 'getPet', 'deletePet']) check(await opRow(op).count() === 1, `operation ${op} is not listed`);
      check(await byTest('selected-count').textContent() === '4', `expected 4 selected by default, the page says ${await byTest('selected-count').textContent()}`);
    });

    await step('deselect createPet; tool names are checked as you type; rename getPet to fetch_pet', async () => {
      await opRow('createPet').getByTestId('op-select').uncheck();
      check(await byTest('selected-count').textContent() === '3', 'the count did not drop to 3');
      const nameInput = opRow('getPet').getByTestId('tool-name');
      await nameInput.fill('fetch pet!');
      await opRow('getPet').getByTestId('tool-name-error').waitFor({ state: 'visible' });
      check(await byTest('save').isDisabled(), 'save is enabled with an invalid tool name');
      await nameInput.fill('listPets');
      check((await opRow('getPet').getByTestId('tool-name-error').textContent()).includes('listPets'), 'a duplicate tool name is not reported');
      await nameInput.fill('fetch_pet');
      check(await opRow('getPet').getByTestId('tool-name-error').isHidden(), 'the error stays after a valid name');
      check(await byTest('save').isEnabled(), 'save stays disabled');
      check(/KB|B/.test(await byTest('toollist-size').textContent()), 'no tool-list size shown');
      await shot('02-operations.png');
      await accessible('new API, operations');
    });

    const mcpJson = await step('save (one PUT of spec and mapping), then read the .vscode/mcp.json entry', async () => {
      writes.length = 0;
      await byTest('save').click();
      await page.waitForFunction((n) => location.hash === `#/api/${n}/connect`, NAME);
      const applied = writes.filter((w) => !w.url.includes('dry_run=true'));
      check(applied.length === 1 && applied[0].method === 'PUT' && applied[0].url.endsWith(`/admin/api/apis/${NAME}/spec`),
        `expected one PUT /admin/api/apis/${NAME}/spec, the page sent ${JSON.stringify(applied.map((w) => `${w.method} ${w.url}`))}`);
      const envelope = JSON.parse(applied[0].body);
      check(typeof envelope.spec === 'string' && envelope.mapping && Array.isArray(envelope.mapping.include), 'the PUT is not a {spec, mapping} envelope');
      check(envelope.mapping.include.length === 3 && !envelope.mapping.include.some((r) => r.operation_id === 'createPet'), `include is ${JSON.stringify(envelope.mapping.include)}`);
      check(envelope.mapping.tools?.getPet?.name === 'fetch_pet', `tools is ${JSON.stringify(envelope.mapping.tools)}`);
      const text = await byTest('mcp-json').textContent();
      let parsed;
      try { parsed = JSON.parse(text); } catch { throw new StepError(`mcp.json is not JSON: ${text}`); }
      const url = parsed?.servers?.[NAME]?.url;
      check(url === EXPECT_URL, `mcp.json names ${url}, expected ${EXPECT_URL}`);
      check(parsed.servers[NAME].type === 'http', 'mcp.json entry is not type http');
      const href = await byTest('open-vscode').getAttribute('href');
      const expected = `vscode:mcp/install?${encodeURIComponent(JSON.stringify({ name: NAME, type: 'http', url: EXPECT_URL }))}`;
      check(href === expected, `Open in VS Code link is ${href}, expected ${expected}`);
      check((await byTest('open-vscode-insiders').getAttribute('href')).startsWith('vscode-insiders:mcp/install?'), 'no Insiders link');
      await byTest('copy-mcp-json').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-mcp-json"]').textContent === 'Copied');
      check(await page.evaluate(() => navigator.clipboard.readText()) === text, 'the copy button did not copy the mcp.json entry');
      await shot('03-connect.png');
      await accessible('connect');
      return text;
    });

    await step('an MCP client sees exactly the chosen tools under the chosen names', async () => {
      const names = await mcpToolNames(NAME);
      check(sameList(names, ['listPets', 'fetch_pet', 'deletePet']), `tools/list gave ${JSON.stringify(names)}`);
    });

    await step('Try it: call fetch_pet with petId 1 and see the result', async () => {
      await byTest('tab-try').click();
      await page.waitForFunction(() => { const s = document.querySelector('[data-testid="tryit-tool"]'); return s && !s.disabled; });
      await byTest('tryit-tool').selectOption('fetch_pet');
      await byTest('arg-petId').fill('1');
      await byTest('tryit-call').click();
      await byTest('tryit-text').waitFor();
      const text = await byTest('tryit-result').textContent();
      check(/Rex/.test(text), `the result does not show pet 1 (Rex): ${text.slice(0, 300)}`);
      check(!/isError: true/.test(text), `the call failed: ${text.slice(0, 300)}`);
      await shot('04-tryit.png');
      await accessible('try it');
    });

    await step('saving a breaking change shows the diff and needs confirmation (force)', async () => {
      await byTest('tab-operations').click();
      await opRow('deletePet').getByTestId('op-select').uncheck();
      await byTest('save').click();
      const dialog = page.locator('dialog[open]');
      await dialog.getByTestId('diff').waitFor();
      const diffText = await dialog.getByTestId('diff').textContent();
      check(diffText.includes('deletePet') && diffText.includes('breaking'), `the diff does not mark deletePet's removal as breaking: ${diffText}`);
      check(await dialog.getByTestId('apply').isDisabled(), 'a breaking change can be applied without confirmation');
      await shot('05-review.png', false);
      await accessible('review dialog');
      await dialog.getByLabel('I understand: apply these breaking changes').check();
      await dialog.getByTestId('apply').click();
      await page.locator('dialog[open]').waitFor({ state: 'detached' }).catch(() => {});
      await page.waitForFunction(() => !document.querySelector('dialog[open]'));
      await page.getByText(/Saved .*version/).first().waitFor();
      const names = await mcpToolNames(NAME);
      check(sameList(names, ['listPets', 'fetch_pet']), `after removing deletePet tools/list gave ${JSON.stringify(names)}`);
    });

    await step('versions: roll back to version 1', async () => {
      await byTest('tab-versions').click();
      await byTest('versions').waitFor();
      const rows = await page.locator('[data-testid="version-row"]').count();
      check(rows >= 2, `expected 2 versions, saw ${rows}`);
      const first = page.locator('[data-testid="rollback"]').last();
      const v = await first.getAttribute('data-version');
      await first.click();
      await page.locator('dialog[open]').getByTestId('dialog-confirm').click();
      await byTest('rollback-result').waitFor();
      await shot('06-versions.png');
      await accessible('versions');
      const names = await mcpToolNames(NAME);
      check(sameList(names, ['listPets', 'fetch_pet', 'deletePet']), `after rollback to ${v} tools/list gave ${JSON.stringify(names)}`);
    });

    await step('layout at 1280x800 and 390x844: screenshots, no horizontal overflow', async () => {
      await byTest('tab-operations').click();
      await opRow('getPet').waitFor();
      await opRow('getPet').locator('summary').click(); // open "Description and scopes" for the shot
      await noOverflow('operations at 1280');
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('console-1280.png', false);
      await page.setViewportSize({ width: 390, height: 844 });
      await noOverflow('operations at 390');
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('console-390.png', false);
      await shot('console-390-full.png');
      for (const tab of ['connect', 'try', 'versions']) {
        await byTest(`tab-${tab}`).click();
        await page.waitForTimeout(300);
        await noOverflow(`${tab} at 390`);
        await shot(`07-${tab}-390.png`);
      }
      await byTest('new-api').click();
      await noOverflow('new API at 390');
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await step('past 128 tools: the warning points to large-API mode, whose toggle sets mode: search', async () => {
      const paths = {};
      for (let i = 0; i < 130; i += 1) paths[`/things/${i}`] = { get: { operationId: `getThing${i}`, tags: [i % 2 ? 'odd' : 'even'], responses: { 200: { description: 'ok' } } } };
      const big = JSON.stringify({ openapi: '3.0.3', info: { title: 'Big', version: '1' }, servers: [{ url: 'http://127.0.0.1:18080' }], paths });
      await page.goto(`${BASE}/admin/#/new`);
      await page.getByLabel('API name').fill('bigapi');
      await byTest('spec-file').setInputFiles({ name: 'big.json', mimeType: 'application/json', buffer: Buffer.from(big) });
      await byTest('too-many-warning').waitFor();
      check(await byTest('selected-count').textContent() === '130', 'not 130 selected');
      await page.locator('[data-testid="tag-group"][data-tag="odd"] [data-testid="tag-select"]').uncheck();
      check(await byTest('selected-count').textContent() === '65', 'deselecting a whole tag did not leave 65');
      check(await byTest('too-many-warning').isHidden(), 'the warning stays at 65 tools');
      await page.locator('[data-testid="tag-group"][data-tag="odd"] [data-testid="tag-select"]').check();
      await byTest('too-many-warning').waitFor();
      await shot('11-too-many.png', false);
      await byTest('use-search-mode').click();
      check(await byTest('mode-search').isChecked(), 'the large-API mode toggle is not set');
      check(await byTest('too-many-warning').isHidden(), 'the warning stays in large-API mode');
      // What would be sent, without creating the API: the request is stopped on its way.
      let sent = null;
      await page.route('**/admin/api/apis/bigapi/spec*', (route) => { sent = route.request().postData(); return route.abort(); });
      await byTest('save').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="spec-errors"]:not([hidden])'));
      await page.unroute('**/admin/api/apis/bigapi/spec*');
      const mapping = JSON.parse(sent || '{}').mapping || {};
      check(mapping.mode === 'search' && mapping.include?.length === 130, `the mapping sent was ${sent && sent.slice(0, 200)}`);
    });

    const list = (await adminFetch('GET', '/apis')).json || [];
    const prot = list.find((a) => a.protected);
    if (prot) {
      await step(`protected API ${prot.name}: authorization servers shown; Try it shows the 401 a client gets`, async () => {
        const meta = await (await fetch(`${BASE}/.well-known/oauth-protected-resource/mcp/${prot.name}`)).json();
        await page.goto(`${BASE}/admin/#/api/${prot.name}/connect`);
        await byTest('authorization-servers').waitFor();
        const shown = await byTest('authorization-servers').textContent();
        for (const s of meta.authorization_servers || []) check(shown.includes(s), `authorization server ${s} not shown`);
        await shot('08-protected-connect.png');
        await byTest('tab-try').click();
        await byTest('www-authenticate').waitFor();
        check((await byTest('www-authenticate').textContent()).includes('resource_metadata'), 'WWW-Authenticate not shown');
        await shot('08-protected-401.png');
      await accessible('protected API, try it');
      });
    } else console.log('# no protected API on this server: protected-API checks skipped');

    await step('a spec with an unresolvable $ref, dropped on the page: the skipped operation and its reason are shown', async () => {
      const expected = await adminFetch('PUT', '/apis/broken/spec?dry_run=true', { raw: BROKEN_SPEC, contentType: 'application/yaml' });
      check(expected.status === 200, `dry run of the broken spec: HTTP ${expected.status} ${expected.text.slice(0, 200)}`);
      const diags = (expected.json.diagnostics || []).filter((d) => d.skipped);
      check(diags.length >= 1, 'the server reports no skipped operation for an unresolvable $ref');
      await page.goto(`${BASE}/admin/#/new`);
      await page.getByLabel('API name').fill('broken');
      // This one arrives by drag and drop.
      const dataTransfer = await page.evaluateHandle((text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'broken.yaml', { type: 'application/yaml' }));
        return dt;
      }, BROKEN_SPEC);
      await byTest('dropzone').dispatchEvent('dragover', { dataTransfer });
      await byTest('dropzone').dispatchEvent('drop', { dataTransfer });
      await byTest('diagnostics').waitFor();
      const text = await byTest('diagnostics').textContent();
      for (const d of diags) check(text.includes(d.message), `diagnostic not shown: ${d.operation} ${d.message}\npage: ${text}`);
      check(text.includes('GET /broken'), 'the skipped operation is not named');
      await shot('09-diagnostics.png');
      await accessible('diagnostics');
    });

    await step('a file that is not OpenAPI: the server’s message is shown', async () => {
      const expected = await adminFetch('PUT', '/apis/notopenapi/spec?dry_run=true', { raw: NOT_OPENAPI, contentType: 'application/yaml' });
      check(expected.status === 422 || expected.status === 400, `dry run of a non-OpenAPI file: HTTP ${expected.status}`);
      await page.goto(`${BASE}/admin/#/new`);
      await page.getByLabel('API name').fill('notopenapi');
      await byTest('spec-paste').fill(NOT_OPENAPI);
      await byTest('check-spec').click();
      await byTest('spec-error').waitFor();
      const text = await byTest('spec-error').textContent();
      check(text.includes(expected.json.message), `message not shown: ${expected.json.message}\npage: ${text}`);
      await shot('10-not-openapi.png');
    });

    if (authConfig.fetch_url === true && process.env.FETCH_URL) {
      await step('fetch a spec by URL (auth-config.fetch_url)', async () => {
        await page.goto(`${BASE}/admin/#/new`);
        await page.getByLabel('API name').fill('fetched');
        await page.getByLabel('Or fetch it from a URL').fill(process.env.FETCH_URL);
        await page.getByRole('button', { name: 'Fetch', exact: true }).click();
        await page.locator('[data-testid="op-row"]').first().waitFor();
        check(await page.locator('[data-testid="op-row"]').count() > 0, 'no operations from the fetched spec');
      });
    } else if (authConfig.fetch_url === true) console.log('# auth-config allows fetch_url: set FETCH_URL to a spec URL the server may fetch to test it');
    else check(await byTest('spec-url').count() === 0, 'the URL field is offered although auth-config does not allow fetch_url');

    if (process.env.OAUTH_TEST === '1') {
      await step('OAuth sign-in with PKCE through auth-config.oauth', async () => {
        check(authConfig.oauth, 'auth-config has no oauth section');
        const p2 = await context.newPage();
        watch(p2);
        await p2.goto(`${BASE}/admin/`);
        await p2.getByTestId('sign-in-oauth').click();
        await p2.getByTestId('user-label').waitFor({ state: 'visible' });
        check(!/[?&]code=/.test(p2.url()), `the code stays in the URL: ${p2.url()}`);
        check((await p2.getByTestId('user-label').textContent()).includes('Signed in as'), 'not signed in through OAuth');
        await p2.close();
      });
    }

    await step('no CSP violation or script error on the way', async () => {
      check(problems.length === 0, problems.join('\n'));
    });
    void mcpJson;
  } catch (err) {
    fs.rmSync(path.join(OUT, 'failure.png'), { force: true });
    await shot('failure.png').catch(() => {});
    throw err;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(`console test passed; screenshots in ${OUT}`);
  console.log(`${passed} passed, 0 failed`);
  process.exit(0);
}, (err) => {
  console.error(`\nconsole test FAILED${err.step ? ` at "${err.step}"` : ''}: ${err.message}`);
  if (!(err instanceof StepError) && err.stack) console.error(err.stack.split('\n').slice(1, 4).join('\n'));
  if (fs.existsSync(path.join(OUT, 'failure.png'))) console.error(`(the page at that moment: ${path.join(OUT, 'failure.png')})`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
