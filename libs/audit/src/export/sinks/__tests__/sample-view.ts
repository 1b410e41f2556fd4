import type { AuditEventView } from '../../../query/audit-query.service';

/**
 * The audit record the sink formatters are tested with, as the query API answers it: a denied
 * `tools/call` of alice's to `pg`/`query`, every optional field null. `over` replaces fields.
 */
export function sampleView(over: Partial<AuditEventView> = {}): AuditEventView {
  return {
    id: '3f1c',
    kind: 'outcome',
    callId: 'c1',
    occurredAt: '2026-11-24T02:41:07.123456Z',
    outcome: 'denied',
    principal: { subject: 'alice', name: null, email: null, groups: [], certificateSubject: null },
    client: { name: null, version: null, bridgeVersion: null, ip: null },
    session: null,
    server: 'pg',
    tool: 'query',
    method: 'tools/call',
    action: null,
    arguments: null,
    decision: 'deny',
    matchedRules: [],
    policyVersion: null,
    bypassId: null,
    rateLimit: null,
    touched: [],
    errorCode: null,
    errorMessage: null,
    gatewayUs: null,
    upstreamUs: null,
    responseBytes: null,
    traceId: null,
    adminAction: null,
    adminTarget: null,
    writerId: null,
    seq: null,
    hash: null,
    ...over,
  };
}
