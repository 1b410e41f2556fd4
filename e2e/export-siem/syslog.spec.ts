import { createServer, type Server, type Socket } from 'node:net';
import { siemSinkFromConfig } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import {
  eventJson,
  formatSyslog,
  SiemSinkError,
  SiemSinkErrorCode,
  SyslogSink,
  type SiemEvent,
} from '../../libs/audit/src/export/sinks';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { parseCef } from './cef-parser';
import { alert, audit, batch, HOSTILE } from './events';

// The receiver is Debian's rsyslogd (installed by .ci/run), parsing with its own RFC 5424 parser.
describe('syslog sink against a real rsyslogd over TCP', () => {
  let rsyslog: Rsyslog;
  const sinks: SyslogSink[] = [];
  const sink = (
    format: 'cef' | 'json',
    extra: Partial<ConstructorParameters<typeof SyslogSink>[0]> = {},
  ): SyslogSink => {
    const s = new SyslogSink({
      name: 'soc',
      host: '127.0.0.1',
      port: rsyslog.port,
      format,
      hostname: 'gw-1.example.com',
      procId: '4242',
      ...extra,
    });
    sinks.push(s);
    return s;
  };
  /** Messages received since `before`, as rsyslog parsed them. */
  const parsedSince = async (before: number, count: number) => {
    await rsyslog.waitFor(before + count);
    return rsyslog.parsed().slice(before);
  };

  beforeAll(async () => {
    rsyslog = await startRsyslog();
  });
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await rsyslog.remove();
  });

  it('delivers octet-counted RFC 5424 messages that rsyslog parses field by field', async () => {
    const before = rsyslog.raw().length;
    const events: SiemEvent[] = [audit(), audit({ outcome: 'denied', decision: 'deny' }), alert()];
    const s = sink('json', { facility: 'local4' });
    await s.send(events);
    const parsed = await parsedSince(before, 3);
    expect(parsed.map((p) => [p.facility, p.severity])).toEqual([
      [20, 6],
      [20, 4],
      [20, 2],
    ]);
    expect(parsed.map((p) => p.msgId)).toEqual(['audit', 'audit', 'alert']);
    for (const [i, p] of parsed.entries()) {
      const event = events[i]!;
      const id = event.type === 'audit' ? event.record.id : event.alert.id;
      expect(p).toMatchObject({ hostname: 'gw-1.example.com', appName: 'gatehouse', procId: '4242' });
      expect(p.structuredData).toBe(`[gatehouse@32473 id="${id}" type="${p.msgId}"]`);
      expect(JSON.parse(p.msg)).toEqual(eventJson(event));
    }
    expect(Date.parse(parsed[0]!.timestamp)).toBe(Date.parse('2026-11-24T02:41:07.123Z'));
    // Exactly the bytes we framed, message by message: no frame ran into the next.
    expect(rsyslog.raw().slice(before)).toEqual(
      events.map((e) =>
        formatSyslog(e, { format: 'json', facility: 'local4', hostname: 'gw-1.example.com', procId: '4242' }),
      ),
    );
  });

  it('uses the facility, hostname, enterprise number and message size set in gatehouse.yaml', async () => {
    const { config } = parseConfigText(
      [
        'export:',
        '  siem:',
        '    soc:',
        '      type: syslog',
        '      host: 127.0.0.1',
        `      port: ${rsyslog.port}`,
        '      facility: local3',
        '      hostname: gw-7.example.net',
        '      enterpriseNumber: 99999',
        '      maxMessageBytes: 2048',
        '',
      ].join('\n'),
      {},
    );
    const s = siemSinkFromConfig('soc', config.export.siem.soc!);
    sinks.push(s as SyslogSink);
    const big = audit({ arguments: { sql: `select '${'x'.repeat(4000)}'` } });
    const small = audit();
    const before = rsyslog.raw().length;
    await s.send([big, small]);
    const parsed = await parsedSince(before, 2);
    // local3 is facility 19; the rest of the header as configured.
    expect(parsed.map((p) => [p.facility, p.hostname])).toEqual([
      [19, 'gw-7.example.net'],
      [19, 'gw-7.example.net'],
    ]);
    const ids = [big, small].map((e) => (e.type === 'audit' ? e.record.id : ''));
    expect(parsed.map((p) => p.structuredData)).toEqual(
      ids.map((id) => `[gatehouse@99999 id="${id}" type="audit"]`),
    );
    // Over 2048 bytes, the record goes without its arguments; the small one whole.
    const [bigMsg, smallMsg] = parsed.map((p) => JSON.parse(p.msg) as Record<string, unknown>);
    expect(bigMsg?.arguments).toEqual({ truncated: true, bytes: expect.any(Number) as number });
    expect(smallMsg).toEqual(eventJson(small));
    expect(
      rsyslog
        .raw()
        .slice(before)
        .every((line) => Buffer.byteLength(line) <= 2048),
    ).toBe(true);
  });

  it('round-trips hostile values through CEF: pipes, equals signs, backslashes, line breaks and unicode', async () => {
    const before = rsyslog.raw().length;
    const hostile = audit({
      outcome: 'denied',
      principal: { subject: HOSTILE, name: null, email: null, groups: [], certificateSubject: null },
      server: HOSTILE,
      tool: `${HOSTILE}|tool`,
      method: `tools/call|${HOSTILE}`,
      errorMessage: HOSTILE,
      touched: ['public.orders', HOSTILE],
    });
    const hostileAlert = alert({ message: HOSTILE, subject: HOSTILE });
    await sink('cef', { productVersion: '1.2|3' }).send([hostile, hostileAlert]);
    const [record, alertMsg] = await parsedSince(before, 2);
    if (hostile.type !== 'audit' || hostileAlert.type !== 'alert') throw new Error('fixture');

    const cef = parseCef(record!.msg);
    expect(cef.header).toEqual([
      'CEF:0',
      'Gatehouse',
      'MCP Gateway',
      '1.2|3',
      'audit:outcome:denied',
      // Header fields cannot hold line breaks: they become spaces.
      `tools/call|${HOSTILE} denied`.replace(/\r\n|[\r\n]/g, ' '),
      '7',
    ]);
    expect(cef.extension).toMatchObject({
      externalId: hostile.record.id,
      suser: HOSTILE,
      cs1Label: 'server',
      cs1: HOSTILE,
      cs2Label: 'tool',
      cs2: `${HOSTILE}|tool`,
      outcome: 'denied',
      msg: HOSTILE,
      cs6: `public.orders,${HOSTILE}`,
      rt: String(Date.parse('2026-11-24T02:41:07.123Z')),
      src: '10.1.2.3',
    });

    const a = parseCef(alertMsg!.msg);
    expect(a.header.slice(4)).toEqual(['alert:deny_burst', HOSTILE.replace(/\r\n|[\r\n]/g, ' '), '8']);
    expect(a.extension).toMatchObject({
      externalId: hostileAlert.alert.id,
      suser: HOSTILE,
      msg: HOSTILE,
      cnt: '25',
    });
  });

  it('keeps concurrent batches whole and in call order on one connection', async () => {
    const before = rsyslog.raw().length;
    const s = sink('json');
    const batches = [batch(30), batch(1), batch(30)];
    await Promise.all(batches.map((b) => s.send(b)));
    const got = await rsyslog.waitFor(before + 61);
    expect(got.slice(before).map((line) => /\[gatehouse@32473 id="([^"]+)"/.exec(line)?.[1])).toEqual(
      batches.flat().map((e) => (e.type === 'audit' ? e.record.id : e.alert.id)),
    );
  });

  it('throws when the receiver is stopped, and a restart plus re-send delivers every record (at-least-once, no gap)', async () => {
    const before = rsyslog.raw().length;
    const s = sink('json');
    const first = batch(50);
    const second = batch(50);
    await s.send(first);
    await rsyslog.waitFor(before + 50);

    await rsyslog.stop();
    const down = await s.send(second).then(
      () => null,
      (err: unknown) => err,
    );
    expect(down).toBeInstanceOf(SiemSinkError);
    expect((down as SiemSinkError).retryable).toBe(true);
    // Still down: the reconnect is refused, not hung.
    await expect(s.send(second)).rejects.toMatchObject({ code: SiemSinkErrorCode.UNREACHABLE });

    await rsyslog.start();
    await s.send(second);
    const got = await rsyslog.waitFor(before + 100);
    const ids = new Set(got.slice(before).map((line) => /\[gatehouse@32473 id="([^"]+)"/.exec(line)?.[1]));
    for (const e of [...first, ...second]) {
      expect(ids.has(e.type === 'audit' ? e.record.id : e.alert.id)).toBe(true);
    }
  });
});

describe('syslog sink against a receiver that accepts but never reads', () => {
  let server: Server;
  let port: number;
  const held: Socket[] = [];

  beforeAll(async () => {
    // A stand-in for a stuck receiver: rsyslogd cannot be made to stop reading on purpose.
    server = createServer((socket) => {
      socket.pause();
      held.push(socket);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    held.forEach((s) => s.destroy());
    await new Promise((ok) => server.close(ok));
  });

  it('gives up with a timeout error instead of hanging', async () => {
    const s = new SyslogSink({ name: 'stuck', host: '127.0.0.1', port, format: 'json', writeTimeoutMs: 300 });
    const big = batch(20_000);
    await expect(s.send(big)).rejects.toMatchObject({ code: SiemSinkErrorCode.TIMEOUT, retryable: true });
    await s.close();
  });
});
