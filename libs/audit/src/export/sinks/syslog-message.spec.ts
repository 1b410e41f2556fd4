import { escapeSdValue, formatSyslog, frameOctetCounted, syslogSeverity } from './syslog-message';
import type { SecurityAlert, SiemEvent } from './types';
import { sampleView } from './__tests__/sample-view';

const alert: SecurityAlert = {
  id: 'bypass_opened-7',
  kind: 'bypass_opened',
  occurredAt: '2026-11-24T02:42:00.000Z',
  severity: 9,
  message: 'bypass opened',
  recordIds: [],
};

describe('RFC 5424 message', () => {
  it.each([
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a]b', 'a\\]b'],
    ['a=b [x]', 'a=b [x\\]'],
  ])('escapes the SD value %j as %j', (input, output) => {
    expect(escapeSdValue(input)).toBe(output);
  });

  it('writes PRI, version, timestamp, host, app, procid, msgid and the id in structured data', () => {
    const event: SiemEvent = { type: 'alert', alert };
    expect(
      formatSyslog(event, {
        format: 'json',
        facility: 'local0',
        hostname: 'gw 1\u00e9',
        enterpriseNumber: 99,
      }),
    ).toBe(
      `<130>1 2026-11-24T02:42:00.000Z gw1 gatehouse - alert [gatehouse@99 id="bypass_opened-7" type="alert"] ` +
        JSON.stringify({ type: 'alert', ...alert }),
    );
  });

  it.each([
    [{ ...alert, severity: 9 }, 2],
    [{ ...alert, severity: 5 }, 3],
  ])('gives alerts a severity above any record', (a, severity) => {
    expect(syslogSeverity({ type: 'alert', alert: a })).toBe(severity);
  });

  it('frames by byte length, not character count', () => {
    expect(frameOctetCounted('東京').toString('utf8')).toBe('6 東京');
    expect(frameOctetCounted('').toString('utf8')).toBe('0 ');
  });

  it('leaves the arguments out of a JSON record that would exceed maxMessageBytes, keeping the id', () => {
    const record = sampleView({
      id: 'r-1',
      callId: 'c',
      outcome: 'ok',
      arguments: { sql: 'x'.repeat(10_000) },
      decision: null,
    });
    const message = formatSyslog(
      { type: 'audit', record },
      { format: 'json', hostname: 'gw', maxMessageBytes: 2048 },
    );
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(2048);
    const payload = JSON.parse(message.slice(message.indexOf('] ') + 2)) as Record<string, unknown>;
    expect(payload).toMatchObject({ id: 'r-1', arguments: { truncated: true, bytes: 10_010 } });
    expect(
      formatSyslog({ type: 'audit', record }, { format: 'json', hostname: 'gw', maxMessageBytes: 20_000 }),
    ).toContain('x'.repeat(10_000));
  });
});
