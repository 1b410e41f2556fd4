import type { AuditRecord } from '../types';
import { canonical, chainHash, contentRow, GENESIS_HASH, storableText } from './canonical';

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

describe('13.6 R20: contentRow redacts the texts a client or an upstream chose', () => {
  it('13.6 R20: a resource URI, an upstream error message, touched resources and a client name lose their secrets', () => {
    const row = contentRow(
      record({
        kind: 'outcome',
        tool: 'https://files.example/r.pdf?access_token=uri-tok-1&page=2',
        errorMessage: 'connect failed: postgres://app:err-pw-2@db:5432/x (password=err-pw-3)',
        touched: ['s3://bucket/key?X-Amz-Signature=touch-sig-4'],
        client: { name: 'cli Bearer client-tok-5xyz', bridgeVersion: 'v1;password=bridge-pw-7' },
        adminTarget: 'grants/x?token=target-tok-6',
        traceId: 'not-a-traceparent-token=trace-tok-8',
      }),
    );
    const stored = JSON.stringify(row);
    for (const secret of [
      'uri-tok-1',
      'err-pw-2',
      'err-pw-3',
      'touch-sig-4',
      'client-tok-5xyz',
      'target-tok-6',
    ]) {
      expect(stored).not.toContain(secret);
    }
    expect(row.tool).toBe('https://files.example/r.pdf?access_token=[redacted]&page=2');
  });

  it('13.6 R20: an error message past the scan limit is cut and marked', () => {
    const row = contentRow(record({ errorMessage: `${'e'.repeat(200_000)} password=late` }));
    expect(row.error_message as string).toMatch(/…\[truncated: \d+ more characters not scanned or stored\]$/);
    expect(row.error_message as string).not.toContain('late');
  });
});

describe('the canonical encoding is fixed (every stored chain was hashed with it)', () => {
  it('encodes and hashes a record exactly as when the first chains were written', () => {
    const row = contentRow(
      record({
        id: '0B0C4F9E-7A57-4A41-9D4E-6F1F2B9C0A11',
        kind: 'intent',
        occurredAt: new Date('2026-11-24T03:00:00.123Z'),
        outcome: 'allowed',
        principal: {
          subject: 'alice',
          issuer: 'https://idp.test',
          kind: 'user',
          groups: ['data', 'eng'],
          name: 'Alice Ünïcode 😀',
          email: 'a@x.test',
        },
        client: { name: 'cursor', version: '1.2', ip: '192.0.2.1' },
        session: 's1',
        server: 'postgres-prod',
        tool: 'query',
        method: 'tools/call',
        action: 'read',
        arguments: { sql: 'select 1', z: [3, { b: 1, a: 'x\u0000y' }], a: null, 'k\ud800': true },
        decision: 'allow',
        matchedRules: ['r2', 'r1'],
        policyVersion: 7,
        rateLimit: { limits: [{ name: 'user', points: 10, remaining: 9 }], degraded: false },
        touched: ['public.orders'],
        gatewayUs: 412.6,
        traceId: 't',
      }),
    );
    expect(canonical('W-1', 3, row)).toBe(
      '["gatehouse-audit-v1","w-1",3,"0b0c4f9e-7a57-4a41-9d4e-6f1f2b9c0a11","intent","c1",' +
        '"2026-11-24T03:00:00.123Z","allowed","alice","https://idp.test","user","Alice Ünïcode 😀",' +
        '"a@x.test",["data","eng"],null,"cursor","1.2",null,"192.0.2.1","s1","postgres-prod","query",' +
        '"tools/call","read",{"a":null,"k\uFFFD":true,"sql":"select 1","z":[3,{"a":"x\uFFFDy","b":1}]},' +
        '"allow",["r2","r1"],7,null,{"degraded":false,"limits":[{"name":"user","points":10,"remaining":9}]},' +
        '["public.orders"],null,null,413,null,null,"t",null,null]',
    );
    expect(chainHash(GENESIS_HASH, 'W-1', 3, row).toString('hex')).toBe(
      '1a03bd7072b077f7be794d23ad4a15edf165bef001beca6422089d1a5c4c21a0',
    );
  });
});
