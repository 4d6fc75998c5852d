// A real OAuth 2.1 / OpenID Connect authorization server for rest2mcp's end-to-end tests,
// built on `oidc-provider`, with headless (auto-approving) interactions.
//
// Environment:
//   AS_PORT   port to listen on at 127.0.0.1 (0 = pick a free one); the issuer is exactly
//             http://127.0.0.1:<port>
//   RESOURCE  the protected resource URL (RFC 8707 resource indicator), e.g.
//             http://127.0.0.1:43123/mcp/petstore. Several may be given, space-separated;
//             the first is the default resource when a request names none.
//   SCOPES    space-separated scopes the resource accepts, e.g. "pets:read pets:write"
//   USER_ID   the account that is logged in automatically (default "alice")
//   USER_EMAIL its email claim (default "<USER_ID>@example.com")
//   PUBLIC_CLIENT  "<client_id> <redirect_uri>": a registered public client (no secret, PKCE),
//             such as the admin console's (optional; others register dynamically)
//
// stdout: exactly one line, "ready http://127.0.0.1:<port>", once listening.
// stderr: everything else (one line per HTTP request, provider errors).
// Exits 0 on SIGTERM / SIGINT.

import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// stdout carries only the "ready" line: oidc-provider's notices (console.info) go to stderr.
console.log = console.error;
console.info = console.error;

const log = (...args) => console.error('auth_server:', ...args);

function fail(message) {
  log(message);
  process.exit(2);
}

const words = (value) => (value ?? '').split(/\s+/).filter(Boolean);

const portText = process.env.AS_PORT;
if (portText === undefined || !/^\d+$/.test(portText) || Number(portText) > 65535) {
  fail(`AS_PORT must be a port number (got ${JSON.stringify(portText)})`);
}
const resources = words(process.env.RESOURCE);
if (resources.length === 0) fail('RESOURCE must name the protected resource URL');
for (const resource of resources) {
  if (!URL.canParse(resource) || resource.includes('#')) fail(`RESOURCE is not an absolute URL without fragment: ${resource}`);
}
const resourceScopes = words(process.env.SCOPES);
const userId = process.env.USER_ID || 'alice';
const userEmail = process.env.USER_EMAIL || `${userId}@example.com`;
const publicClient = words(process.env.PUBLIC_CLIENT);
if (publicClient.length !== 0 && publicClient.length !== 2) fail('PUBLIC_CLIENT is "<client_id> <redirect_uri>"');

// Listen first, so that AS_PORT=0 works: the issuer needs the real port.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(portText), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-rs256', alg: 'RS256', use: 'sig' };

const oidcScopes = ['openid', 'offline_access', 'email', 'profile'];

const provider = new Provider(issuer, {
  clients: publicClient.length === 2 ? [{
    client_id: publicClient[0],
    redirect_uris: [publicClient[1]],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }] : [],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // Resource scopes must be listed too: dynamic registration validates a client's `scope`
  // metadata against this list, and the MCP SDK registers with the resource's scopes.
  scopes: [...new Set([...oidcScopes, ...resourceScopes])],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: userEmail, email_verified: true, name: sub, preferred_username: sub };
      },
    };
  },
  // RFC 9068 access tokens carry the user's email too.
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'AccessToken' && token.accountId) return { email: userEmail };
    return undefined;
  },
  // Every client allowed the refresh_token grant gets a refresh token (not only with offline_access).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    Grant: 86400,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 86400,
  },
  responseTypes: ['code'], // OAuth 2.1: authorization code flow only
  pkce: { required: () => true }, // only S256 is supported by oidc-provider 9
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true }, // open RFC 7591 dynamic client registration
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(_ctx, _client, oneOf) {
        return oneOf ?? resources[0];
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(_ctx, resourceIndicator) {
        if (!resources.includes(resourceIndicator)) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        return {
          audience: resourceIndicator,
          scope: resourceScopes.join(' '),
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  interactions: {
    url(_ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  async renderError(ctx, out, error) {
    log('rendered error:', JSON.stringify(out), error?.stack ?? '');
    ctx.type = 'json';
    ctx.body = out;
  },
});

for (const event of [
  'server_error',
  'authorization.error',
  'grant.error',
  'registration_create.error',
  'introspection.error',
  'revocation.error',
  'discovery.error',
  'jwks.error',
  'userinfo.error',
]) {
  provider.on(event, (...args) => {
    const error = args.find((arg) => arg instanceof Error);
    log(`${event}:`, error?.message ?? '', error?.error_description ?? '');
  });
}

// Headless interactions: log USER_ID in, then grant everything the request asked for.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session, grantId } = details;

  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: userId } }, { mergeWithLastSubmission: false });
    return;
  }

  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session?.accountId ?? userId, clientId: params.client_id });
  const missing = prompt.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const savedGrantId = await grant.save();
  const consent = grantId ? {} : { grantId: savedGrantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

const providerCallback = provider.callback();

server.on('request', (req, res) => {
  res.on('finish', () => log(req.method, req.url, '->', res.statusCode));
  const { pathname } = new URL(req.url, issuer);
  if (req.method === 'GET' && pathname.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      log('interaction failed:', error?.stack ?? error);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'application/json' });
      }
      res.end(JSON.stringify({ error: 'interaction_failed', error_description: String(error?.message ?? error) }));
    });
    return;
  }
  providerCallback(req, res);
});

function shutdown(signal) {
  log(`${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

log(`issuer ${issuer}; resources ${resources.join(' ')}; scopes ${resourceScopes.join(' ') || '(none)'}; user ${userId} <${userEmail}>`);
process.stdout.write(`ready ${issuer}\n`);
