import http from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ECHO_TOOL } from './echo-server';

/** How much one measured phase may do: whichever limit is reached first ends it. */
export interface PhaseLimits {
  calls: number;
  maxMs: number;
}

/** Raw outcome of one run of {@link drive}. */
export interface Samples {
  /** Latency of each successful call, in ms, in completion order. */
  latencies: Float64Array;
  errors: number;
  elapsedMs: number;
  /** Ended by the time limit before the call count was reached. */
  timedOut: boolean;
}

/** What one phase of tools/call traffic produced. */
export interface PhaseResult {
  clients: number;
  calls: number;
  errors: number;
  elapsedMs: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  timedOut: boolean;
}

const ARGUMENTS = { text: 'hello from the gatehouse bench' };

/** Opens `count` SDK clients (2025-era initialize handshake, the SDK's default) against `url`. */
export async function connectClients(
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const client = new Client({ name: `gatehouse-bench-${i}`, version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    clients.push(client);
  }
  return clients;
}

export async function closeClients(clients: Client[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.close()));
}

/** The value below which `p` of the sorted samples fall (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * Every client calls the echo tool back to back (a closed loop: one call in flight per client)
 * until the call count or time limit is reached. Latency is taken per call around
 * `client.callTool`, so it includes the SDK client's own work on both paths alike.
 */
export async function drive(clients: Client[], limits: PhaseLimits): Promise<Samples> {
  const latencies = new Float64Array(limits.calls);
  let issued = 0;
  let recorded = 0;
  let errors = 0;
  let firstError: unknown;
  const started = performance.now();
  const deadline = started + limits.maxMs;

  const worker = async (client: Client) => {
    while (issued < limits.calls && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        const result = await client.callTool({ name: ECHO_TOOL, arguments: ARGUMENTS });
        if (result.isError)
          throw new Error(`the echo tool reported an error: ${JSON.stringify(result.content)}`);
        latencies[recorded++] = performance.now() - t0;
      } catch (error) {
        errors++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(clients.map(worker));
  const elapsedMs = performance.now() - started;
  if (errors > 0 && recorded === 0) throw firstError;
  return { latencies: latencies.subarray(0, recorded), errors, elapsedMs, timedOut: issued < limits.calls };
}

/** Merges the rounds of one phase into its figures. */
export function summarise(clients: number, rounds: Samples[]): PhaseResult {
  const calls = rounds.reduce((n, r) => n + r.latencies.length, 0);
  const sorted = new Float64Array(calls);
  let offset = 0;
  for (const r of rounds) {
    sorted.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  sorted.sort();
  const elapsedMs = rounds.reduce((t, r) => t + r.elapsedMs, 0);
  return {
    clients,
    calls,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    elapsedMs,
    callsPerSecond: (calls / elapsedMs) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    timedOut: rounds.some((r) => r.timedOut),
  };
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'gatehouse-bench-idle', version: '1.0.0' },
  },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/**
 * Opens `count` sessions that then stay idle: initialize plus the initialized notification,
 * nothing else, as a client that connected and has not called anything yet. Returns their ids.
 */
export async function openIdleSessions(url: string, count: number, concurrency: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const init = await fetch(url, { method: 'POST', headers: HEADERS, body: INITIALIZE });
      const id = init.headers.get('mcp-session-id');
      await init.arrayBuffer();
      if (!init.ok || !id) throw new Error(`initialize failed with HTTP ${init.status}`);
      const ack = await fetch(url, {
        method: 'POST',
        headers: { ...HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
        body: INITIALIZED,
      });
      await ack.arrayBuffer();
      if (!ack.ok) throw new Error(`notifications/initialized failed with HTTP ${ack.status}`);
      ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

/**
 * One client, one keep-alive connection, plain `node:http` requests carrying the same tools/call
 * body: the load for the floor server, which speaks no MCP.
 */
export async function driveRaw(port: number, calls: number): Promise<Samples> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (id: number) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve());
        },
      );
      req.once('error', reject);
      req.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: ECHO_TOOL, arguments: ARGUMENTS },
        }),
      );
    });
  const latencies = new Float64Array(calls);
  const started = performance.now();
  try {
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await call(i);
      latencies[i] = performance.now() - t0;
    }
  } finally {
    agent.destroy();
  }
  return { latencies, errors: 0, elapsedMs: performance.now() - started, timedOut: false };
}
