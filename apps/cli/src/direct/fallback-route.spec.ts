import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import type { JSONRPCRequest, JSONRPCResponse } from '@modelcontextprotocol/client';

import { Logger } from '../bridge/logger';
import { FallbackRoute } from './fallback-route';
import { IngestClient } from './ingest-client';
import type { DirectTarget } from './legacy-config';
import { Spool } from './spool';
import { SpoolUploader } from './uploader';

const MEMORY_BIN = join(
  dirname(require.resolve('@modelcontextprotocol/server-memory/package.json')),
  'dist',
  'index.js',
);

const INITIALIZE: JSONRPCRequest = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'test-host', version: '1.0.0' },
  },
};

let nextId = 1;
function request(method: string, params: Record<string, unknown> = {}): JSONRPCRequest {
  return { jsonrpc: '2.0', id: nextId++, method, params };
}

function result(response: JSONRPCResponse): Record<string, unknown> {
  if (!('result' in response)) throw new Error(`expected a result, got ${JSON.stringify(response)}`);
  return response.result;
}

function error(response: JSONRPCResponse): { code: number; message: string; data?: { reason?: string } } {
  if (!('error' in response)) throw new Error(`expected an error, got ${JSON.stringify(response)}`);
  return response.error as { code: number; message: string; data?: { reason?: string } };
}

/**
 * The fallback route against the real reference `memory` server (stdio, from node_modules) and
 * a real spool on disk. The gateway plays no part here: the uploader's client is never called.
 */
describe('the fallback route', () => {
  const routes: FallbackRoute[] = [];

  function setup(options: { aggregated?: boolean; maxBytes?: number } = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fallback-'));
    const memoryFile = join(dir, 'memory.jsonl');
    const target: DirectTarget = {
      file: 'claude.json',
      upstream: 'memory',
      server: {
        kind: 'stdio',
        name: 'memory',
        command: process.execPath,
        args: [MEMORY_BIN],
        env: { MEMORY_FILE_PATH: memoryFile },
      },
    };
    const logger = new Logger({ format: 'text', level: 'silent', secrets: [] });
    const spool = new Spool({
      path: join(dir, 'spool', 's.jsonl'),
      maxBytes: options.maxBytes ?? 1_000_000,
      log: logger,
    });
    const route = new FallbackRoute({
      target,
      aggregated: options.aggregated ?? true,
      spool,
      // Never asked to upload in these tests; it points at a port where nothing listens.
      uploader: new SpoolUploader({
        spool,
        log: logger,
        client: new IngestClient({
          gateway: 'http://127.0.0.1:1',
          fetch: (url, init) => fetch(url, init),
          headers: {},
          bridgeVersion: 'test',
          timeoutMs: 1_000,
        }),
      }),
      logger,
      probe: () => Promise.resolve(false),
      timeoutMs: 20_000,
    });
    routes.push(route);
    return { route, spool, memoryFile };
  }

  afterEach(async () => {
    for (const route of routes.splice(0)) await route.close();
  });

  it('presents the direct server under the aggregated names and spools each call before answering', async () => {
    const { route, spool, memoryFile } = setup();
    const init = await route.handle(INITIALIZE, undefined);
    expect(result(init).serverInfo).toBeDefined();

    const tools = result(await route.handle(request('tools/list'), INITIALIZE)).tools as Array<{
      name: string;
    }>;
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['memory__create_entities', 'memory__read_graph']),
    );
    expect(tools.every((t) => t.name.startsWith('memory__'))).toBe(true);

    const created = await route.handle(
      request('tools/call', {
        name: 'memory__create_entities',
        arguments: { entities: [{ name: 'e1', entityType: 't', observations: [] }] },
      }),
      INITIALIZE,
    );
    expect(result(created).isError).toBeFalsy();
    expect(readFileSync(memoryFile, 'utf8')).toContain('e1');
    const [line] = await spool.read();
    expect(line).toMatchObject({
      mode: 'fallback',
      server: 'memory',
      method: 'tools/call',
      params: { name: 'create_entities' },
      status: 'ok',
      client: { name: 'test-host', version: '1.0.0' },
    });
    // Listings are not calls: only the one tools/call is spooled.
    expect(await spool.read()).toHaveLength(1);
  });

  it("refuses another upstream's tool without running anything", async () => {
    const { route, spool } = setup();
    const answer = await route.handle(
      request('tools/call', { name: 'github__delete_repo', arguments: {} }),
      INITIALIZE,
    );
    expect(error(answer)).toMatchObject({ code: -32053, data: { reason: 'NOT_ON_DIRECT' } });
    expect(error(answer).message).toMatch(/github__delete_repo is not on the direct server memory/);
    expect(await spool.read()).toEqual([]);
  });

  it('keeps the names as they are behind a per-server endpoint', async () => {
    const { route } = setup({ aggregated: false });
    const tools = result(await route.handle(request('tools/list'), INITIALIZE)).tools as Array<{
      name: string;
    }>;
    expect(tools.map((t) => t.name)).toContain('read_graph');
  });

  it('refuses a call, without running it, when the spool is full', async () => {
    const { route, spool, memoryFile } = setup({ maxBytes: 1 });
    await route.handle(request('tools/call', { name: 'memory__read_graph', arguments: {} }), INITIALIZE);
    expect(await spool.read()).toHaveLength(1);

    const answer = await route.handle(
      request('tools/call', {
        name: 'memory__create_entities',
        arguments: { entities: [{ name: 'never', entityType: 't', observations: [] }] },
      }),
      INITIALIZE,
    );
    expect(error(answer)).toMatchObject({ code: -32050, data: { reason: 'SPOOL_FULL' } });
    expect(error(answer).message).toMatch(/spool .* is full; the call was not run/);
    expect(existsSync(memoryFile) && readFileSync(memoryFile, 'utf8').includes('never')).toBe(false);
    expect(await spool.read()).toHaveLength(1);
  });
});
