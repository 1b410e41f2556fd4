import { dirname, join } from 'node:path';
import { parseConfigText } from '@gatehouse/config';
import { createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { Writable } from 'node:stream';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/bootstrap';
import { transportDefaults } from './processes';

/** Path of an installed npm MCP server's entry point (real upstreams, no mocks). */
export function serverBin(pkg: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
}

/** YAML for the reference `everything` server plus `memory`, both over stdio. */
export function demoUpstreamsYaml(
  everythingSharing: 'shared' | 'per-session' = 'per-session',
  /** Extra keys for `everything`, one per line, e.g. `roots: client`. */
  everythingKeys: string[] = [],
): string {
  return `
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
    sharing: ${everythingSharing}
${everythingKeys.map((k) => `    ${k}\n`).join('')}  memory:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-memory'))}]
`;
}

/** Starts a real gateway on a random port with the given YAML, logs kept in memory. */
export async function gatewayWith(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  /** Extra `server:` keys, one per line, e.g. `headersTimeoutMs: 1000`. */
  serverKeys: string[] = [],
  /** The URL the gateway reaches its scratch database by (e.g. through a `tcpProxy`); default direct. */
  databaseVia: (url: string) => string = (url) => url,
): Promise<RunningGateway & { logs: string[]; databaseUrl: string }> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  // Each gateway gets its own scratch database on the real Postgres, dropped when it closes.
  const db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gatehouse_e2e');
  const loaded = parseConfigText(
    `server:\n${serverKeys.some((k) => k.startsWith('port:')) ? '' : '  port: 0\n'}${serverKeys.map((k) => `  ${k}\n`).join('')}log:\n  level: info\ndatabase:\n  url: "\${GATEHOUSE_TEST_DB}"\n${transportDefaults(yaml)}`,
    { ...env, GATEHOUSE_TEST_DB: databaseVia(db.url) },
  );
  const gateway = await startGateway(loaded, { logDestination: sink });
  const close = gateway.close;
  return Object.assign(gateway, {
    logs,
    databaseUrl: db.url,
    close: async () => {
      await close();
      await db.drop();
    },
  });
}

/** A raw JSON-RPC POST, for the front-door cases no SDK client would send. */
export async function rawPost(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON-RPC shapes
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  let text = await res.text();
  if (res.headers.get('content-type')?.includes('text/event-stream')) {
    // The last event of a POST's stream is its response.
    const events = text.split('\n').filter((l) => l.startsWith('data: '));
    text = events.length > 0 ? (events[events.length - 1] as string).slice(6) : '';
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export function initializeBody(id = 1, protocolVersion = '2025-06-18', clientName = 'raw-test'): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: clientName, version: '1.0.0' } },
  });
}
