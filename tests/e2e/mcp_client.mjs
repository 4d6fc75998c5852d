// End-to-end MCP client for rest2mcp: the official MCP TypeScript SDK client with its OAuth
// support, driving a real authorization server headlessly (no browser, nothing listening on
// the redirect URI).
//
// Usage: node mcp_client.mjs <mcp_url> <tool_name> [<json_args>]
//
// Flow: connect -> 401 + WWW-Authenticate (resource_metadata, scope) -> the SDK reads the
// Protected Resource Metadata (RFC 9728) and the AS metadata, registers dynamically (RFC 7591),
// calls redirectToAuthorization(url), which follows the authorization URL with fetch
// (redirect: 'manual', a small cookie jar) until a redirect to the redirect URI carries `code`
// -> transport.finishAuth(code) -> a new transport + client with the same provider: connect,
// listTools, callTool.
//
// stdout: one JSON line {"tools": [names], "result": <callTool result>, "token_claims": <payload>}
// stderr: a trace of every HTTP request made, and the error on failure (exit 1).
//
// Environment (optional):
//   MCP_REDIRECT_URI       redirect URI to register (default http://127.0.0.1:53682/callback)
//   MCP_CLIENT_TIMEOUT_MS  hard overall timeout (default 30000)

import crypto from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const log = (...args) => console.error('mcp_client:', ...args);

const timeoutMs = Number(process.env.MCP_CLIENT_TIMEOUT_MS || 30000);
setTimeout(() => {
  log(`timed out after ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

const [mcpUrlText, toolName, jsonArgs = '{}'] = process.argv.slice(2);
if (!mcpUrlText || !toolName) {
  log('usage: node mcp_client.mjs <mcp_url> <tool_name> [<json_args>]');
  process.exit(1);
}

/** Every HTTP request made by the SDK (MCP and OAuth) is traced on stderr. */
async function tracingFetch(input, init) {
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const url = input instanceof Request ? input.url : String(input);
  const response = await fetch(input, init);
  const challenge = response.headers.get('www-authenticate');
  log(`${method} ${url} -> ${response.status}${challenge ? ` (WWW-Authenticate: ${challenge})` : ''}`);
  return response;
}

/** A cookie jar just big enough for the authorization server's interaction cookies. */
class CookieJar {
  #cookies = new Map(); // `${origin} ${path} ${name}` -> { origin, path, name, value }

  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const attrValue = rest.join('=').trim();
        switch (key.trim().toLowerCase()) {
          case 'path':
            path = attrValue || '/';
            break;
          case 'max-age':
            if (Number(attrValue) <= 0) expired = true;
            break;
          case 'expires':
            if (Date.parse(attrValue) <= Date.now()) expired = true;
            break;
          default:
        }
      }
      const key = `${url.origin} ${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { origin: url.origin, path, name, value });
    }
  }

  header(url) {
    const matching = [...this.#cookies.values()].filter(
      (cookie) => cookie.origin === url.origin
        && (url.pathname === cookie.path
          || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)),
    );
    return matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }
}

/**
 * Plays the user agent: follows the authorization URL until the authorization server
 * redirects to `redirectUri`, and returns that redirect's `code` (checking `state`).
 */
async function followAuthorization(authorizationUrl, redirectUri, expectedState) {
  const jar = new CookieJar();
  const target = new URL(redirectUri);
  let url = new URL(authorizationUrl);
  for (let hop = 0; hop < 20; hop += 1) {
    const headers = { accept: 'text/html,application/json' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { redirect: 'manual', headers });
    jar.store(url, response);
    const location = response.headers.get('location');
    log(`GET ${url.origin}${url.pathname} -> ${response.status}${location ? ` (Location: ${location.split('?')[0]})` : ''}`);
    if (response.status < 300 || response.status >= 400 || !location) {
      const body = await response.text().catch(() => '');
      throw new Error(`authorization stopped at ${url.href} with HTTP ${response.status}: ${body.slice(0, 1000)}`);
    }
    await response.body?.cancel();
    const next = new URL(location, url);
    if (next.origin === target.origin && next.pathname === target.pathname) {
      const params = next.searchParams;
      if (params.get('error')) {
        throw new Error(`authorization failed: ${params.get('error')}: ${params.get('error_description') ?? ''}`);
      }
      if (expectedState !== undefined && params.get('state') !== expectedState) {
        throw new Error(`authorization response state mismatch: ${params.get('state')}`);
      }
      const code = params.get('code');
      if (!code) throw new Error(`redirect to ${redirectUri} carries no code: ${next.href}`);
      return code;
    }
    url = next;
  }
  throw new Error('too many redirects while following the authorization URL');
}

/** In-memory OAuthClientProvider whose "browser" is followAuthorization(). */
class HeadlessOAuthProvider {
  constructor(redirectUri) {
    this._redirectUri = redirectUri;
    this._clientInformation = undefined;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this._discoveryState = undefined;
    this._state = undefined;
    this.authorizationCode = undefined;
  }

  get redirectUrl() {
    return this._redirectUri;
  }

  get clientMetadata() {
    return {
      client_name: 'rest2mcp e2e client',
      redirect_uris: [this._redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this._state = crypto.randomBytes(16).toString('base64url');
    return this._state;
  }

  clientInformation() {
    return this._clientInformation;
  }

  saveClientInformation(clientInformation) {
    log(`registered client ${clientInformation.client_id}`);
    this._clientInformation = clientInformation;
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    log(`got tokens (token_type ${tokens.token_type}, scope ${tokens.scope ?? '-'}, refresh ${tokens.refresh_token ? 'yes' : 'no'})`);
    this._tokens = tokens;
  }

  saveCodeVerifier(codeVerifier) {
    this._codeVerifier = codeVerifier;
  }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no PKCE code verifier saved');
    return this._codeVerifier;
  }

  discoveryState() {
    return this._discoveryState;
  }

  saveDiscoveryState(state) {
    this._discoveryState = state;
  }

  invalidateCredentials(scope) {
    log(`invalidating credentials: ${scope}`);
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discoveryState = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    const shown = new URL(authorizationUrl);
    log(`authorization URL ${shown.origin}${shown.pathname} with ${[...shown.searchParams.keys()].join(', ')}`
      + ` (scope=${shown.searchParams.get('scope') ?? ''}, resource=${shown.searchParams.get('resource') ?? ''})`);
    this.authorizationCode = await followAuthorization(authorizationUrl, this._redirectUri, this._state);
  }
}

function decodeJwtPayload(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

async function connect(mcpUrl, authProvider) {
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider, fetch: tracingFetch });
  const client = new Client({ name: 'rest2mcp-e2e', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function main() {
  const mcpUrl = new URL(mcpUrlText);
  const args = JSON.parse(jsonArgs);
  const redirectUri = process.env.MCP_REDIRECT_URI || 'http://127.0.0.1:53682/callback';
  const authProvider = new HeadlessOAuthProvider(redirectUri);

  let session;
  const firstTransport = new StreamableHTTPClientTransport(mcpUrl, { authProvider, fetch: tracingFetch });
  const firstClient = new Client({ name: 'rest2mcp-e2e', version: '0.0.0' });
  try {
    await firstClient.connect(firstTransport);
    log('connected without authorization');
    session = { client: firstClient, transport: firstTransport };
  } catch (error) {
    if (authProvider.authorizationCode === undefined) throw error;
    log(`first connect ended as expected (${error?.constructor?.name}: ${error?.message}); finishing authorization`);
    await firstTransport.finishAuth(authProvider.authorizationCode);
    await firstClient.close().catch(() => {});
    session = await connect(mcpUrl, authProvider);
  }

  const { tools } = await session.client.listTools();
  const result = await session.client.callTool({ name: toolName, arguments: args });
  const accessToken = (await authProvider.tokens())?.access_token;
  await session.client.close().catch(() => {});

  const line = JSON.stringify({
    tools: tools.map((tool) => tool.name),
    result,
    token_claims: decodeJwtPayload(accessToken),
  });
  process.stdout.write(`${line}\n`, () => process.exit(0));
}

main().catch((error) => {
  log('failed:', error?.stack ?? error);
  process.exit(1);
});
