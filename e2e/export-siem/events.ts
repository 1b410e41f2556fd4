import { randomUUID } from 'node:crypto';
import type { AuditEventView } from '@gatehouse/audit';
import type { SecurityAlert, SiemEvent } from '../../libs/audit/src/export/sinks';

/** An audit record as the query API answers it, with the given fields changed. */
export function record(overrides: Partial<AuditEventView> = {}): AuditEventView {
  return {
    id: randomUUID(),
    kind: 'outcome',
    callId: randomUUID(),
    occurredAt: '2026-11-24T02:41:07.123456Z',
    outcome: 'ok',
    principal: {
      subject: 'alice',
      name: 'Alice Example',
      email: 'alice@example.com',
      groups: ['engineering'],
      certificateSubject: null,
    },
    client: { name: 'claude-code', version: '2.0.1', bridgeVersion: null, ip: '10.1.2.3' },
    session: '0123456789abcdef',
    server: 'postgres-prod',
    tool: 'query',
    method: 'tools/call',
    action: 'read',
    arguments: { sql: 'select 1' },
    decision: 'allow',
    matchedRules: ['read-only'],
    policyVersion: 3,
    bypassId: null,
    rateLimit: null,
    touched: ['public.orders'],
    errorCode: null,
    errorMessage: null,
    gatewayUs: 420,
    upstreamUs: 9100,
    responseBytes: 512,
    traceId: null,
    adminAction: null,
    adminTarget: null,
    writerId: '1',
    seq: '17',
    hash: 'ab'.repeat(32),
    ...overrides,
  };
}

export const audit = (overrides: Partial<AuditEventView> = {}): SiemEvent => ({
  type: 'audit',
  record: record(overrides),
});

export function alert(overrides: Partial<SecurityAlert> = {}): SiemEvent {
  return {
    type: 'alert',
    alert: {
      id: `deny_burst-${randomUUID()}`,
      kind: 'deny_burst',
      occurredAt: '2026-11-24T02:42:00.000Z',
      severity: 8,
      message: '25 denied calls by mallory in 60 s',
      subject: 'mallory',
      server: 'postgres-prod',
      count: 25,
      windowSeconds: 60,
      recordIds: [randomUUID(), randomUUID()],
      ...overrides,
    },
  };
}

/** Values a CEF or syslog writer must escape: header and extension separators, line breaks, non-ASCII. */
export const HOSTILE = 'a|b=c\\d\ne\r\nf ]"x=y 東京 😀 cs1=forged';

/** `n` allowed tool calls, each its own record id. */
export function batch(n: number): SiemEvent[] {
  return Array.from({ length: n }, (_, i) => audit({ tool: `tool-${i}` }));
}
