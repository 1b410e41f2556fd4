import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { INGEST_PATH, type IngestRequest } from '@gatehouse/audit';
import { policyWorld, SEED_POLICY, sessionFor, type PolicyWorld } from '../support/policy-world';
import { initializeBody, rawPost } from '../transport/helpers';

/**
 * Issue 13 point 6 (R20) end to end: two principals at once on a real gateway (the seed policy,
 * the development IdP, `server-postgres` on a real database and `server-everything` as `zendesk`)
 * put secrets where the redaction used to miss them: inside sentences, under secret-named keys
 * holding arrays, in JSON held by a string, in SQL that sets a password, in a resource URI, in an
 * upstream's error message, in the client's name and in calls a bridge reports through ingest. None
 * may reach the real `audit_event` table, the audit query API, or a log line. (`npm run build`
 * first: the development IdP runs from dist.)
 */

/** Every secret the test plants, each unique so a hit names the path it leaked through. */
const SECRET = {
  sentenceBearer: 'bobSentenceBearer7x9',
  assignment: 'bob-assigned-pw-31',
  arrayUnderKey: 'bob-array-token-52',
  objectUnderKey: 'bob-object-pw-64',
  jsonInString: 'bob-json-apikey-77',
  connString: 'bob-conn-pw-88',
  clientName: 'bobClientTok1234',
  sqlPassword: 'alice-alter-pw-19',
  sqlCreateUser: 'alice-create-pw-23',
  uriToken: 'bob-uri-token-41',
  uriSig: 'bob-uri-sig-42',
  aliceUriToken: 'alice-uri-token-43',
  ingestArg: 'alice-ingest-pw-90',
  ingestUri: 'alice-ingest-uri-91',
  ingestError: 'alice-ingest-err-92',
  awsKey: 'AKIAIOSFODNN7BOBKEY1',
};

async function query<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Every secret found in `text`, by name. */
function leaked(text: string): string[] {
  return Object.entries(SECRET)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

describe('13.6 R20: secrets never reach the audit table, the audit API or the log', () => {
  let world: PolicyWorld;

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY });
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  /** A 2025-era session for `user` whose client names itself `clientName`. */
  async function session(user: string, clientName: string) {
    const headers = { authorization: `Bearer ${await world.token(user)}` };
    const init = await rawPost(`${world.gw.url}/mcp`, initializeBody(1, '2025-06-18', clientName), headers);
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id') as string;
    let id = 1;
    return (method: string, params: Record<string, unknown>) =>
      rawPost(`${world.gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }), {
        ...headers,
        'mcp-session-id': sid,
      });
  }

  it('13.6 R20: alice and bob plant secrets in arguments, SQL, URIs, errors, client names and ingest; none is stored or logged', async () => {
    const bob = await session('bob', `support-agent Bearer ${SECRET.clientName}`);
    const alice = await sessionFor(world.gw, await world.token('alice'));

    const [echo, sqlAlter, sqlCreate, bobRead, aliceRead] = await Promise.all([
      // Allowed for bob (support on zendesk): the real echo tool answers.
      bob('tools/call', {
        name: 'zendesk__echo',
        arguments: {
          message: `retry with Bearer ${SECRET.sentenceBearer} then password=${SECRET.assignment} on postgres://app:${SECRET.connString}@db:5432/prod, key ${SECRET.awsKey}`,
          tokens: [SECRET.arrayUnderKey],
          credentials: { user: 'svc', pw: SECRET.objectUnderKey },
          payload: JSON.stringify({ user: 'bob', nested: { apiKey: SECRET.jsonInString } }),
        },
      }),
      // Denied for alice (a write on postgres-prod); the intent is recorded with its arguments.
      alice('tools/call', {
        name: 'postgres-prod__query',
        arguments: { sql: `ALTER ROLE postgres PASSWORD '${SECRET.sqlPassword}'` },
      }),
      alice('tools/call', {
        name: 'postgres-prod__query',
        arguments: { sql: `CREATE USER mallory WITH LOGIN ENCRYPTED PASSWORD '${SECRET.sqlCreateUser}'` },
      }),
      // Forwarded for bob: the upstream does not know the URI and says so, quoting it.
      bob('resources/read', {
        uri: `zendesk+demo://resource/dynamic/text/1?access_token=${SECRET.uriToken}&sig=${SECRET.uriSig}`,
      }),
      // Denied for alice (nothing allows her zendesk).
      alice('resources/read', { uri: `zendesk+https://files.example/q3.pdf?token=${SECRET.aliceUriToken}` }),
    ]);
    expect(echo.json.result?.content?.[0]?.text).toContain('Echo:');
    expect(sqlAlter.json.error).toBeDefined();
    expect(sqlCreate.json.error).toBeDefined();
    expect(bobRead.json.error?.message).toContain(SECRET.uriToken);
    expect(aliceRead.json.error).toBeDefined();

    // Calls alice's bridge ran itself on a direct server and reports: one the policy refuses.
    const ingest: IngestRequest = {
      mode: 'shadow',
      calls: [
        {
          id: randomUUID(),
          server: 'zendesk',
          method: 'resources/read',
          params: { uri: `https://files.example/export.csv?access_token=${SECRET.ingestUri}` },
          startedAt: new Date(Date.now() - 60_000).toISOString(),
          durationMs: 12,
          status: 'error',
          errorCode: -32603,
          errorMessage: `fetch failed for https://svc:${SECRET.ingestError}@files.example/export.csv`,
        },
        {
          id: randomUUID(),
          server: 'postgres-prod',
          method: 'tools/call',
          params: { name: 'query', arguments: { sql: `SELECT 1 -- password=${SECRET.ingestArg}` } },
          startedAt: new Date(Date.now() - 30_000).toISOString(),
          durationMs: 3,
          status: 'ok',
        },
      ],
    };
    const ingested = await fetch(`${world.gw.url}${INGEST_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await world.token('alice')}` },
      body: JSON.stringify(ingest),
    });
    expect(ingested.status).toBe(200);
    expect(((await ingested.json()) as { stored: number }).stored).toBe(2);

    // The real audit table: each call above has its rows, and no secret is in any row.
    let rows: Array<{ principal_subject: string; method: string; outcome: string; row: string }> = [];
    const deadline = Date.now() + 10_000;
    do {
      rows = await query(
        // gatewayWith's scratch database (PolicyWorld's type does not name it).
        world.gw.databaseUrl,
        `SELECT principal_subject, method, outcome, row_to_json(a)::text AS row FROM audit_event a WHERE kind <> 'admin'`,
      );
      if (rows.filter((r) => r.outcome !== 'allowed' && r.outcome !== 'denied').length >= 5) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    const stored = rows.map((r) => r.row).join('\n');
    expect(stored).toContain('[redacted]');
    expect(rows.filter((r) => r.outcome === 'shadow')).toHaveLength(4);
    expect(rows.filter((r) => r.method === 'resources/read').length).toBeGreaterThanOrEqual(6);
    expect(leaked(stored)).toEqual([]);

    // The audit query API (what an auditor and the exports read).
    const frank = { authorization: `Bearer ${await world.token('frank')}` };
    const api = await fetch(`${world.gw.url}/api/v1/audit/events.jsonl`, { headers: frank });
    expect(api.status).toBe(200);
    const exported = await api.text();
    expect(exported).toContain('[redacted]');
    expect(leaked(exported)).toEqual([]);

    // The gateway's log lines (session opened with the client's name, the ingest warning naming
    // the refused resource, errors).
    const logs = world.gw.logs.join('');
    expect(logs).toContain('session opened');
    expect(logs).toContain('a reported call the policy would refuse');
    expect(leaked(logs)).toEqual([]);
  }, 60_000);
});
