import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { siemSinkFromConfig } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { eventJson, SiemSinkErrorCode, WebhookSink } from '../../libs/audit/src/export/sinks';
import { makeTestPki, type TestPki } from '../support/pki';
import { alert, audit, batch, HOSTILE } from './events';

const SECRET = 'whsec_5d0c1f0e2a9b4c7d8e6f1a2b3c4d5e6f';

interface Delivery {
  status: number;
  reason: string;
  lines: unknown[];
  idempotencyKey: string | undefined;
}

/**
 * A receiver written from docs/siem.md's verification steps, not from the sink's code: parse
 * `t` and `v1`, refuse a stale `t`, recompute HMAC-SHA256(secret, `<t>.<raw body>`), compare in
 * constant time, then read the JSON lines.
 */
async function startReceiver(pki: TestPki, answer: () => number = () => 204, requireClientCert = false) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer(
    {
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
      ...(requireClientCert
        ? { ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: true }
        : {}),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const refuse = (reason: string): void => {
          deliveries.push({ status: 400, reason, lines: [], idempotencyKey: undefined });
          res.writeHead(400).end(reason);
        };
        if (req.headers['content-type'] !== 'application/x-ndjson') return refuse('content type');
        const header = String(req.headers['gatehouse-signature'] ?? '');
        const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
        const t = Number(parts.get('t'));
        const v1 = parts.get('v1') ?? '';
        if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300)
          return refuse('stale or missing timestamp');
        const expected = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest();
        const given = Buffer.from(v1, 'hex');
        if (given.length !== expected.length || !timingSafeEqual(given, expected))
          return refuse('bad signature');
        const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
        if (idempotencyKey !== createHash('sha256').update(body).digest('hex'))
          return refuse('idempotency key');
        const text = body.toString('utf8');
        if (!text.endsWith('\n')) return refuse('last line not terminated');
        const status = answer();
        deliveries.push({
          status,
          reason: 'verified',
          lines: text
            .slice(0, -1)
            .split('\n')
            .map((l) => JSON.parse(l) as unknown),
          idempotencyKey,
        });
        res.writeHead(status).end();
      });
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://localhost:${port}/gatehouse/audit`,
    deliveries,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('webhook sink against an HTTPS receiver that verifies the signature', () => {
  let pki: TestPki;
  const closers: Array<() => Promise<void>> = [];
  const sink = (url: string, secret = SECRET): WebhookSink => {
    const s = new WebhookSink({ name: 'hook', url, secret, tls: { ca: readFileSync(pki.caCert) } });
    closers.push(() => s.close());
    return s;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
  });
  afterAll(async () => {
    for (const close of closers) await close();
    pki.remove();
  });

  it('posts signed JSON lines, one event per line with its id, that the receiver verifies', async () => {
    const receiver = await startReceiver(pki);
    closers.push(receiver.close);
    const events = [audit({ errorMessage: HOSTILE }), alert()];
    await sink(receiver.url).send(events);
    expect(receiver.deliveries).toHaveLength(1);
    expect(receiver.deliveries[0]).toMatchObject({ status: 204, reason: 'verified' });
    expect(receiver.deliveries[0]!.lines).toEqual(
      events.map((e) => JSON.parse(JSON.stringify(eventJson(e)))),
    );
  });

  it('is refused by the receiver when signed with another secret, and says the error is not retryable', async () => {
    const receiver = await startReceiver(pki);
    closers.push(receiver.close);
    await expect(sink(receiver.url, 'x'.repeat(40)).send(batch(1))).rejects.toMatchObject({
      code: SiemSinkErrorCode.REJECTED,
      status: 400,
      retryable: false,
    });
    expect(receiver.deliveries.map((d) => d.reason)).toEqual(['bad signature']);
  });

  it('re-sends a batch the receiver failed with the same idempotency key, so the receiver can drop the repeat', async () => {
    let calls = 0;
    const receiver = await startReceiver(pki, () => (++calls === 1 ? 503 : 200));
    closers.push(receiver.close);
    const s = sink(receiver.url);
    const events = batch(3);
    await expect(s.send(events)).rejects.toMatchObject({ status: 503, retryable: true });
    await s.send(events);
    const [first, second] = receiver.deliveries;
    expect(first?.idempotencyKey).toBeDefined();
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
    expect(second?.lines).toEqual(first?.lines);
  });

  it('reaches a receiver signed by a private CA given as tls.caFile in gatehouse.yaml, and is refused without it', async () => {
    const receiver = await startReceiver(pki);
    closers.push(receiver.close);
    const fromYaml = (tls: string) => {
      const { config } = parseConfigText(
        `export:\n  siem:\n    hook: { type: webhook, url: "${receiver.url}", secret: "\${HOOK_SECRET}"${tls} }\n`,
        { HOOK_SECRET: SECRET },
      );
      const s = siemSinkFromConfig('hook', config.export.siem.hook!);
      closers.push(() => s.close());
      return s;
    };
    await expect(fromYaml('').send(batch(1))).rejects.toMatchObject({
      code: SiemSinkErrorCode.TLS,
      retryable: true,
    });
    expect(receiver.deliveries).toEqual([]);

    const events = batch(2);
    await fromYaml(`, tls: { caFile: ${JSON.stringify(pki.caCert)} }`).send(events);
    expect(receiver.deliveries).toHaveLength(1);
    expect(receiver.deliveries[0]).toMatchObject({ status: 204, reason: 'verified' });
    expect(receiver.deliveries[0]!.lines).toEqual(
      events.map((e) => JSON.parse(JSON.stringify(eventJson(e)))),
    );
  });

  it('presents the client certificate of tls.certFile and tls.keyFile to a receiver demanding mutual TLS', async () => {
    const receiver = await startReceiver(pki, () => 204, true);
    closers.push(receiver.close);
    const fromYaml = (tls: Record<string, string>) => {
      const { config } = parseConfigText(
        `export:\n  siem:\n    hook: { type: webhook, url: "${receiver.url}", secret: "\${HOOK_SECRET}", tls: ${JSON.stringify(tls)} }\n`,
        { HOOK_SECRET: SECRET },
      );
      const s = siemSinkFromConfig('hook', config.export.siem.hook!);
      closers.push(() => s.close());
      return s;
    };
    await expect(fromYaml({ caFile: pki.caCert }).send(batch(1))).rejects.toMatchObject({
      retryable: true,
    });
    expect(receiver.deliveries).toEqual([]);
    await fromYaml({ caFile: pki.caCert, certFile: pki.client.cert, keyFile: pki.client.key }).send(batch(1));
    expect(receiver.deliveries.map((d) => d.reason)).toEqual(['verified']);
  });

  it('refuses a plain-HTTP URL and a short secret at construction', () => {
    expect(() => sink('http://siem.example.com/hook')).toThrow(/url must use https:/);
    expect(() => sink('https://siem.example.com/hook', 'short')).toThrow(/at least 32 characters/);
  });
});
