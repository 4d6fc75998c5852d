// Talking to the gateway: the admin API (docs/admin-api.md), the MCP endpoints, and the
// OAuth authorization-code sign-in with PKCE for the admin console.

const TOKEN_KEY = 'rest2mcp.console.token';
const VIA_KEY = 'rest2mcp.console.via';
const PKCE_KEY = 'rest2mcp.console.pkce';

/** The admin credential lives in sessionStorage only (never in a URL or localStorage). */
export const credential = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get via() { return sessionStorage.getItem(VIA_KEY); },
  set(token, via) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(VIA_KEY, via);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(VIA_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let unauthorizedHandler = () => {};
/** Called when the admin API answers 401 to a signed-in request. */
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

/**
 * One admin API request. `json` is sent as JSON; `raw` as-is with `contentType`.
 * Writes carry `X-Rest2mcp-Admin: 1` besides their content type (the CSRF guard).
 */
async function request(method, path, { json, raw, contentType, query, token = credential.token, auth = true } = {}) {
  const headers = { accept: 'application/json' };
  if (auth && token) headers.authorization = `Bearer ${token}`;
  if (method !== 'GET') headers['x-rest2mcp-admin'] = '1';
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (raw !== undefined) {
    headers['content-type'] = contentType || 'application/json';
    body = raw;
  }
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v)).toString() : '';
  const url = `/admin/api${path}${qs ? `?${qs}` : ''}`;
  const res = await fetch(url, { method, headers, body, cache: 'no-store', credentials: 'same-origin' });
  const data = await readBody(res);
  if (!res.ok) {
    const message = (data && typeof data === 'object' && data.message) || `${res.status} ${res.statusText || 'error'}`;
    if (res.status === 401 && auth) unauthorizedHandler(message);
    throw new ApiError(res.status, data, message);
  }
  return data;
}

const enc = encodeURIComponent;

/** Guesses the content type of an OpenAPI document's text. */
export function specContentType(text) {
  return /^\s*[{[]/.test(text) ? 'application/json' : 'application/yaml';
}

export const admin = {
  authConfig: () => request('GET', '/auth-config', { auth: false }),
  session: (token) => request('GET', '/session', { token }),
  apis: () => request('GET', '/apis'),
  operations: (name) => request('GET', `/apis/${enc(name)}/operations`),
  mapping: (name) => request('GET', `/apis/${enc(name)}/mapping`),
  versions: (name) => request('GET', `/apis/${enc(name)}/versions`),
  remove: (name) => request('DELETE', `/apis/${enc(name)}`),
  rollback: (name, version) => request('POST', `/apis/${enc(name)}/rollback`, { json: { version } }),
  putMapping: (name, mapping, { dryRun, force } = {}) =>
    request('PUT', `/apis/${enc(name)}/mapping`, { json: mapping, query: { dry_run: dryRun && 'true', force: force && 'true' } }),
  /** The spec alone (raw text) or, with a mapping, the `{spec, mapping}` envelope. */
  putSpec: (name, specText, mapping, { dryRun, force } = {}) => {
    const query = { dry_run: dryRun && 'true', force: force && 'true' };
    if (mapping) return request('PUT', `/apis/${enc(name)}/spec`, { json: { spec: specText, mapping }, query });
    return request('PUT', `/apis/${enc(name)}/spec`, { raw: specText, contentType: specContentType(specText), query });
  },
  /** Where the config allows it: the server fetches a spec URL and returns the document text. */
  fetchUrl: async (url) => {
    const data = await request('POST', '/fetch', { json: { url } });
    if (typeof data === 'string') return data;
    if (data && typeof data === 'object') {
      for (const key of ['text', 'spec', 'document']) if (typeof data[key] === 'string') return data[key];
      return JSON.stringify(data, null, 2); // the document itself, answered as JSON
    }
    throw new Error('The fetch answer held no document');
  },
};

/** Public RFC 9728 metadata of a protected MCP endpoint. */
export async function protectedResourceMetadata(name) {
  const res = await fetch(`/.well-known/oauth-protected-resource/mcp/${enc(name)}`, { cache: 'no-store' });
  if (!res.ok) throw new ApiError(res.status, null, `metadata: ${res.status}`);
  return res.json();
}

// ---------------------------------------------------------------- MCP over HTTP

export class McpHttpError extends Error {
  constructor(status, wwwAuthenticate, body) {
    const detail = body && typeof body === 'object' ? (body.message || body.error?.message) : body;
    super(`HTTP ${status}${detail ? `: ${String(detail).slice(0, 300)}` : ''}`);
    this.status = status;
    this.wwwAuthenticate = wwwAuthenticate;
    this.body = body;
  }
}

/** Picks the JSON-RPC answer with `id` out of an SSE stream's `data:` lines. */
function fromSse(text, id) {
  let found = null;
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data) continue;
    try {
      const msg = JSON.parse(data);
      if (msg && msg.id === id) found = msg;
    } catch { /* not JSON: skip */ }
  }
  return found;
}

let rpcId = 0;

/** One JSON-RPC request to `/mcp/{name}`; returns the `result` or throws. */
export async function mcpRequest(name, method, params, token) {
  rpcId += 1;
  const id = rpcId;
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`/mcp/${enc(name)}`, {
    method: 'POST', headers, cache: 'no-store', credentials: 'omit',
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  const text = await res.text();
  if (!res.ok) {
    let body = text;
    try { body = JSON.parse(text); } catch { /* keep text */ }
    throw new McpHttpError(res.status, res.headers.get('www-authenticate'), body);
  }
  const type = res.headers.get('content-type') || '';
  const msg = type.includes('text/event-stream') ? fromSse(text, id) : JSON.parse(text);
  if (!msg) throw new Error('No JSON-RPC answer in the response');
  if (msg.error) {
    const err = new Error(`JSON-RPC error ${msg.error.code}: ${msg.error.message}`);
    err.rpc = msg.error;
    throw err;
  }
  return msg.result;
}

/** Every tool, following `nextCursor`. */
export async function listTools(name, token) {
  const tools = [];
  let cursor;
  for (let page = 0; page < 1000; page += 1) {
    const result = await mcpRequest(name, 'tools/list', cursor ? { cursor } : {}, token);
    tools.push(...(result.tools || []));
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

export function callTool(name, tool, args, token) {
  return mcpRequest(name, 'tools/call', { name: tool, arguments: args }, token);
}

// ---------------------------------------------------------------- OAuth (PKCE, S256)

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

export function redirectUri() {
  return `${location.origin}/admin/`;
}

/** Sends the browser to the authorization endpoint. */
export async function startOAuth(oauth) {
  if (!crypto.subtle) throw new Error('OAuth sign-in needs a secure context (https or localhost)');
  const verifier = randomString(32);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = randomString(16);
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(oauth.authorization_endpoint);
  const params = {
    response_type: 'code',
    client_id: oauth.client_id,
    redirect_uri: redirectUri(),
    scope: oauth.scope || '',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  if (oauth.resource) params.resource = oauth.resource; // optional RFC 8707 audience hint
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/**
 * On return from the authorization server: strips `code`/`state` from the address bar at once,
 * checks `state`, and exchanges the code. Returns the access token, or null when the URL has
 * no authorization answer.
 */
export async function finishOAuth(oauth) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  if (params.has('error')) {
    throw new Error(`Sign-in refused: ${params.get('error')}${params.get('error_description') ? ` (${params.get('error_description')})` : ''}`);
  }
  if (!oauth) throw new Error('OAuth sign-in is not configured on this server');
  if (!saved || saved.state !== params.get('state')) throw new Error('Sign-in answer does not match this browser tab (state); try again');
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: redirectUri(),
    client_id: oauth.client_id,
    code_verifier: saved.verifier,
  });
  const res = await fetch(oauth.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form,
    credentials: 'omit',
  });
  const data = await readBody(res);
  if (!res.ok || !data || !data.access_token) {
    const why = (data && (data.error_description || data.error)) || `HTTP ${res.status}`;
    throw new Error(`Token exchange failed: ${why}`);
  }
  return data.access_token;
}
