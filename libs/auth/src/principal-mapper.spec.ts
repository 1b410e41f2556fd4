import { parseConfigText } from '@gatehouse/config';
import { PrincipalMapper, readPath, scopesOf } from './principal-mapper';

const mapper = (yaml: string, env: NodeJS.ProcessEnv = { OIDC_ISSUER: 'https://idp.test' }) =>
  new PrincipalMapper(parseConfigText(yaml, env).config);

describe('PrincipalMapper', () => {
  it('reads sub, name, email and groups, and maps console roles from groups', () => {
    const p = mapper('auth:\n  roles:\n    admin: [gh-admins]\n    auditor: [audit, gh-admins]\n').fromClaims(
      {
        iss: 'https://idp.test',
        sub: 'u-1',
        name: 'Carol',
        email: 'carol@example.com',
        groups: ['gh-admins', 'staff'],
        azp: 'gatehouse-cli',
        scope: 'openid mcp',
        exp: 2_000_000_000,
      },
    );
    expect(p).toMatchObject({
      kind: 'user',
      issuer: 'https://idp.test',
      subject: 'u-1',
      name: 'Carol',
      email: 'carol@example.com',
      groups: ['gh-admins', 'staff'],
      roles: ['admin', 'auditor'],
      clientId: 'gatehouse-cli',
      scopes: ['openid', 'mcp'],
      expiresAt: 2_000_000_000_000,
    });
  });

  it.each([
    ['roles', { roles: ['a', 'b'] }],
    ['realm_access.roles', { realm_access: { roles: ['a', 'b'] } }],
    ['https://example.com/groups', { 'https://example.com/groups': ['a', 'b'] }],
  ])('reads groups from the configured claim path %s', (path, claims) => {
    const p = mapper(`auth:\n  claims:\n    groups: ${JSON.stringify(path)}\n`).fromClaims({
      sub: 'x',
      ...claims,
    });
    expect(p.groups).toEqual(['a', 'b']);
  });

  it('grants no role without a matching group', () => {
    expect(
      mapper('auth:\n  roles:\n    admin: [gh-admins]\n').fromClaims({ sub: 'x', groups: ['staff'] }).roles,
    ).toEqual([]);
  });

  it('treats a client-credentials token as a service account with its configured groups', () => {
    const p = mapper('auth:\n  serviceAccounts:\n    ci-bot:\n      groups: [ci]\n').fromClaims({
      sub: 'ci-bot',
      client_id: 'ci-bot',
    });
    expect(p).toMatchObject({ kind: 'service', subject: 'ci-bot', clientId: 'ci-bot', groups: ['ci'] });
  });

  it('recognises Entra ID app tokens and Auth0 client-credentials tokens as services', () => {
    const m = mapper('');
    expect(m.fromClaims({ sub: 'oid-1', azp: 'app-1', idtyp: 'app' }).kind).toBe('service');
    expect(m.fromClaims({ sub: 'app-2@clients', azp: 'app-2', gty: 'client-credentials' }).kind).toBe(
      'service',
    );
  });

  it("13.8: never gives a person's token the groups of the service account whose client issued it", () => {
    const m = mapper(
      'auth:\n  roles:\n    admin: [ci]\n  serviceAccounts:\n    ci-bot:\n      groups: [ci]\n    kc-bot:\n      groups: [ci]\n      subject: 0f1e-sa-user\n',
    );
    for (const claims of [
      { sub: 'alice', azp: 'ci-bot', email: 'alice@example.com', groups: ['support'] },
      { sub: 'alice', client_id: 'ci-bot' },
      { sub: '5b2c-alice', azp: 'kc-bot', preferred_username: 'alice' },
    ]) {
      expect(m.fromClaims(claims)).toMatchObject({ kind: 'user', roles: [] });
      expect(m.fromClaims(claims).groups).not.toContain('ci');
    }
    // The clients' own tokens: sub is the client id, the configured subject, or Keycloak's service-account user.
    expect(m.fromClaims({ sub: 'ci-bot', azp: 'ci-bot' })).toMatchObject({ kind: 'service', groups: ['ci'] });
    expect(m.fromClaims({ sub: '0f1e-sa-user', azp: 'kc-bot' })).toMatchObject({
      kind: 'service',
      groups: ['ci'],
    });
    expect(
      m.fromClaims({ sub: '77aa-user-id', azp: 'ci-bot', preferred_username: 'service-account-ci-bot' }),
    ).toMatchObject({ kind: 'service', groups: ['ci'], roles: ['admin'] });
  });

  it('records a certificate binding (RFC 8705 cnf)', () => {
    expect(mapper('').fromClaims({ sub: 'x', cnf: { 'x5t#S256': 'abc' } }).boundCertificate).toBe('abc');
  });

  it("maps the development IdP's role-named groups when no roles are configured in dev mode", () => {
    expect(mapper('', {}).fromClaims({ sub: 'erin', groups: ['incident-responder'] }).roles).toEqual([
      'incident-responder',
    ]);
    expect(mapper('').fromClaims({ sub: 'erin', groups: ['incident-responder'] }).roles).toEqual([]);
  });
});

describe('claim helpers', () => {
  it('reads scopes from scope (string) or scp (list or string)', () => {
    expect(scopesOf({ scope: 'a b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'a' })).toEqual(['a']);
    expect(scopesOf({})).toEqual([]);
  });

  it('reads dotted paths and missing paths', () => {
    expect(readPath({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
