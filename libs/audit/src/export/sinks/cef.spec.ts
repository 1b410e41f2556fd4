import { escapeCefExtension, escapeCefHeader, formatCef } from './cef';
import type { SiemEvent } from './types';
import { sampleView } from './__tests__/sample-view';

const view = sampleView();

describe('CEF escaping', () => {
  it.each([
    ['plain', 'plain'],
    ['a|b', 'a\\|b'],
    ['a\\b', 'a\\\\b'],
    ['a=b', 'a=b'],
    ['a\nb\r\nc', 'a b c'],
    ['東京|😀', '東京\\|😀'],
  ])('header %j becomes %j', (input, output) => {
    expect(escapeCefHeader(input)).toBe(output);
  });

  it.each([
    ['plain text', 'plain text'],
    ['a=b', 'a\\=b'],
    ['a\\b', 'a\\\\b'],
    ['a|b', 'a|b'],
    ['a\nb', 'a\\nb'],
    ['a\r\nb', 'a\\r\\nb'],
    ['\\=', '\\\\\\='],
  ])('extension %j becomes %j', (input, output) => {
    expect(escapeCefExtension(input)).toBe(output);
  });
});

describe('formatCef', () => {
  it('maps an audit record onto the header and the documented extension keys', () => {
    const event: SiemEvent = { type: 'audit', record: view };
    expect(formatCef(event, { productVersion: '0.1.0' })).toBe(
      'CEF:0|Gatehouse|MCP Gateway|0.1.0|audit:outcome:denied|tools/call denied|7|' +
        `rt=${Date.parse('2026-11-24T02:41:07.123Z')} externalId=3f1c suser=alice act=tools/call outcome=denied ` +
        'cs1Label=server cs1=pg cs2Label=tool cs2=query cs3Label=decision cs3=deny cs4Label=callId cs4=c1 ' +
        'cs5Label=kind cs5=outcome',
    );
  });

  it.each([
    ['allowed', 3],
    ['ok', 3],
    ['rate_limited', 5],
    ['denied', 7],
    ['bypassed', 7],
  ])('gives a %s record severity %d', (outcome, severity) => {
    expect(formatCef({ type: 'audit', record: { ...view, outcome } }).split('|')[6]).toBe(String(severity));
  });

  it('uses the admin action as the name of an admin record', () => {
    const line = formatCef({
      type: 'audit',
      record: { ...view, kind: 'admin', adminAction: 'policy.activate' },
    });
    expect(line.split('|').slice(4, 7)).toEqual(['audit:admin:denied', 'policy.activate denied', '5']);
  });

  it("cuts msg at 1023 characters (ArcSight's limit) without splitting a character", () => {
    const line = formatCef({ type: 'audit', record: { ...view, errorMessage: '😀'.repeat(2000) } });
    const msg = /msg=(.*)$/.exec(line)?.[1] ?? '';
    expect(Array.from(msg)).toHaveLength(1023);
    expect(msg.endsWith('😀…')).toBe(true);
  });
});
