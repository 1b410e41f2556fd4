import { policyApi, Tokens } from '../policy-lifecycle/support';
import { policyWorld, SEED_POLICY, sessionFor, type PolicyWorld } from '../support/policy-world';
import { initializeBody, rawPost } from '../transport/helpers';

/** R9 and R11: every call is decided by the version active at that moment, in every protocol era. */
const MODERN = '2026-07-28';
const modernMeta = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('policy decisions across versions and eras', () => {
  let world: PolicyWorld;

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY });
  });
  afterAll(async () => world.close());

  /** One tools/call from alice under `version`: a 2025 session, or 2026-07-28 with no session. */
  async function callAs(version: string, name: string, args: Record<string, unknown>) {
    const auth = { authorization: `Bearer ${await world.token('alice')}`, 'mcp-protocol-version': version };
    const url = `${world.gw.url}/mcp`;
    if (version === MODERN) {
      return rawPost(
        url,
        JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name, arguments: args, _meta: modernMeta },
        }),
        auth,
      );
    }
    const init = await rawPost(url, initializeBody(1, version), auth);
    const headers = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id') as string };
    return rawPost(
      url,
      JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } }),
      headers,
    );
  }

  it('R11: a denied call is denied the same way under 2025-06-18, 2025-11-25 and 2026-07-28, and an allowed one allowed', async () => {
    const denials = [];
    for (const version of ['2025-06-18', '2025-11-25', MODERN]) {
      const denied = await callAs(version, 'postgres-prod__query', { sql: 'SELECT * FROM secret.api_keys' });
      denials.push({
        code: denied.json.error?.code,
        message: denied.json.error?.message,
        data: denied.json.error?.data,
      });
      const allowed = await callAs(version, 'postgres-prod__query', {
        sql: 'SELECT name FROM customers WHERE id = 2',
      });
      expect(JSON.stringify(allowed.json.result)).toContain('Globex');
    }
    expect(denials[0]).toMatchObject({ code: -32003, data: { reason: 'POLICY_DENIED' } });
    expect(denials[1]).toEqual(denials[0]);
    expect(denials[2]).toEqual(denials[0]);
  });

  it('R9: switching the policy mid-traffic, the very next call is decided by the new version', async () => {
    const alice = await sessionFor(world.gw, await world.token('alice'));
    const echo = () => alice('tools/call', { name: 'zendesk__echo', arguments: { message: 'hi' } });
    const before = await echo();
    expect(before.json.error).toMatchObject({ code: -32003, data: { decision: { policyVersion: 1 } } });

    const tokens = new Tokens({ issuer: world.idp.issuer, secrets: world.idp.secrets });
    const api = policyApi(world.gw.url, tokens);
    const grant = `${SEED_POLICY}
- id: data-platform-uses-zendesk
  subject: { group: data-platform }
  resource: { server: zendesk }
  action: '*'
`;
    const draft = await api.draft('carol', { 'seed.yaml': grant }, 'data-platform needs the ticket tools');
    expect(draft.status).toBe(201);
    const n = draft.json.number as number;
    expect((await api.step('carol', n, 'propose')).status).toBe(200);
    expect((await api.step('dave', n, 'approve', 'ok')).status).toBe(200);
    expect((await api.step('carol', n, 'activate', 'roll out')).status).toBe(200);

    const after = await echo();
    expect(after.json.error).toBeUndefined();
    expect(JSON.stringify(after.json.result)).toContain('hi');
    const secret = await alice('tools/call', {
      name: 'postgres-prod__query',
      arguments: { sql: 'SELECT * FROM secret.api_keys' },
    });
    expect(secret.json.error.data.decision.policyVersion).toBe(n);
  });
});
