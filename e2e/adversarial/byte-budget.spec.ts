import { Client } from 'pg';
import { initializeBody, rawPost } from '../transport/helpers';
import { waitFor } from '../support/wait-for';
import { policyWorld, sessionFor, SEED_POLICY, type PolicyWorld } from '../support/policy-world';

/**
 * Issue 13 point 5, what a flood of multi-MB calls may cost: each one used to be read, parsed,
 * decided and audited with its whole arguments, whatever the caller had already sent. A budget of
 * request bytes per principal and minute (`rateLimit.bytesPerUserPerMinute`) is charged at the
 * front door, from Content-Length before the body is read, or from the bytes read of a chunked
 * body before it is parsed. bob (support) may call `zendesk` (server-everything); alice may read
 * `postgres-prod`.
 */
const BUDGET = 8 * 1024 * 1024;
const LIMITS = `rateLimit:
  bytesPerUserPerMinute: ${BUDGET}
  perUserPerMinute: 100000
  perToolPerMinute: 100000
`;

/** A ~3 MB echo call: three of them pass an 8 MiB budget. */
const BIG = 'x'.repeat(3_000_000);

type Caller = Awaited<ReturnType<typeof sessionFor>>;

describe('13.5 request bytes per principal: a multi-MB flood is refused before it is parsed', () => {
  let world: PolicyWorld;
  let alice: Caller;
  let bob: Caller;

  beforeAll(async () => {
    world = await policyWorld({ 'seed.yaml': SEED_POLICY }, LIMITS);
    alice = await sessionFor(world.gw, await world.token('alice'));
    bob = await sessionFor(world.gw, await world.token('bob'));
  }, 60_000);
  afterAll(async () => world?.close());

  const customers = (who: Caller) =>
    who('tools/call', {
      name: 'postgres-prod__query',
      arguments: { sql: 'SELECT name FROM public.customers ORDER BY id' },
    });

  it('13.5 R27: past his byte budget bob gets 429/-32029 with Retry-After before his bodies are parsed; alice is served correctly meanwhile; audited rate_limited, no record holds megabytes', async () => {
    const flood = async () => {
      const answers = [];
      for (let i = 0; i < 6; i++) {
        answers.push(await bob('tools/call', { name: 'zendesk__echo', arguments: { message: BIG } }));
      }
      return answers;
    };
    const [bobs, alices] = await Promise.all([
      flood(),
      Promise.all([1, 2, 3, 4].map(() => customers(alice))),
    ]);
    for (const res of alices) {
      expect(res.json.error).toBeUndefined();
      expect(JSON.stringify(res.json.result)).toMatch(/Acme.*Globex/);
    }
    // The first two fit in 8 MiB and are echoed whole (support may call zendesk); the third passes it.
    for (const res of bobs.slice(0, 2)) {
      expect(res.json.error).toBeUndefined();
      expect(res.json.result.content[0].text).toBe(`Echo: ${BIG}`);
    }
    for (const res of bobs.slice(2)) {
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // id null: the body was never parsed, so its id is unknown.
      expect(res.json.id).toBeNull();
      expect(res.json.error).toMatchObject({
        code: -32029,
        data: { reason: 'RATE_LIMITED', limit: { name: 'bytes', points: BUDGET, remaining: 0 } },
      });
      expect(res.json.error.message).toMatch(
        /request bytes.*8,388,608 bytes per minute.*before its body was parsed/,
      );
    }
    // A small call of his is refused too until the window ends: the budget is spent.
    const small = await bob('tools/call', { name: 'zendesk__echo', arguments: { message: 'hi' } });
    expect(small.status).toBe(429);
    // alice's budget is her own.
    expect(JSON.stringify((await customers(alice)).json.result)).toMatch(/Acme.*Globex/);

    const db = new Client({ connectionString: world.gw.databaseUrl });
    await db.connect();
    try {
      await waitFor('bob’s byte-budget refusals in the audit trail', async () => {
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_event
            WHERE kind = 'outcome' AND principal_subject = 'bob' AND outcome = 'rate_limited'
              AND method = '(body not parsed)' AND rate_limit->>'refused' = 'bytes'`,
        );
        return (rows[0]?.n ?? 0) >= 5;
      });
      const { rows } = await db.query<{ biggest: number | null }>(
        `SELECT max(octet_length(arguments::text))::int AS biggest FROM audit_event`,
      );
      // The redaction scan stores at most 512 KiB of arguments (plus its markers).
      expect(rows[0]?.biggest ?? 0).toBeLessThan(600 * 1024);
    } finally {
      await db.end();
    }
  }, 120_000);

  it('13.5 R27: a chunked body (no Content-Length) is charged by the bytes read, before it is parsed', async () => {
    const token = await world.token('carol');
    const init = await rawPost(`${world.gw.url}/mcp`, initializeBody(), { authorization: `Bearer ${token}` });
    const sid = init.headers.get('mcp-session-id') as string;
    const chunked = async (id: number) => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'zendesk__echo', arguments: { message: BIG } },
      });
      const bytes = new TextEncoder().encode(body);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 256 * 1024)
            controller.enqueue(bytes.slice(at, at + 256 * 1024));
          controller.close();
        },
      });
      const res = await fetch(`${world.gw.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
          'mcp-session-id': sid,
        },
        body: stream,
        duplex: 'half',
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
    };
    const statuses = [];
    for (let i = 2; i < 7; i++) statuses.push(await chunked(i));
    // 3 MB each: the third passes 8 MiB and is refused after it was read, before it was parsed;
    // the ones after are refused before they are read.
    expect(statuses.slice(0, 2).map((s) => s.status)).toEqual([200, 200]);
    for (const s of statuses.slice(2)) {
      expect(s.status).toBe(429);
      expect(Number(s.retryAfter)).toBeGreaterThan(0);
      expect(JSON.parse(s.text).error).toMatchObject({ code: -32029, data: { limit: { name: 'bytes' } } });
    }
  }, 120_000);
});
