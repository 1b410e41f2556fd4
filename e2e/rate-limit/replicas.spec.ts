import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { rawPost, serverBin } from '../transport/helpers';
import { spawnGateway, type GatewayProcess } from '../transport/processes';

/**
 * R26, R27: three built gateway processes (`npm run build` first) sharing one Redis key prefix
 * and one scratch Postgres database, a policy rule with `rate_limit_per_minute: 100`, and 1,000
 * concurrent calls spread across them: exactly 100 pass, the rest get -32029 with HTTP 429 and
 * Retry-After. `auth.mode: none`: every call is the one anonymous principal.
 */

const REPLICAS = 3;
const CALLS = 1000;

const POLICY = `- id: echo-limited
  subject: { any: true }
  resource: { server: everything }
  action: '*'
  conditions:
    rate_limit_per_minute: 100
`;

function yaml(db: ScratchDatabase, policyDir: string, redisPrefix: string): string {
  return [
    'auth:\n  mode: none\n',
    `database:\n  url: ${db.url}\n`,
    `redis:\n  url: redis://127.0.0.1:6379\n  keyPrefix: "${redisPrefix}"\n`,
    `policy:\n  dir: ${JSON.stringify(policyDir)}\n`,
    // The other limits stay out of the way, and Redis gets time enough under this burst that no
    // call falls back to a replica's degraded share (that is the other suite's subject).
    'rateLimit:\n  perUserPerMinute: 100000\n  perToolPerMinute: 100000\n  inFlightPerUser: 100000\n  redisTimeoutMs: 5000\n',
    `upstreams:\n  everything:\n    transport: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]\n`,
  ].join('');
}

/** One session-less 2026-07-28 tools/call of everything__echo. */
function echo(gw: GatewayProcess, id: number) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'rate-limit-replicas', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const params = { name: 'everything__echo', arguments: { message: `m${id}` }, _meta: meta };
  return rawPost(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }), {
    'mcp-protocol-version': '2026-07-28',
  });
}

describe('rate limits across replicas (R26, R27)', () => {
  let db: ScratchDatabase;
  const gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'ratelimit');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rl-policy-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    const config = yaml(db, dir, `test-rl-e2e-${randomUUID()}:`);
    // The first replica imports policy.dir into the empty database; the others find it active.
    gateways.push(await spawnGateway(config));
    for (let i = 1; i < REPLICAS; i++) gateways.push(await spawnGateway(config));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await db?.drop();
  });

  it('allows exactly 100 of 1,000 concurrent calls spread over three replicas; the rest get -32029, HTTP 429 and Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: CALLS }, (_, i) => echo(gateways[i % REPLICAS] as GatewayProcess, i + 1)),
    );
    const ok = answers.filter((a) => a.status === 200 && a.json?.result && !a.json.error);
    const limited = answers.filter((a) => a.json?.error?.code === -32029);
    // Per-process counting would allow 300: exactly 100 means one shared, atomic count.
    expect({ ok: ok.length, limited: limited.length }).toEqual({ ok: 100, limited: 900 });
    for (const a of limited) {
      expect(a.status).toBe(429);
      const retryAfter = Number(a.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(a.json.error.data).toMatchObject({
        retryAfterSeconds: retryAfter,
        limit: { name: 'rule', points: 100, remaining: 0 },
      });
    }
  }, 120_000);
});
