import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Logger } from '../bridge/logger';
import { IngestClient, IngestError } from './ingest-client';
import { Spool } from './spool';
import { SpoolUploader } from './uploader';

/**
 * The ingest client against a real HTTP server answering as the gateway does when a principal is
 * over its ingest rate (issue 13 point 8): 429, `Retry-After`, `{ error: { code: 'RATE_LIMITED' } }`.
 */
describe('IngestClient', () => {
  let server: Server;
  let base: string;
  let retryAfter: string | undefined;
  /** While false the server answers 429; once true it takes every call, as a gateway under its limit. */
  let takes = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        if (takes) {
          const calls = (JSON.parse(body) as { calls: Array<{ id: string }> }).calls;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              stored: calls.length,
              duplicates: 0,
              decisions: calls.map((c) => ({
                id: c.id,
                decision: 'allow',
                reason: 'ok',
                matchedRules: [],
                stored: true,
              })),
            }),
          );
          return;
        }
        res.writeHead(429, {
          'content-type': 'application/json',
          ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}),
        });
        res.end(JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'too many ingest requests' } }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server.close(done));
  });

  const client = () =>
    new IngestClient({
      gateway: base,
      fetch: (url, init) => fetch(url, init),
      headers: {},
      bridgeVersion: '0.0.0-test',
      timeoutMs: 5_000,
    });

  const send = async (): Promise<IngestError> => {
    try {
      await client().send({ mode: 'fallback', calls: [] });
    } catch (err) {
      if (err instanceof IngestError) return err;
      throw err;
    }
    throw new Error('accepted');
  };

  it.each([
    ['7', 7_000],
    [undefined, 1_000],
    ['not-a-number', 1_000],
  ])('13.8: a 429 with Retry-After %s keeps the calls and says when to retry (%i ms)', async (header, ms) => {
    retryAfter = header;
    const err = await send();
    expect(err).toMatchObject({ status: 429, unreachable: false, retryAfterMs: ms });
    expect(err.invalid).toBeUndefined();
  });

  it('13.8: the uploader keeps a rate-limited spool, says so without an error, and uploads it once the gateway takes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ingest-429-'));
    const lines: string[] = [];
    const log = new Logger({ format: 'json', level: 'info', secrets: [], write: (line) => lines.push(line) });
    try {
      const spool = new Spool({ path: join(dir, 's.jsonl'), maxBytes: 1_000_000, log });
      await spool.append({
        id: randomUUID(),
        mode: 'fallback',
        server: 'memory',
        method: 'tools/call',
        params: { name: 'read_graph' },
        startedAt: new Date().toISOString(),
        durationMs: 3,
        status: 'ok',
      });
      const uploader = new SpoolUploader({ spool, log, client: client() });
      retryAfter = '2';
      takes = false;
      expect(await uploader.flush()).toBe(false);
      expect(await spool.read()).toHaveLength(1);
      const said = lines.join('');
      expect(said).toContain('the gateway limits how fast reports upload');
      expect(said).toContain('"retryInMs":2000');
      expect(said).not.toContain('"level":"error"');
      takes = true;
      expect(await uploader.flush()).toBe(true);
      expect(await spool.read()).toHaveLength(0);
      await uploader.stop(1_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
