// A real OpenID Connect provider (oidc-provider, a certified implementation) on 127.0.0.1 for the gateway sign-in
// tests. Its users are read from USERS_FILE (JSON: {"id": {"email", "groups"}}) on every lookup, so a test removes a
// user by rewriting the file; a refresh for a removed user then fails as it would at a real IdP (invalid_grant).
// The login and consent pages are oidc-provider's own development interactions, driven over HTTP by the tests.
//
//   node oidc_idp.mjs   env: PORT (0: a free one), USERS_FILE, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
//   prints "listening http://127.0.0.1:PORT" once it serves.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const usersFile = process.env.USERS_FILE;
const users = () => JSON.parse(readFileSync(usersFile, 'utf8'));

async function start() {
  const server = (await import('node:http')).createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: process.env.REDIRECT_URI.split(' '),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], email: ['email'], profile: ['name', 'groups'] },
    conformIdTokenClaims: false, // the scope's claims in the ID token too, where the gateway reads the groups
    cookies: { keys: ['claudewire-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
    async findAccount(ctx, id) {
      const user = users()[id];
      if (!user) return undefined; // removed at the IdP: no session, no refresh
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: user.email, name: id, groups: user.groups };
        },
      };
    },
  });
  provider.proxy = false;
  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
}

start().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
