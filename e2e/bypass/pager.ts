import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TestPki } from '../support/pki';

/** An alert line as a pager (or a SIEM webhook) receives it. */
export interface AlertLine {
  type: string;
  id: string;
  kind: string;
  message: string;
  subject?: string;
  grantId?: string;
  count?: number;
  uses?: Array<{ subject: string; server: string | null; tool: string | null; count: number }>;
}

/** A pager's webhook receiver started by {@link startPager}. */
export interface Pager {
  url: string;
  /** Every line of every delivery it acknowledged, in order. */
  lines: AlertLine[];
  /** Requests received, whatever the answer. */
  requests: number;
  /** Requests answered 503 while `failing` was set. */
  refused: number;
  /** While true, every request is answered 503 (the pager is down) and nothing is kept. */
  failing: boolean;
  /** While true, requests are read and never answered (a pager that hangs). */
  hanging: boolean;
  /** The lines of one alert kind (optionally of one grant). */
  of(kind: string, grantId?: string): AlertLine[];
  close(): Promise<void>;
}

/**
 * A pager's webhook receiver, written from docs/siem.md and docs/bypass.md: HTTPS with the test
 * PKI's server certificate, HMAC-SHA256 over `<t>.<body>` checked from `gatehouse-signature`
 * (a bad signature gets 400), JSON lines. Keeps the lines of every verified delivery.
 */
export async function startPager(pki: TestPki, secret: string): Promise<Pager> {
  const pager: Pager = {
    url: '',
    lines: [],
    requests: 0,
    refused: 0,
    failing: false,
    hanging: false,
    of: (kind, grantId) =>
      pager.lines.filter((l) => l.kind === kind && (grantId === undefined || l.grantId === grantId)),
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer(
    { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        pager.requests += 1;
        if (pager.hanging) return;
        if (pager.failing) {
          pager.refused += 1;
          res.writeHead(503).end('pager down');
          return;
        }
        const body = Buffer.concat(chunks);
        const parts = new Map(
          String(req.headers['gatehouse-signature'] ?? '')
            .split(',')
            .map((p) => p.split('=', 2) as [string, string]),
        );
        const expected = createHmac('sha256', secret)
          .update(`${parts.get('t') ?? ''}.`)
          .update(body)
          .digest();
        const given = Buffer.from(parts.get('v1') ?? '', 'hex');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          res.writeHead(400).end('bad signature');
          return;
        }
        pager.lines.push(
          ...body
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as AlertLine),
        );
        res.writeHead(204).end();
      });
    },
  );
  server.keepAliveTimeout = 1000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  pager.url = `https://localhost:${port}/pager`;
  return pager;
}
