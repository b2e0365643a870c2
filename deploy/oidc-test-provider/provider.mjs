// A test e-ID provider for chatcounsel's tests and `make demo`: an OpenID Connect provider
// (oidc-provider 9.x) on 127.0.0.1 that issues the Sweden Connect claims for a few test
// identities. NEVER deploy it: its key and storage live in memory, and anyone may sign in as
// any test identity. Production talks to the municipality's real e-ID broker.
//
// Env: OIDC_PORT (required), OIDC_HOST (default 127.0.0.1), OIDC_CLIENT_ID,
//      OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (space separated, exact match).
// Prints the test identities, then one line "READY <issuer>" when it accepts connections.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Provider } from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const HOST = env('OIDC_HOST', '127.0.0.1');
const PORT = Number(env('OIDC_PORT'));
const ISSUER = `http://${HOST}:${PORT}`;
const PNR = 'https://id.oidc.se/claim/personalIdentityNumber';
const LOA2 = 'http://id.elegnamnden.se/loa/1.0/loa2';
const LOA3 = 'http://id.elegnamnden.se/loa/1.0/loa3';

// Test identities, keyed by `sub`. The numbers are the well-known test person "Tolvan"
// (19121212-1212) and invented ones (1900-01-0x, valid check digit). The last two exist to
// show refusals: one without a personal identity number, one at a too-low level (LoA2).
const ACCOUNTS = {
  'test-subject-0001': { given_name: 'Tolvan', family_name: 'Tolvansson', [PNR]: '191212121212' },
  'test-subject-0002': { given_name: 'Testa', family_name: 'Testsson', [PNR]: '190001012384' },
  'test-subject-0003': { given_name: 'Provan', family_name: 'Provsdotter', [PNR]: '190001022391' },
  'test-subject-0004': { given_name: 'Utan', family_name: 'Nummer', note: 'no personal identity number' },
  'test-subject-0005': { given_name: 'Låg', family_name: 'Nivå', [PNR]: '190001032390', acr: LOA2, note: 'LoA2 only' },
};
const label = (p) => `${p.given_name} ${p.family_name}${p[PNR] ? ` (${p[PNR]})` : ''}${p.note ? ` [${p.note}]` : ''}`;

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: env('OIDC_REDIRECT_URIS').split(/\s+/).filter(Boolean),
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [{ ...jwk, kid: `test-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true }, // 9.x requires it only of public clients by default
  features: { devInteractions: { enabled: false } }, // the login page is served below
  acrValues: [LOA2, LOA3],
  claims: {
    acr: null, auth_time: null, iss: null, sid: null,
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    'https://id.oidc.se/scope/naturalPersonInfo': ['name', 'given_name', 'family_name'],
    'https://id.oidc.se/scope/naturalPersonNumber': [PNR],
  },
  conformIdTokenClaims: false, // the requested claims go into the ID token, as Sweden Connect's do
  async findAccount(ctx, sub) {
    const person = ACCOUNTS[sub];
    if (!person) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { note, acr, ...claims } = person;
        return { sub, name: `${person.given_name} ${person.family_name}`, ...claims };
      },
    };
  },
  // A test double of a broker: no consent screen of its own.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    await grant.save();
    return grant;
  },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};
const send = (res, status, html) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
};

// The login page: one button per test identity, and Cancel (ends in access_denied).
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') throw new Error(`unexpected prompt ${details.prompt.name}`);
  if (req.method === 'GET' && !action) {
    const buttons = Object.entries(ACCOUNTS).map(([sub, p]) => `<li><button type="submit"
      name="account" value="${esc(sub)}">${esc(label(p))}</button></li>`).join('');
    return send(res, 200, `<!doctype html><html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1"><title>Test e-ID</title></head>
      <body><h1>Test e-ID: choose a test identity</h1><p>Only for tests and the demo.</p>
      <form method="post" action="/interaction/${esc(uid)}/login"><ul>${buttons}</ul></form>
      <form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>
      </body></html>`);
  }
  if (req.method === 'POST' && action === 'login') {
    const account = (await readForm(req)).get('account');
    if (!ACCOUNTS[account]) return send(res, 400, 'unknown test identity');
    const acr = ACCOUNTS[account].acr ?? LOA3;
    return provider.interactionFinished(req, res, { login: { accountId: account, acr, amr: ['test'] } },
      { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'cancelled' },
      { mergeWithLastSubmission: false });
  }
  return send(res, 405, 'method not allowed');
}

const oidcHandler = provider.callback();
const server = createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(new URL(req.url, ISSUER).pathname);
  if (!match) return oidcHandler(req, res);
  return interaction(req, res, match[1], match[2]).catch((err) => {
    console.error('interaction error:', err.message);
    send(res, 400, `interaction failed: ${esc(err.message)}`);
  });
});

server.listen(PORT, HOST, () => {
  console.log('Test e-ID identities (choose one on the provider\'s page):');
  for (const p of Object.values(ACCOUNTS)) console.log(`  ${label(p)}`);
  console.log(`READY ${ISSUER}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
