#!/usr/bin/env node
// The console's OAuth sign-in (authorization code with PKCE) in headless Chromium, against a
// real authorization server (oidc-provider, tests/e2e/auth_server.mjs, which logs its user in
// and consents without a page): click "Sign in with OAuth", come back signed in, the code gone
// from the address bar, the admin API answering with the token, no CSP violation on the way.
//
//   BASE=http://127.0.0.1:PORT CHROMIUM=/usr/bin/chromium node tests/console/oauth_signin.mjs
//
// Prints one JSON line on success: {"user": "<the user label>", "session": {status, body}} (what
// GET /admin/api/session answered the console's token).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.BASE || '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const problems = [];

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rest2mcp-oauth-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(15000);
  await page.goto(`${BASE}/admin/`);
  await page.getByTestId('sign-in-oauth').click();
  await page.getByTestId('user-label').waitFor({ state: 'visible' });
  const user = (await page.getByTestId('user-label').textContent()).trim();
  if (!page.url().startsWith(`${BASE}/admin/`)) throw new Error(`not back at the console: ${page.url()}`);
  if (/[?&](code|state)=/.test(page.url())) throw new Error(`the code stays in the address bar: ${page.url()}`);
  // The token the console holds opens the admin API.
  const session = await page.evaluate(async () => {
    const token = sessionStorage.getItem('rest2mcp.console.token');
    const r = await fetch('/admin/api/session', { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: await r.json().catch(() => null) };
  });
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({ user, session }));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
