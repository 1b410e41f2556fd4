import { openApi, type OpenApiFragment } from '@gatehouse/policy';
import {
  INGEST_MAX_CALLS,
  INGEST_MAX_DURATION_MS,
  INGEST_MAX_ERROR_MESSAGE,
  INGEST_METHODS,
} from './ingest/contract';
import { DEFAULT_LIMIT, MAX_LIMIT } from './query/filters';
import { AUDIT_OUTCOMES } from './types';

/**
 * The audit routes' part of the admin API's OpenAPI document (issue 5 point 10), with the limits
 * taken from the constants the routes enforce. The gateway merges it into the document;
 * e2e/audit-admin checks that every route the gateway registers under `/api/v1` is documented.
 */

const { AUDIT_UNAVAILABLE_DESCRIPTION, errorResponses, json, nullable, ref } = openApi;

const ERRORS: Record<number, string> = {
  400: 'INVALID_REQUEST: an unknown parameter, a bad time, limit, cursor, time zone or period phrase (the message names it)',
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED: needs the console role auditor or admin (the refusal is itself recorded as a denied audit.query)',
  503: `${AUDIT_UNAVAILABLE_DESCRIPTION}. Every audit query is recorded (audit.query) before it is answered`,
};

const query = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const FILTERS = [
  query('user', 'The principal subject (`sub`)'),
  query('from', 'Events at or after this instant (ISO 8601)', { type: 'string', format: 'date-time' }),
  query('to', 'Events before this instant (ISO 8601); must be after from', {
    type: 'string',
    format: 'date-time',
  }),
  query('server', 'Upstream server name'),
  query('tool', 'Tool name (without the server prefix)'),
  query('decision', 'Policy decision: allow, deny, shadow-deny'),
  query('outcome', 'Record outcome', { type: 'string', enum: [...AUDIT_OUTCOMES] }),
  query('kind', 'Record kind', { type: 'string', enum: ['intent', 'outcome', 'admin'] }),
];

const PAGING = [
  query('cursor', 'nextCursor of the previous page (opaque)'),
  query('limit', 'Page size', {
    type: 'integer',
    minimum: 1,
    maximum: MAX_LIMIT,
    default: DEFAULT_LIMIT,
  }),
];

const exportOf = (operationId: string, summary: string, mediaType: string, description: string) => ({
  get: {
    tags: ['audit'],
    operationId,
    summary,
    description:
      'Streamed, newest first, every event the filters select: not paged (limit is accepted and ignored; cursor starts after that row). Recorded as an audit.query admin record before the first byte.',
    parameters: [...FILTERS, ...PAGING],
    responses: {
      '200': {
        description,
        headers: { 'content-disposition': { schema: { type: 'string' } } },
        content: { [mediaType]: { schema: { type: 'string' } } },
      },
      ...errorResponses(ERRORS, 400, 401, 403, 503),
    },
  },
});

const AUDIT_PATHS = {
  '/api/v1/audit/events': {
    get: {
      tags: ['audit'],
      operationId: 'listAuditEvents',
      summary: 'Audit records with filters and keyset pagination, newest first (roles: auditor, admin)',
      description: 'Recorded as an audit.query admin record (with the query) before it is answered.',
      parameters: [...FILTERS, ...PAGING],
      responses: {
        '200': { description: 'One page', content: json(ref('AuditEventPage')) },
        ...errorResponses(ERRORS, 400, 401, 403, 503),
      },
    },
  },
  '/api/v1/audit/events.csv': exportOf(
    'exportAuditEventsCsv',
    'CSV export of audit records (roles: auditor, admin)',
    'text/csv',
    'A header line, then one RFC 4180 line per event',
  ),
  '/api/v1/audit/events.jsonl': exportOf(
    'exportAuditEventsJsonl',
    'JSON Lines export of audit records (roles: auditor, admin)',
    'application/jsonl',
    'One AuditEvent object per line',
  ),
  '/api/v1/audit/users/{subject}/summary': {
    get: {
      tags: ['audit'],
      operationId: 'getUserActivitySummary',
      summary:
        'What one person touched in a period: servers, tools and resources with counts and first/last time (roles: auditor, admin)',
      description:
        'The period is a natural phrase in the caller\'s time zone ("last Thursday", "yesterday 9-17") or explicit from/to; default today. The answer names the exact interval. Recorded as an audit.query admin record, with the interval, before it is answered.',
      parameters: [
        {
          name: 'subject',
          in: 'path',
          required: true,
          description: 'The principal subject',
          schema: { type: 'string' },
        },
        query('period', 'A phrase such as "last Thursday", "yesterday 9-17", "last week"; not with from/to'),
        query('from', 'Start of an explicit interval (with to)', { type: 'string', format: 'date-time' }),
        query('to', 'End of an explicit interval (with from)', { type: 'string', format: 'date-time' }),
        query('tz', 'IANA time zone the phrase is read in', { type: 'string', default: 'UTC' }),
        query('now', 'Reference instant for the phrase ("as of"); default the current time', {
          type: 'string',
          format: 'date-time',
        }),
      ],
      responses: {
        '200': { description: 'The summary', content: json(ref('ActivitySummary')) },
        ...errorResponses(ERRORS, 400, 401, 403, 503),
      },
    },
  },
  '/api/v1/audit/ingest': {
    post: {
      tags: ['audit'],
      operationId: 'ingestBridgeCalls',
      summary:
        "Calls a bridge ran on a direct server, reported in shadow or fallback mode (any authenticated caller: the bridge's token; the records are the caller's)",
      description: `Shadow mode reports each call as it happens; fallback mode uploads the spool of calls made while the gateway was unreachable, oldest first, at most ${INGEST_MAX_CALLS} per request. The gateway decides each call with the active policy (never forwarding anything upstream) and records it with outcome shadow or fallback and the original times. A call id uploaded twice is stored once.`,
      requestBody: { required: true, content: json(ref('IngestRequest')) },
      responses: {
        '200': {
          description: 'What was stored and what policy says of each call',
          content: json(ref('IngestResponse')),
        },
        ...errorResponses(
          {
            ...ERRORS,
            400: `INVALID_REQUEST: the body breaks the contract (1 to ${INGEST_MAX_CALLS} calls, known methods, a server the gateway has an upstream for, startedAt at most audit.ingest.maxAgeHours old (default 7 days) and start and end at most audit.ingest.maxFutureSeconds ahead (default 60 s), unknown fields refused); issues names each call index and field; nothing of the request is stored`,
            429: 'RATE_LIMITED: over audit.ingest.perPrincipalPerMinute requests a minute or inFlightPerPrincipal at once for this principal; Retry-After says when to retry; nothing of the request is stored',
            403: 'CSRF_TOKEN_MISSING / CSRF_TOKEN_INVALID / CROSS_SITE_REQUEST (cookie sessions only)',
            413: 'The body is over server.bodyLimitBytes (default 4 MiB): split the spool by size too',
            503: 'AUDIT_UNAVAILABLE: the records could not be committed; nothing was stored, upload again',
          },
          400,
          401,
          403,
          413,
          429,
          503,
        ),
      },
    },
  },
};

const str = { type: 'string' };
const nstr = nullable(str);
const nint = nullable({ type: 'integer' });
const strings = { type: 'array', items: str };

const summaryEntry = (extra: Record<string, object>) => ({
  type: 'object',
  required: [...Object.keys(extra), 'calls', 'refused', 'first', 'last'],
  properties: {
    ...extra,
    calls: { type: 'integer', minimum: 0 },
    refused: { type: 'integer', minimum: 0, description: 'Denied, rate limited or policy error' },
    first: { type: 'string', format: 'date-time' },
    last: { type: 'string', format: 'date-time' },
  },
});

const AUDIT_SCHEMAS = {
  AuditEvent: {
    type: 'object',
    description:
      'One audit record. Calls have an intent (before forwarding) and an outcome record sharing callId; admin actions an attempt (outcome allowed) and an end (ok, or error with the HTTP status in errorCode and "CODE: message" in errorMessage), or one denied record for a role refusal.',
    required: ['id', 'kind', 'callId', 'occurredAt', 'outcome', 'principal', 'client', 'method'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      kind: { type: 'string', enum: ['intent', 'outcome', 'admin'] },
      callId: { type: 'string', format: 'uuid' },
      occurredAt: { type: 'string', description: 'UTC with microseconds, e.g. 2026-03-05T16:00:00.000000Z' },
      outcome: { type: 'string', enum: [...AUDIT_OUTCOMES] },
      principal: {
        type: 'object',
        required: ['subject', 'groups'],
        properties: {
          subject: str,
          name: nstr,
          email: nstr,
          groups: strings,
          certificateSubject: nstr,
        },
      },
      client: {
        type: 'object',
        description: 'MCP clientInfo for calls; for admin actions name is the user agent',
        properties: { name: nstr, version: nstr, bridgeVersion: nstr, ip: nstr },
      },
      session: nstr,
      server: nstr,
      tool: nstr,
      method: { type: 'string', description: 'JSON-RPC method; HTTP method (or startup) for admin records' },
      action: nullable({ type: 'string', enum: ['read', 'write'] }),
      arguments: { description: 'Redacted (configured paths and secret-looking values)' },
      decision: nstr,
      matchedRules: strings,
      policyVersion: nint,
      bypassId: nstr,
      rateLimit: {},
      touched: strings,
      errorCode: nint,
      errorMessage: nstr,
      gatewayUs: nint,
      upstreamUs: nint,
      responseBytes: nint,
      traceId: nstr,
      adminAction: { ...nstr, description: 'e.g. policy.approve, console.login, audit.query' },
      adminTarget: nstr,
      writerId: nstr,
      seq: { ...nstr, description: 'Position in the writer chain (decimal string)' },
      hash: { ...nstr, description: 'SHA-256 of the chained record, hex' },
    },
  },
  AuditEventPage: {
    type: 'object',
    required: ['events', 'nextCursor'],
    properties: {
      events: { type: 'array', items: ref('AuditEvent') },
      nextCursor: { ...nstr, description: 'Pass as cursor for the next, older page; null on the last' },
    },
  },
  ActivitySummary: {
    type: 'object',
    required: ['subject', 'period', 'calls', 'servers', 'tools', 'resources'],
    properties: {
      subject: str,
      period: {
        type: 'object',
        required: ['from', 'to', 'timeZone', 'phrase'],
        description: 'The exact interval used: [from, to)',
        properties: {
          from: { type: 'string', format: 'date-time' },
          to: { type: 'string', format: 'date-time' },
          timeZone: str,
          phrase: nstr,
        },
      },
      calls: { type: 'integer', minimum: 0 },
      servers: { type: 'array', items: summaryEntry({ server: str }) },
      tools: { type: 'array', items: summaryEntry({ server: str, tool: str }) },
      resources: {
        type: 'array',
        items: summaryEntry({
          server: str,
          resource: { type: 'string', description: 'Table, path or repository' },
        }),
      },
    },
  },
  IngestCall: {
    type: 'object',
    required: ['id', 'server', 'method', 'params', 'startedAt', 'durationMs', 'status'],
    properties: {
      id: { type: 'string', format: 'uuid', description: 'Given by the bridge; the same id is stored once' },
      server: {
        type: 'string',
        minLength: 1,
        maxLength: 200,
        description:
          'The gateway upstream name the call would have gone to; one the gateway has no upstream for is refused (400)',
      },
      method: { type: 'string', enum: [...INGEST_METHODS] },
      params: { type: 'object', description: 'As sent to the direct server (tool name without prefix)' },
      startedAt: { type: 'string', format: 'date-time' },
      durationMs: { type: 'number', minimum: 0, maximum: INGEST_MAX_DURATION_MS },
      status: { type: 'string', enum: ['ok', 'error'] },
      errorCode: { type: 'integer', description: 'JSON-RPC error code, or -32603 for a transport failure' },
      errorMessage: { type: 'string', maxLength: INGEST_MAX_ERROR_MESSAGE },
      responseBytes: { type: 'integer', minimum: 0 },
    },
  },
  IngestRequest: {
    type: 'object',
    required: ['mode', 'calls'],
    properties: {
      mode: { type: 'string', enum: ['shadow', 'fallback'] },
      client: { type: 'object', properties: { name: str, version: str } },
      bridgeVersion: str,
      calls: { type: 'array', minItems: 1, maxItems: INGEST_MAX_CALLS, items: ref('IngestCall') },
    },
  },
  IngestResponse: {
    type: 'object',
    required: ['stored', 'duplicates', 'decisions'],
    properties: {
      stored: { type: 'integer', minimum: 0 },
      duplicates: { type: 'integer', minimum: 0 },
      decisions: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'decision', 'reason', 'matchedRules', 'stored'],
          properties: {
            id: str,
            decision: { type: 'string', enum: ['allow', 'deny', 'shadow-deny'] },
            reason: str,
            matchedRules: strings,
            policyVersion: { type: 'integer' },
            stored: { type: 'boolean', description: 'false when an earlier upload already stored this id' },
          },
        },
      },
    },
  },
};

export const AUDIT_OPENAPI: OpenApiFragment = { paths: AUDIT_PATHS, schemas: AUDIT_SCHEMAS };
