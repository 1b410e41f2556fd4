/**
 * The pipeline floor: the least a gateway that keeps the rules can add to a call on this machine.
 * A bare `node:http` proxy that does, per tools/call and in order, only the serial work R26, R15
 * and issue 5 point 6 require before forwarding, with the gateway's own parts and nothing else:
 *
 * 1. the rate limits: the gateway's `CallLimiter`, one atomic script in Redis (three windows and
 *    the in-flight slot), because the intent record carries the rate-limit state;
 * 2. the intent: one audit record, encoded and hash-chained by the gateway's `chainedRow`, committed
 *    durably by the writer's own INSERT on a plain prepared `pg` connection (no pool, no batching);
 * 3. the upstream: the same stdio echo server, as JSON-RPC lines on its stdin and stdout.
 *
 * No identity, no policy, no session, no outcome record, no framework, no validation: every one of
 * those only adds. The MCP handshake is answered from constants and results go back as JSON.
 *
 * Run: `node dist/bench/pipeline-floor-server.js <postgres url of a migrated database> <redis url>
 * <key prefix>`; prints its MCP URL on the first stdout line.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { AUDIT_INSERT, chainedRow, GENESIS_HASH } from '@gatehouse/audit';
import { createLogger } from '@gatehouse/observability';
import { CallLimiter, RedisHealth, type LimitCheck } from '@gatehouse/rate-limit';
import { sampleRecord } from './audit-sample';

type JsonRpc = { jsonrpc: '2.0'; id?: number | string; method?: string; params?: Record<string, unknown> };

/** The echo server over stdio, one JSON-RPC message a line. */
function startUpstream(): {
  call(method: string, params: unknown): Promise<Record<string, unknown>>;
  notify(method: string): void;
} {
  const child = spawn(process.execPath, [join(__dirname, 'echo-stdio-server.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as Record<string, unknown>;
    const done = waiting.get(message.id as number);
    waiting.delete(message.id as number);
    done?.(message);
  });
  let nextId = 0;
  return {
    call: (method, params) =>
      new Promise((resolve) => {
        nextId += 1;
        waiting.set(nextId, resolve);
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: nextId, method, params })}\n`);
      }),
    notify: (method) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`),
  };
}

async function main([databaseUrl, redisUrl, keyPrefix]: string[]): Promise<void> {
  if (!databaseUrl || !redisUrl || !keyPrefix)
    throw new Error('usage: pipeline-floor-server <postgres url> <redis url> <key prefix>');
  const logger = createLogger('warn');
  const redis = new Redis(redisUrl);
  const limiter = new CallLimiter(redis, keyPrefix, new RedisHealth(logger, undefined, 1), 1);
  const pg = new Client({ connectionString: databaseUrl });
  pg.on('error', (err) => {
    process.stderr.write(`pipeline floor: Postgres connection lost: ${err.message}\n`);
    process.exit(1);
  });
  await pg.connect();
  const upstream = startUpstream();
  await upstream.call('initialize', {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'gatehouse-bench-floor', version: '1.0.0' },
  });
  upstream.notify('notifications/initialized');

  const writerId = randomUUID();
  let seq = 0;
  let prev = GENESIS_HASH;
  const LIMIT = 1_000_000_000;
  const checks: LimitCheck[] = [
    { name: 'rule', key: 'rule:floor:bench', points: LIMIT },
    { name: 'user', key: 'user:bench', points: LIMIT },
    { name: 'tool', key: 'tool:echo:echo', points: LIMIT },
  ];

  const toolsCall = async (message: JsonRpc): Promise<Record<string, unknown>> => {
    const limits = await limiter.check(
      checks,
      { principal: 'bench', limit: LIMIT, ttlMs: 90_000 },
      Date.now() + 1000,
    );
    // The limiter falls back to in-memory counts when Redis fails: the floor would then skip the
    // round trip it exists to measure, so such a call is an error in the report instead.
    if (limits.limits.some((state) => state.degraded))
      throw new Error('Redis did not answer: the limits were counted in memory');
    const intent = { ...sampleRecord(0), server: 'echo', tool: 'echo', rateLimit: { limits: limits.limits } };
    seq += 1;
    const { row, hash } = chainedRow(intent, writerId, seq, prev);
    prev = hash;
    await pg.query({ name: 'floor_intent', text: AUDIT_INSERT, values: [JSON.stringify([row])] });
    const answer = await upstream.call('tools/call', message.params);
    // The slot goes back after the answer, as the gateway's after-hook does.
    const lease = limits.inFlight?.lease;
    if (lease) setImmediate(() => void limiter.inFlight.release(lease, 1000));
    return { ...answer, id: message.id };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
        return;
      }
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonRpc;
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const reply = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
        res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (message.method === 'initialize') {
        reply(
          {
            jsonrpc: '2.0',
            id: message.id,
            result: {
              protocolVersion: message.params?.protocolVersion,
              capabilities: { tools: {} },
              serverInfo: { name: 'gatehouse-bench-floor', version: '1.0.0' },
            },
          },
          { 'mcp-session-id': randomUUID() },
        );
        return;
      }
      toolsCall(message).then(reply, (err: unknown) =>
        reply({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: String(err) } }),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    redis.disconnect();
    void pg.end().finally(() => process.exit(0));
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
