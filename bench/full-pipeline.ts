import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client as PgClient } from 'pg';
import { createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { ForgedIdp } from '../e2e/support/forged-idp';
import { startGatewayProcess, type GatewayChild } from './processes';

/** The resource the measured gateway is; the bench's tokens are issued for it. */
const AUDIENCE = 'https://gatehouse.bench/mcp';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? DEFAULT_SERVER_URL;

/**
 * A policy shaped like a real one (the seed article's rules plus an engineering team's tools),
 * so the decision walks several rules, globs and a CEL condition on the arguments, not one
 * allow-all rule.
 */
const BENCH_POLICY = `rules:
  - id: data-platform-reads
    subject: { group: data-platform }
    resource: { server: postgres-prod }
    action: read
    conditions:
      schemas: [public, analytics]
      rate_limit_per_minute: 60
  - id: support-zendesk
    subject: { group: support }
    resource: { server: zendesk }
    action: ['*']
    conditions:
      rate_limit_per_minute: 30
  - id: no-deletes
    effect: deny
    subject: { any: true }
    resource: { server: '*', tool: ['delete_*', 'drop_*'] }
    action: write
  - id: engineering-echo
    subject: { group: engineering }
    resource: { server: echo, tool: ['echo', 'get_*'] }
    action: ['*']
    conditions:
      when: 'size(args.text) <= 4096 && !args.text.startsWith("secret")'
      rate_limit_per_minute: 100000000
`;

/** The full-pipeline gateway and what its callers present. */
export interface FullPipeline {
  gateway: GatewayChild;
  /** `authorization` header value: an RS256 bearer token the gateway validates against the key set. */
  authorization: string;
  /** The gateway's audit database, migrated by the gateway at start. */
  databaseUrl: string;
  redisUrl: string;
  /** Every Redis key of this run starts with it; stop() removes them. */
  keyPrefix: string;
  stop(): Promise<void>;
}

/** Why the full pipeline could not be measured here (Postgres or Redis missing), or undefined. */
export async function fullPipelineUnavailable(): Promise<string | undefined> {
  const pg = new PgClient({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await pg.connect();
  } catch (error) {
    return `Postgres at ${POSTGRES_URL} is not reachable (${String(error)})`;
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    return `Redis at ${REDIS_URL} is not reachable (${String(error)})`;
  } finally {
    redis.disconnect();
  }
  return undefined;
}

/**
 * A gateway in the production shape, every pipeline stage doing its real work per call:
 * identity (RS256 bearer token checked against an IdP key set on loopback), a multi-rule policy,
 * rate limits in Redis (per user, per tool, the rule's limit, in-flight), and the audit trail in
 * Postgres (the intent committed before the upstream, the outcome record after the answer, off the
 * call's path). The upstream is the same stdio echo as the `gateway-stdio` path.
 */
export async function startFullPipeline(): Promise<FullPipeline> {
  const idp = await ForgedIdp.start();
  const db = await createScratchDatabase(POSTGRES_URL, 'gh_bench_full');
  const policyDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-policy-'));
  writeFileSync(join(policyDir, 'bench.yaml'), BENCH_POLICY);
  const keyPrefix = `gh-bench-${process.pid}:`;
  const stdioServer = join(__dirname, 'echo-stdio-server.js');
  try {
    const gateway = await startGatewayProcess((dataDir) =>
      [
        'server: { port: 0, host: 127.0.0.1 }',
        'log: { level: warn }',
        `dataDir: ${JSON.stringify(dataDir)}`,
        `database: { url: ${JSON.stringify(db.url)} }`,
        `redis: { url: ${JSON.stringify(REDIS_URL)}, keyPrefix: ${JSON.stringify(keyPrefix)} }`,
        'auth:',
        `  issuer: ${JSON.stringify(idp.issuer)}`,
        `  audience: ${JSON.stringify(AUDIENCE)}`,
        '  algorithms: [RS256]',
        `policy: { dir: ${JSON.stringify(policyDir)} }`,
        // Checked in Redis on every call, never reached: the calls are measured, not refused.
        'rateLimit: { perUserPerMinute: 100000000, perToolPerMinute: 100000000, inFlightPerUser: 100000 }',
        'upstreams:',
        '  echo:',
        '    transport: stdio',
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(stdioServer)}]`,
        '    sharing: shared',
        '',
      ].join('\n'),
    );
    const token = await idp.sign(AUDIENCE, {
      sub: 'bench-engineer',
      groups: ['engineering'],
      exp: Math.floor(Date.now() / 1000) + 4 * 3600,
    });
    return {
      gateway,
      authorization: `Bearer ${token}`,
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      keyPrefix,
      stop: async () => {
        await gateway.stop();
        await idp.stop();
        await db.drop();
        rmSync(policyDir, { recursive: true, force: true });
        const redis = new Redis(REDIS_URL);
        const keys = await redis.keys(`${keyPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      },
    };
  } catch (error) {
    await idp.stop();
    await db.drop();
    rmSync(policyDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The floor under the audit intent: one single-row INSERT committed durably (WAL flushed) on the
 * same Postgres, from a plain client, p50 over `count` commits. The full pipeline waits for such a
 * commit before it forwards a call, so its added latency cannot go below this.
 */
export async function durableCommitP50Ms(count = 500): Promise<number> {
  const db = await createScratchDatabase(POSTGRES_URL, 'gh_bench_commit');
  const pg = new PgClient({ connectionString: db.url });
  try {
    await pg.connect();
    await pg.query(
      'CREATE TABLE commit_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL, body jsonb)',
    );
    const samples: number[] = [];
    for (let i = 0; i < count + 50; i++) {
      const t0 = process.hrtime.bigint();
      await pg.query('INSERT INTO commit_floor (at, body) VALUES (now(), $1)', ['{"tool":"echo"}']);
      if (i >= 50) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)] as number;
  } finally {
    await pg.end().catch(() => undefined);
    await db.drop();
  }
}
