import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { siemSinkFromConfig } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import {
  SiemSinkError,
  SiemSinkErrorCode,
  SplunkHecSink,
  type SiemEvent,
} from '../../libs/audit/src/export/sinks';
import { makeTestPki, type TestPki } from '../support/pki';
import { alert, audit, batch } from './events';

/**
 * There is no Splunk here: this HTTPS server implements the HEC request contract of
 * `/services/collector/event` as Splunk documents it (token in `Authorization: Splunk`, a body of
 * concatenated event objects each with `event`, numeric `time`, the `{"text","code"}` answers and
 * their statuses), and keeps what it accepted.
 */
interface FakeHec {
  url: string;
  accepted: Array<Record<string, unknown>>;
  requests: Array<{ path: string; headers: Record<string, string | string[] | undefined> }>;
  /** Answers the next `n` requests with 503 "Server is busy". */
  busyFor(n: number): void;
  /** Answers the next request with 200 and an HTML page, as a proxy or login page in front of HEC would. */
  impostorOnce(): void;
  close(): Promise<void>;
}

const TOKEN = '8a1c2c55-3f1f-4e7c-9d52-7f2b0e1c4d11';

/** Splits HEC's concatenated (optionally newline-separated) JSON objects. */
function hecObjects(body: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth += 1;
    } else if (c === '}') {
      depth -= 1;
      if (depth === 0) out.push(JSON.parse(body.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(c ?? '')) throw new Error('not an object');
  }
  if (depth !== 0) throw new Error('unterminated object');
  return out;
}

async function startFakeHec(pki: TestPki): Promise<FakeHec> {
  const accepted: Array<Record<string, unknown>> = [];
  const requests: FakeHec['requests'] = [];
  let busy = 0;
  let impostor = false;
  const server: Server = createServer(
    { cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', headers: req.headers });
        const answer = (
          status: number,
          text: string,
          code: number,
          extra: Record<string, unknown> = {},
        ): void => {
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify({ text, code, ...extra }));
        };
        if (req.method !== 'POST' || req.url !== '/services/collector/event')
          return answer(404, 'Not found', 404);
        const auth = req.headers.authorization;
        if (!auth) return answer(401, 'Token is required', 2);
        if (auth !== `Splunk ${TOKEN}`) return answer(403, 'Invalid token', 4);
        if (impostor) {
          impostor = false;
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>');
          return;
        }
        if (busy > 0) {
          busy -= 1;
          return answer(503, 'Server is busy', 9);
        }
        const body = Buffer.concat(chunks).toString('utf8');
        if (body.trim() === '') return answer(400, 'No data', 5);
        let objects: unknown[];
        try {
          objects = hecObjects(body);
        } catch {
          return answer(400, 'Invalid data format', 6);
        }
        for (const [i, o] of objects.entries()) {
          const e = o as Record<string, unknown>;
          if (!('event' in e) || e.event === '' || e.event === null) {
            return answer(400, 'Event field is required', 12, { 'invalid-event-number': i });
          }
          if ('time' in e && typeof e.time !== 'number') return answer(400, 'Invalid data format', 6);
        }
        accepted.push(...(objects as Array<Record<string, unknown>>));
        answer(200, 'Success', 0);
      });
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://localhost:${port}`,
    accepted,
    requests,
    busyFor: (n) => (busy = n),
    impostorOnce: () => (impostor = true),
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

describe('Splunk HEC sink against an HTTPS server speaking the HEC contract', () => {
  let pki: TestPki;
  let hec: FakeHec;
  const sinks: SplunkHecSink[] = [];
  const sink = (overrides: Partial<ConstructorParameters<typeof SplunkHecSink>[0]> = {}): SplunkHecSink => {
    const s = new SplunkHecSink({
      name: 'splunk',
      url: hec.url,
      token: TOKEN,
      host: 'gw-1',
      index: 'security',
      tls: { ca: readFileSync(pki.caCert) },
      ...overrides,
    });
    sinks.push(s);
    return s;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
    hec = await startFakeHec(pki);
  });
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await hec.close();
    pki.remove();
  });

  it('posts one batch of event objects with time, host, source, sourcetype, index and the record id as a field', async () => {
    const before = hec.accepted.length;
    const events: SiemEvent[] = [audit(), alert()];
    await sink({ channel: '0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa' }).send(events);
    const got = hec.accepted.slice(before);
    const [rec, al] = events;
    if (rec?.type !== 'audit' || al?.type !== 'alert') throw new Error('fixture');
    expect(got).toEqual([
      {
        time: Date.parse('2026-11-24T02:41:07.123Z') / 1000,
        host: 'gw-1',
        source: 'gatehouse',
        sourcetype: 'gatehouse:audit',
        index: 'security',
        fields: { gatehouse_id: rec.record.id, gatehouse_type: 'audit' },
        event: { type: 'audit', ...rec.record },
      },
      {
        time: Date.parse('2026-11-24T02:42:00.000Z') / 1000,
        host: 'gw-1',
        source: 'gatehouse',
        sourcetype: 'gatehouse:alert',
        index: 'security',
        fields: { gatehouse_id: al.alert.id, gatehouse_type: 'alert' },
        event: { type: 'alert', ...al.alert },
      },
    ]);
    expect(hec.requests.at(-1)?.headers['x-splunk-request-channel']).toBe(
      '0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa',
    );
  });

  it('marks a busy collector (503) retryable, and the re-sent batch lands', async () => {
    const before = hec.accepted.length;
    const s = sink();
    const events = batch(10);
    hec.busyFor(1);
    await expect(s.send(events)).rejects.toMatchObject({
      code: SiemSinkErrorCode.REJECTED,
      status: 503,
      retryable: true,
    });
    await s.send(events);
    expect(
      hec.accepted.slice(before).map((e) => (e.fields as { gatehouse_id: string }).gatehouse_id),
    ).toEqual(events.map((e) => (e.type === 'audit' ? e.record.id : '')));
  });

  it('marks an invalid token (403) not retryable and says to fix the token', async () => {
    const err = await sink({ token: 'wrong' })
      .send(batch(1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiemSinkError);
    expect(err).toMatchObject({ code: SiemSinkErrorCode.REJECTED, status: 403, retryable: false });
    expect((err as Error).message).toMatch(/code 4: Invalid token.*fix export\.siem token/);
  });

  it('does not take a 200 without HEC\'s {"code":0} as an acknowledgement', async () => {
    const before = hec.accepted.length;
    hec.impostorOnce();
    const err = await sink()
      .send(batch(2))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: SiemSinkErrorCode.REJECTED, status: 200, retryable: false });
    expect((err as Error).message).toMatch(/without HEC's \{"code":0\}.*not acknowledged/);
    expect(hec.accepted.length).toBe(before);
  });

  it('fails with an unreachable error, not a hang, when the collector is gone', async () => {
    const gone = await startFakeHec(pki);
    await gone.close();
    await expect(sink({ url: gone.url }).send(batch(1))).rejects.toMatchObject({
      code: SiemSinkErrorCode.UNREACHABLE,
      retryable: true,
    });
  });

  describe('built from gatehouse.yaml', () => {
    const fromYaml = (extra: string[]) => {
      const { config } = parseConfigText(
        [
          'export:',
          '  siem:',
          '    splunk:',
          '      type: splunk',
          // The endpoint's full URL, as docs/export.md shows it (the base URL works as well).
          `      url: ${hec.url}/services/collector/event`,
          '      token: "${HEC_TOKEN}"',
          ...extra.map((line) => `      ${line}`),
          '',
        ].join('\n'),
        { HEC_TOKEN: TOKEN },
      );
      const s = siemSinkFromConfig('splunk', config.export.siem.splunk!);
      closers.push(() => s.close());
      return s;
    };
    const closers: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const close of closers) await close();
    });

    it('sends index, sourcetype and source in every event and channel as X-Splunk-Request-Channel, trusting tls.caFile', async () => {
      const before = hec.accepted.length;
      const requestsBefore = hec.requests.length;
      const events = [audit(), alert()];
      await fromYaml([
        'index: security-audit',
        'sourcetype: "gatehouse:json"',
        'source: gw-prod',
        'channel: 5d6f3c1e-2b7a-4c8d-9e0f-1a2b3c4d5e6f',
        `tls: { caFile: ${JSON.stringify(pki.caCert)} }`,
      ]).send(events);
      const got = hec.accepted.slice(before);
      expect(got.map((e) => [e.index, e.sourcetype, e.source])).toEqual([
        ['security-audit', 'gatehouse:json', 'gw-prod'],
        ['security-audit', 'gatehouse:json', 'gw-prod'],
      ]);
      expect(got.map((e) => (e.fields as { gatehouse_id: string }).gatehouse_id)).toEqual(
        events.map((e) => (e.type === 'audit' ? e.record.id : e.alert.id)),
      );
      const requests = hec.requests.slice(requestsBefore);
      expect(requests.map((r) => [r.path, r.headers['x-splunk-request-channel']])).toEqual([
        ['/services/collector/event', '5d6f3c1e-2b7a-4c8d-9e0f-1a2b3c4d5e6f'],
      ]);
    });

    it('leaves index out and sends no channel when they are not set', async () => {
      const before = hec.accepted.length;
      const requestsBefore = hec.requests.length;
      await fromYaml([`tls: { caFile: ${JSON.stringify(pki.caCert)} }`]).send([audit()]);
      expect(hec.accepted.slice(before)).toEqual([
        expect.objectContaining({ source: 'gatehouse', sourcetype: 'gatehouse:audit' }),
      ]);
      expect(hec.accepted.at(-1)).not.toHaveProperty('index');
      expect(hec.requests.slice(requestsBefore)[0]?.headers).not.toHaveProperty('x-splunk-request-channel');
    });

    it('refuses the collector signed by a private CA when tls.caFile is not given', async () => {
      const before = hec.requests.length;
      await expect(fromYaml(['index: security-audit']).send([audit()])).rejects.toMatchObject({
        code: SiemSinkErrorCode.TLS,
        retryable: true,
      });
      expect(hec.requests.length).toBe(before);
    });
  });

  it('refuses an unusable URL at construction with a clear reason', () => {
    expect(() => sink({ url: 'ftp://splunk' })).toThrow(/url must use https: or http:/);
  });
});
