#!/usr/bin/env node
// A stand-in for the rest2mcp gateway, to develop and test the console without cargo: serves
// assets/console at /admin/ (with the real CSP), implements docs/admin-api.md, a fake MCP
// endpoint per API (tools/list with pages, tools/call on an in-memory pet store), the protected
// resource metadata, and optionally a tiny OAuth authorization server with PKCE.
// No dependencies.
//
//   node tests/console/mock_server.mjs            # http://127.0.0.1:8080, admin token printed
// env: PORT (8080), HOST (127.0.0.1), ADMIN_TOKEN (test-admin-token), MCP_TOKEN (mcp-token,
//      accepted by the protected config API `petstore`), PAGE_SIZE (2, tools per tools/list
//      page), MOCK_OAUTH=1 (auth-config.oauth points at /oauth here), MOCK_FETCH_URL=1
//      (auth-config.fetch_url and POST /admin/api/fetch, loopback URLs only).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { HttpError, buildCatalog, diffTools, validateMapping, parseSpec, callFakeTool } from './mock_catalog.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const ASSETS = path.join(ROOT, 'assets', 'console');
const PORT = Number(process.env.PORT || 8080);
const HOST = process.env.HOST || '127.0.0.1';
const BASE = `http://${HOST}:${PORT}`;
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || 'test-admin-token';
const MCP_TOKEN = process.env.MCP_TOKEN || 'mcp-token';
const PAGE_SIZE = Number(process.env.PAGE_SIZE || 2);
const OAUTH = process.env.MOCK_OAUTH === '1';
const FETCH_URL = process.env.MOCK_FETCH_URL === '1';
const NAMING = { pattern: '^[A-Za-z0-9_-]{1,64}$', max_len: 64 };
const KEEP_VERSIONS = 10;
const CSP = `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'${OAUTH ? ` ${BASE}` : ''}; frame-ancestors 'none'`;

// ---------------------------------------------------------------- the API store

/** name -> {name, source, protected, versions: [{version, created, change, specText, mapping}], config?} */
const apis = new Map();
const reloads = [];

function seedConfigApi() {
  const specText = fs.readFileSync(path.join(ROOT, 'specs', 'petstore.yaml'), 'utf8');
  apis.set('petstore', {
    name: 'petstore', source: 'config', protected: true,
    config: { specText, mapping: { base_url: 'http://127.0.0.1:18080', include: [], exclude: [{ operation_id: 'deletePet' }], mode: 'tools' } },
    versions: [],
  });
}

function current(api) {
  if (api.source === 'config') return { version: null, ...api.config };
  return api.versions[api.versions.length - 1];
}

function catalogOf(api) {
  const cur = current(api);
  return buildCatalog(parseSpec(cur.specText), cur.mapping);
}

function summary(api) {
  const cur = current(api);
  const cat = catalogOf(api);
  return {
    name: api.name, title: cat.title, tools: cat.tools.length, mcp_url: `${BASE}/mcp/${api.name}`,
    version: cur.version, source: api.source, last_reload: 'ok', protected: api.protected, mode: cur.mapping.mode || 'tools',
  };
}

function record(api, trigger, result, version, message = null) {
  reloads.unshift({ at: new Date().toISOString(), api, trigger, result, message, version, ms: 1 });
  reloads.length = Math.min(reloads.length, 100);
}

/** PUT spec / PUT mapping / rollback: validate, diff, and store unless dry run. */
function applyChange(name, { specText, mapping }, { dryRun, force, change }) {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new HttpError(400, `invalid API name \`${name}\`: use A-Z a-z 0-9 . _ - (at most 64)`);
  const api = apis.get(name);
  if (api?.source === 'config') throw new HttpError(409, `api \`${name}\` comes from the config file and is read-only here`);
  const cur = api ? current(api) : null;
  if (!api && specText == null) throw new HttpError(404, `no API named \`${name}\``);
  const newSpec = specText ?? cur.specText;
  const newMapping = mapping ?? (cur ? cur.mapping : {});
  const cat = buildCatalog(parseSpec(newSpec), newMapping, NAMING); // throws 422
  const oldTools = cur ? buildCatalog(parseSpec(cur.specText), cur.mapping).tools : [];
  const diff = diffTools(oldTools, cat.tools);
  const body = {
    name, applied: false, created: !api, version: cur ? cur.version : null, tools: cat.tools.length,
    mcp_url: `${BASE}/mcp/${name}`, diff, diagnostics: cat.diagnostics, operations: cat.operations,
  };
  if (dryRun) return [200, body];
  if (api && diff.breaking && !force) {
    return [409, { ...body, message: 'breaking changes not applied: send force=true to apply them' }];
  }
  const target = api || { name, source: 'store', protected: false, versions: [] };
  const version = (target.versions.at(-1)?.version || 0) + 1;
  target.versions.push({ version, created: new Date().toISOString(), change, specText: newSpec, mapping: newMapping, tools: cat.tools.length });
  if (target.versions.length > KEEP_VERSIONS) target.versions.splice(0, target.versions.length - KEEP_VERSIONS);
  apis.set(name, target);
  record(name, 'admin', 'ok', version);
  return [api ? 200 : 201, { ...body, applied: true, version }];
}

// ---------------------------------------------------------------- HTTP plumbing

function send(res, status, body, headers = {}) {
  const isText = typeof body === 'string' || Buffer.isBuffer(body);
  const data = isText ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(data);
}

async function readBody(req, limit = 64 * 1024 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > limit) throw new HttpError(413, 'body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function bearer(req) {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization || '');
  return m ? m[1].trim() : null;
}

const oauthCodes = new Map();
const oauthTokens = new Set();

function adminAuth(req) {
  const token = bearer(req);
  if (token && token.length === ADMIN_TOKEN.length && crypto.timingSafeEqual(Buffer.from(token), Buffer.from(ADMIN_TOKEN))) return { via: 'token', subject: 'admin-token' };
  if (token && oauthTokens.has(token)) return { via: 'oauth', subject: 'alice@example.com' };
  throw new HttpError(401, 'admin credential required: Authorization: Bearer <admin token>');
}

function csrfGuard(req) {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  const ok = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml'].includes(ct) || req.headers['x-rest2mcp-admin'] === '1';
  if (!ok) throw new HttpError(403, 'writes need a JSON or YAML content type, or X-Rest2mcp-Admin: 1');
}

function parseJsonBody(text, allowed) {
  let obj;
  try { obj = JSON.parse(text); } catch (e) { throw new HttpError(400, `invalid JSON: ${e.message}`); }
  if (allowed) {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new HttpError(400, 'expected a JSON object');
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw new HttpError(400, `unknown field \`${k}\``);
  }
  return obj;
}

// ---------------------------------------------------------------- admin API routes

async function admin(req, res, url) {
  const p = url.pathname.slice('/admin/api'.length);
  const q = url.searchParams;
  const flags = { dryRun: q.get('dry_run') === 'true', force: q.get('force') === 'true' };
  if (p === '/auth-config' && req.method === 'GET') {
    return send(res, 200, {
      token: true,
      oauth: OAUTH ? { issuer: `${BASE}/oauth`, authorization_endpoint: `${BASE}/oauth/authorize`, token_endpoint: `${BASE}/oauth/token`, client_id: 'rest2mcp-console', scope: 'rest2mcp:admin' } : null,
      naming: NAMING,
      ...(FETCH_URL ? { fetch_url: true } : {}),
    });
  }
  const who = adminAuth(req);
  csrfGuard(req);
  if (p === '/session' && req.method === 'GET') return send(res, 200, { ok: true, ...who });
  if (p === '/apis' && req.method === 'GET') return send(res, 200, [...apis.values()].sort((a, b) => (a.source === b.source ? a.name.localeCompare(b.name) : a.source === 'config' ? -1 : 1)).map(summary));
  if (p === '/status' && req.method === 'GET') return send(res, 200, { reloads, apis: [...apis.values()].map((a) => ({ name: a.name, last_reload: 'ok' })) });
  if (p === '/fetch' && req.method === 'POST' && FETCH_URL) {
    const { url: target } = parseJsonBody(await readBody(req), ['url']);
    const t = new URL(target);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(t.hostname)) throw new HttpError(400, 'the mock fetches loopback URLs only');
    const r = await fetch(t);
    if (!r.ok) throw new HttpError(422, `fetching ${target}: HTTP ${r.status}`);
    return send(res, 200, await r.text());
  }
  const m = /^\/apis\/([^/]+)(?:\/([a-z_]+))?$/.exec(p);
  if (!m) throw new HttpError(404, `no such admin resource: ${req.method} ${p}`);
  const name = decodeURIComponent(m[1]);
  const sub = m[2] || '';
  const api = apis.get(name);
  const need = () => { if (!api) throw new HttpError(404, `no API named \`${name}\``); return api; };

  if (sub === 'spec' && req.method === 'PUT') {
    const text = await readBody(req);
    const ct = (req.headers['content-type'] || '').toLowerCase();
    let specText = text;
    let mapping;
    if (ct.includes('json')) {
      const obj = parseJsonBody(text);
      if (obj && typeof obj === 'object' && !Array.isArray(obj) && 'spec' in obj && !('openapi' in obj) && !('swagger' in obj)) {
        for (const k of Object.keys(obj)) if (!['spec', 'mapping'].includes(k)) throw new HttpError(400, `unknown field \`${k}\` in the spec envelope`);
        specText = typeof obj.spec === 'string' ? obj.spec : JSON.stringify(obj.spec);
        if (obj.mapping !== undefined) mapping = validateMapping(obj.mapping);
      }
    }
    const [status, body] = applyChange(name, { specText, mapping }, { ...flags, change: 'spec' });
    return send(res, status, body);
  }
  if (sub === 'mapping' && req.method === 'GET') {
    const cur = current(need());
    return send(res, 200, { mode: 'tools', output_schemas: true, ...structuredClone(cur.mapping) });
  }
  if (sub === 'mapping' && req.method === 'PUT') {
    need();
    const mapping = validateMapping(parseJsonBody(await readBody(req)));
    const [status, body] = applyChange(name, { mapping }, { ...flags, change: 'mapping' });
    return send(res, status, body);
  }
  if (sub === 'operations' && req.method === 'GET') return send(res, 200, catalogOf(need()).operations);
  if (sub === 'versions' && req.method === 'GET') {
    const a = need();
    const last = a.versions.at(-1)?.version;
    return send(res, 200, [...a.versions].reverse().map((v) => ({ version: v.version, created: v.created, change: v.change, tools: v.tools, current: v.version === last })));
  }
  if (sub === 'rollback' && req.method === 'POST') {
    const a = need();
    if (a.source === 'config') throw new HttpError(409, `api \`${name}\` comes from the config file and is read-only here`);
    const { version } = parseJsonBody(await readBody(req), ['version']);
    const v = a.versions.find((x) => x.version === version);
    if (!v) throw new HttpError(404, `api \`${name}\` has no version ${version}`);
    const [status, body] = applyChange(name, { specText: v.specText, mapping: v.mapping }, { force: true, change: 'rollback' });
    return send(res, status, body);
  }
  if (sub === '' && req.method === 'DELETE') {
    const a = need();
    if (a.source === 'config') throw new HttpError(409, `api \`${name}\` comes from the config file and is read-only here`);
    apis.delete(name);
    record(name, 'admin', 'ok', null, 'deleted');
    return send(res, 200, { name, deleted: true });
  }
  throw new HttpError(405, `${req.method} not allowed here`);
}

// ---------------------------------------------------------------- MCP

function wwwAuthenticate(name, extra = '') {
  return `Bearer resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp/${name}", scope="pets:read"${extra}`;
}

async function mcp(req, res, name) {
  const api = apis.get(name);
  if (!api) return send(res, 404, { message: `no MCP endpoint /mcp/${name}` });
  if (req.method !== 'POST') return send(res, 405, { message: 'POST only' }, { allow: 'POST' });
  const version = req.headers['mcp-protocol-version'];
  if (version && !['2025-11-25', '2025-06-18', '2025-03-26', '2026-07-28'].includes(version)) return send(res, 400, { message: `unsupported MCP-Protocol-Version ${version}` });
  if (api.protected) {
    const token = bearer(req);
    if (!token) return send(res, 401, { message: 'authorization required' }, { 'www-authenticate': wwwAuthenticate(name) });
    if (token !== MCP_TOKEN) return send(res, 401, { message: 'invalid token' }, { 'www-authenticate': wwwAuthenticate(name, ', error="invalid_token", error_description="token not recognised"') });
  }
  let msg;
  try { msg = JSON.parse(await readBody(req, 4 * 1024 * 1024)); } catch {
    return send(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
  }
  if (!msg || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') return send(res, 400, { jsonrpc: '2.0', id: msg?.id ?? null, error: { code: -32600, message: 'invalid request' } });
  if (msg.id === undefined) { res.writeHead(202); res.end(); return undefined; }
  const reply = (result) => send(res, 200, { jsonrpc: '2.0', id: msg.id, result });
  const fail = (code, message) => send(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code, message } });
  const cat = catalogOf(api);
  switch (msg.method) {
    case 'initialize':
      return reply({ protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'rest2mcp-mock', version: '0' } });
    case 'ping':
      return reply({});
    case 'tools/list': {
      const cursor = msg.params?.cursor;
      const start = cursor ? Number(Buffer.from(String(cursor), 'base64url').toString()) : 0;
      if (!Number.isInteger(start) || start < 0 || start > cat.tools.length) return fail(-32602, 'bad cursor');
      const page = cat.tools.slice(start, start + PAGE_SIZE).map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema, annotations: t.annotations }));
      const next = start + PAGE_SIZE < cat.tools.length ? Buffer.from(String(start + PAGE_SIZE)).toString('base64url') : undefined;
      return reply(next ? { tools: page, nextCursor: next } : { tools: page });
    }
    case 'tools/call': {
      const tool = cat.tools.find((t) => t.name === msg.params?.name);
      if (!tool) return fail(-32602, `unknown tool \`${msg.params?.name}\``);
      return reply(callFakeTool(tool, msg.params?.arguments || {}));
    }
    default:
      return fail(-32601, `method not found: ${msg.method}`);
  }
}

// ---------------------------------------------------------------- OAuth (MOCK_OAUTH=1)

function b64url(buf) { return Buffer.from(buf).toString('base64url'); }

async function oauth(req, res, url) {
  if (url.pathname === '/oauth/authorize' && req.method === 'GET') {
    const q = url.searchParams;
    const redirect = q.get('redirect_uri') || '';
    if (q.get('response_type') !== 'code' || q.get('client_id') !== 'rest2mcp-console' || !redirect.startsWith(`${BASE}/admin/`)) return send(res, 400, 'bad authorization request');
    if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return send(res, 400, 'PKCE S256 required');
    const code = b64url(crypto.randomBytes(16));
    oauthCodes.set(code, { challenge: q.get('code_challenge'), redirect, scope: q.get('scope') });
    const back = new URL(redirect);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state') || '');
    res.writeHead(302, { location: back.toString() });
    res.end();
    return undefined;
  }
  if (url.pathname === '/oauth/token' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const entry = oauthCodes.get(form.get('code'));
    oauthCodes.delete(form.get('code'));
    if (!entry || form.get('grant_type') !== 'authorization_code' || form.get('redirect_uri') !== entry.redirect) return send(res, 400, { error: 'invalid_grant' });
    const check = b64url(crypto.createHash('sha256').update(form.get('code_verifier') || '').digest());
    if (check !== entry.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verifier mismatch' });
    const token = `oauth-${b64url(crypto.randomBytes(18))}`;
    oauthTokens.add(token);
    return send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: entry.scope });
  }
  return send(res, 404, { message: 'not found' });
}

// ---------------------------------------------------------------- static files

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json', '.yaml': 'application/yaml' };

function serveFile(res, file, csp) {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return send(res, 404, 'not found');
  const headers = { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  if (csp) { headers['content-security-policy'] = CSP; headers['referrer-policy'] = 'no-referrer'; }
  res.writeHead(200, headers);
  fs.createReadStream(file).pipe(res);
  return undefined;
}

// ---------------------------------------------------------------- server

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, BASE);
  try {
    if (url.pathname.startsWith('/admin/api/')) return await admin(req, res, url);
    if (url.pathname === '/admin') { res.writeHead(301, { location: '/admin/' }); res.end(); return undefined; }
    if (url.pathname.startsWith('/admin/')) {
      const rel = url.pathname.slice('/admin/'.length) || 'index.html';
      if (rel.includes('..') || rel.includes('/')) return send(res, 404, 'not found');
      return serveFile(res, path.join(ASSETS, rel), true);
    }
    if (url.pathname.startsWith('/specs/')) {
      const rel = path.basename(url.pathname);
      return serveFile(res, path.join(ROOT, 'specs', rel), false);
    }
    const mcpMatch = /^\/mcp\/([^/]+)$/.exec(url.pathname);
    if (mcpMatch) return await mcp(req, res, decodeURIComponent(mcpMatch[1]));
    const meta = /^\/\.well-known\/oauth-protected-resource\/mcp\/([^/]+)$/.exec(url.pathname);
    if (meta) {
      const api = apis.get(decodeURIComponent(meta[1]));
      if (!api || !api.protected) return send(res, 404, { message: 'not a protected resource' });
      return send(res, 200, {
        resource: `${BASE}/mcp/${api.name}`, authorization_servers: [`${BASE}/oauth`],
        scopes_supported: ['pets:read', 'pets:write'], bearer_methods_supported: ['header'], resource_name: api.name,
      });
    }
    if (OAUTH && url.pathname.startsWith('/oauth/')) return await oauth(req, res, url);
    if (url.pathname === '/') { res.writeHead(302, { location: '/admin/' }); res.end(); return undefined; }
    return send(res, 404, { message: 'not found' });
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, { message: err.message, ...err.extra });
    console.error(err);
    return send(res, 500, { message: `mock server error: ${err.message}` });
  }
});

seedConfigApi();
server.listen(PORT, HOST, () => {
  console.log(`rest2mcp mock on ${BASE}/admin/  admin token: ${ADMIN_TOKEN}  (MCP token for the protected 'petstore': ${MCP_TOKEN})`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
