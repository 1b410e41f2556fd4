import type { AuditRecord } from '../types';
import { contentRow, storableText } from './canonical';

const record = (over: Partial<AuditRecord>): AuditRecord => ({
  id: '0b0c4f9e-7a57-4a41-9d4e-6f1f2b9c0a11',
  kind: 'admin',
  callId: 'c1',
  occurredAt: new Date('2026-11-24T03:00:00Z'),
  outcome: 'ok',
  principal: { subject: 'alice', issuer: 'https://idp.test', kind: 'user', groups: ['g'] },
  client: {},
  method: 'POST',
  matchedRules: [],
  touched: [],
  ...over,
});

describe('contentRow makes every string storable (NUL and lone surrogates would fail a whole group commit)', () => {
  it('turns NUL and lone surrogates into U+FFFD in every text column, array and JSON key or value; pairs stay', () => {
    const row = contentRow(
      record({
        principal: {
          subject: 'al\u0000ice',
          issuer: 'i',
          kind: 'user',
          name: 'x\ud800',
          groups: ['g\udc00'],
        },
        client: { name: 'host\u0000', version: '1\ud83d' },
        tool: 't\u0000',
        adminTarget: 'policy/\ud800',
        errorMessage: 'bad \u0000 byte',
        matchedRules: ['r\u0000'],
        touched: ['public.\udc00'],
        arguments: { 'k\u0000': 'a\u0000b', nested: [{ lone: 'x\ud800y', pair: '😀' }] },
      }),
    );
    expect(row).toMatchObject({
      principal_subject: 'al\uFFFDice',
      principal_name: 'x\uFFFD',
      principal_groups: ['g\uFFFD'],
      client_name: 'host\uFFFD',
      client_version: '1\uFFFD',
      tool: 't\uFFFD',
      admin_target: 'policy/\uFFFD',
      error_message: 'bad \uFFFD byte',
      matched_rules: ['r\uFFFD'],
      touched: ['public.\uFFFD'],
      arguments: { 'k\uFFFD': 'a\uFFFDb', nested: [{ lone: 'x\uFFFDy', pair: '😀' }] },
    });
    expect(JSON.stringify(row)).not.toMatch(/\\u0000|\\ud8|\\udc/);
  });

  it('leaves ordinary text alone', () => {
    expect([storableText('ok'), storableText('😀'), storableText('\ud83d')]).toEqual(['ok', '😀', '\uFFFD']);
  });
});
