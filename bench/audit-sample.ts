import { randomUUID } from 'node:crypto';
import type { AuditRecord } from '@gatehouse/audit';

/**
 * The n-th generated audit record of the writer and export benches: intents and outcomes in turn,
 * 500 users, 20 servers, a realistic SQL call with its arguments, decision and touched table.
 */
export function sampleRecord(n: number): AuditRecord {
  return {
    id: randomUUID(),
    kind: n % 2 === 0 ? 'intent' : 'outcome',
    callId: `call-${Math.floor(n / 2)}`,
    occurredAt: new Date(),
    outcome: n % 2 === 0 ? 'allowed' : 'ok',
    principal: {
      subject: `user-${n % 500}`,
      issuer: 'https://idp.example.com',
      kind: 'user',
      name: 'Bench User',
      email: 'bench@example.com',
      groups: ['data-platform', 'engineering'],
    },
    client: { name: 'claude-code', version: '2.1.0', ip: '10.1.2.3' },
    session: '0123456789abcdef',
    server: `server-${n % 20}`,
    tool: 'query',
    method: 'tools/call',
    action: 'read',
    arguments: {
      sql: 'SELECT id, total FROM public.orders WHERE created_at > now() - interval 1 day',
      limit: 100,
    },
    decision: 'allow',
    matchedRules: ['data-platform-reads-prod'],
    policyVersion: 7,
    rateLimit: { user: { remaining: 97, limit: 100 } },
    touched: ['public.orders'],
    gatewayUs: 180,
    upstreamUs: 2300,
    responseBytes: 1800,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  };
}
