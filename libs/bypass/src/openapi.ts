import { openApi, type OpenApiFragment } from '@gatehouse/policy';
import { MIN_DURATION_SECONDS, MIN_REASON_DISTINCT, MIN_REASON_LENGTH, MIN_REASON_WORDS } from './dto';

/**
 * The break-glass part of the admin API's OpenAPI document (issue 7); the gateway merges it in.
 * The named minimums come from `dto.ts`; the maximums mirror its zod schemas next door.
 */

const { AUDIT_UNAVAILABLE_DESCRIPTION, errorResponses, json, nullable, ref } = openApi;

const DESCRIPTIONS: Record<number, string> = {
  400: 'INVALID_REQUEST: a missing or weak reason, a bad glob, servers matching no upstream, a duration over the maximum; `problems` names each field',
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED, CSRF refusals (cookie sessions), or four eyes: SELF_APPROVAL / SELF_REVIEW',
  404: 'GRANT_NOT_FOUND',
  405: 'GRANT_IMMUTABLE: a grant cannot be changed, widened or extended; open a new one',
  409: "INVALID_TRANSITION: the step does not apply to the grant's status",
  500: 'INTERNAL: the log line with the same errorId has the cause',
  503: AUDIT_UNAVAILABLE_DESCRIPTION,
};

const errors = (...statuses: number[]) => errorResponses(DESCRIPTIONS, ...statuses);

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The grant id',
  schema: { type: 'string', format: 'uuid' },
};

const step = (operationId: string, summary: string, body: string, bodyRequired: boolean) => ({
  tags: ['bypass'],
  operationId,
  summary,
  parameters: [idParam],
  requestBody: { required: bodyRequired, content: json(ref(body)) },
  responses: {
    '200': { description: 'The grant after the step', content: json(ref('BypassGrantDetail')) },
    ...errors(400, 401, 403, 404, 409, 500, 503),
  },
});

const refused = (operationId: string) => ({
  tags: ['bypass'],
  operationId,
  summary: 'Always refused: a grant cannot be changed, widened or extended (R51)',
  parameters: [idParam],
  responses: errors(401, 403, 405),
});

const actor = {
  type: 'object',
  required: ['subject', 'name'],
  properties: { subject: { type: 'string' }, name: nullable({ type: 'string' }) },
};
const time = { type: 'string', format: 'date-time' };
const strings = { type: 'array', items: { type: 'string' } };

const BYPASS_PATHS = {
  '/api/v1/bypass/grants': {
    get: {
      tags: ['bypass'],
      operationId: 'listBypassGrants',
      summary: 'Grants, newest first (roles: admin, incident-responder, auditor)',
      parameters: [
        {
          name: 'status',
          in: 'query',
          schema: { type: 'string', enum: ['pending-approval', 'active', 'revoked', 'expired'] },
        },
        {
          name: 'overdue',
          in: 'query',
          description: '`true`: only grants whose post-hoc review is past due',
          schema: { type: 'string', enum: ['true', 'false'] },
        },
      ],
      responses: {
        '200': { description: 'The grants', content: json({ type: 'array', items: ref('BypassGrant') }) },
        ...errors(400, 401, 403, 500),
      },
    },
    post: {
      tags: ['bypass'],
      operationId: 'openBypassGrant',
      summary:
        "Opens a grant (roles: admin, incident-responder). `{ reason }` alone is the console's one button: every server and tool, for the opener, policy denies only, for 1 h",
      requestBody: { required: true, content: json(ref('OpenBypassGrant')) },
      responses: {
        '201': {
          description: 'The grant: active (immediate) or pending-approval (approval-first)',
          content: json(ref('BypassGrantDetail')),
        },
        ...errors(400, 401, 403, 500, 503),
      },
    },
  },
  '/api/v1/bypass/grants/{id}': {
    get: {
      tags: ['bypass'],
      operationId: 'getBypassGrant',
      summary: 'One grant with its history',
      parameters: [idParam],
      responses: {
        '200': { description: 'The grant', content: json(ref('BypassGrantDetail')) },
        ...errors(401, 403, 404, 500),
      },
    },
    patch: refused('patchBypassGrant'),
    put: refused('putBypassGrant'),
  },
  '/api/v1/bypass/grants/{id}/calls': {
    get: {
      tags: ['bypass'],
      operationId: 'listBypassGrantCalls',
      summary: 'Every audit record of a call made under the grant, oldest first (the post-incident review)',
      parameters: [
        idParam,
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
      ],
      responses: {
        '200': { description: 'The calls', content: json(ref('BypassGrantCalls')) },
        ...errors(400, 401, 403, 404, 500),
      },
    },
  },
  '/api/v1/bypass/grants/{id}/approve': {
    post: step(
      'approveBypassGrant',
      'A second person (admin, incident-responder; never the opener nor a person the grant names in users) approves a pending grant; its window starts now',
      'BypassComment',
      false,
    ),
  },
  '/api/v1/bypass/grants/{id}/revoke': {
    post: step(
      'revokeBypassGrant',
      'Ends a pending or active grant now (admin, incident-responder); calls already running finish',
      'BypassRevoke',
      false,
    ),
  },
  '/api/v1/bypass/grants/{id}/review': {
    post: step(
      'reviewBypassGrant',
      'Signs off the post-hoc review (admin, incident-responder, auditor; never the opener nor a person the grant names in users)',
      'BypassReview',
      true,
    ),
  },
} as const;

const BYPASS_SCHEMAS = {
  OpenBypassGrant: {
    type: 'object',
    additionalProperties: false,
    required: ['reason'],
    properties: {
      reason: {
        type: 'string',
        minLength: MIN_REASON_LENGTH,
        maxLength: 2000,
        description: `What is broken and why the policy is in the way: ${MIN_REASON_LENGTH} characters, ${MIN_REASON_DISTINCT} different, ${MIN_REASON_WORDS} words at least`,
      },
      incident: { type: 'string', maxLength: 200, description: 'The incident reference, e.g. INC-4711' },
      servers: { ...strings, minItems: 1, description: 'Server name globs (default every server)' },
      tools: { ...strings, minItems: 1, description: 'Tool, prompt or resource URI globs (default all)' },
      everyone: { type: 'boolean', description: 'Covers every caller (not with users or groups)' },
      users: { ...strings, description: 'Subjects (sub), exact; default: the opener alone' },
      groups: strings,
      liftRateLimits: { type: 'boolean', default: false },
      durationSeconds: {
        type: 'integer',
        minimum: MIN_DURATION_SECONDS,
        default: 3600,
        description: 'From activation; at most the configured maximum (8 h by default)',
      },
      requireApproval: {
        type: 'boolean',
        default: false,
        description: 'Ask for approval first even where the configuration allows break glass',
      },
    },
  },
  BypassComment: {
    type: 'object',
    additionalProperties: false,
    properties: { comment: { type: 'string', maxLength: 2000 } },
  },
  BypassRevoke: {
    type: 'object',
    additionalProperties: false,
    properties: { reason: { type: 'string', maxLength: 2000 } },
  },
  BypassReview: {
    type: 'object',
    additionalProperties: false,
    required: ['note'],
    properties: { note: { type: 'string', minLength: 10, maxLength: 5000 } },
  },
  BypassGrant: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      status: { type: 'string', enum: ['pending-approval', 'active', 'revoked', 'expired'] },
      effective: { type: 'boolean', description: 'Lets calls through right now' },
      mode: { type: 'string', enum: ['immediate', 'approval-first'] },
      reason: { type: 'string' },
      incident: nullable({ type: 'string' }),
      scope: { type: 'object', properties: { servers: strings, tools: strings } },
      covers: {
        type: 'object',
        properties: { everyone: { type: 'boolean' }, users: strings, groups: strings },
      },
      lifts: {
        type: 'object',
        properties: { policyDenies: { const: true }, rateLimits: { type: 'boolean' } },
      },
      durationSeconds: { type: 'integer' },
      openedBy: actor,
      openedAt: time,
      activatedAt: nullable(time),
      expiresAt: time,
      approvedBy: nullable(actor),
      approvedAt: nullable(time),
      revokedBy: nullable(actor),
      revokedAt: nullable(time),
      review: {
        type: 'object',
        properties: {
          required: { type: 'boolean' },
          dueAt: nullable(time),
          overdue: { type: 'boolean' },
          reviewedBy: nullable(actor),
          reviewedAt: nullable(time),
          note: nullable({ type: 'string' }),
        },
      },
    },
  },
  BypassGrantDetail: {
    allOf: [
      ref('BypassGrant'),
      {
        type: 'object',
        properties: {
          history: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                action: { type: 'string', enum: ['open', 'approve', 'revoke', 'expire', 'review'] },
                actor,
                at: time,
                comment: nullable({ type: 'string' }),
              },
            },
          },
        },
      },
    ],
  },
  BypassGrantCalls: {
    type: 'object',
    properties: {
      grantId: { type: 'string', format: 'uuid' },
      truncated: { type: 'boolean' },
      calls: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            kind: { type: 'string' },
            callId: { type: 'string' },
            occurredAt: { type: 'string' },
            outcome: { type: 'string' },
            principal: {
              type: 'object',
              properties: {
                subject: { type: 'string' },
                name: nullable({ type: 'string' }),
                email: nullable({ type: 'string' }),
              },
            },
            server: nullable({ type: 'string' }),
            tool: nullable({ type: 'string' }),
            method: { type: 'string' },
            action: nullable({ type: 'string' }),
            decision: nullable({ type: 'string' }),
            matchedRules: strings,
            errorCode: nullable({ type: 'integer' }),
          },
        },
      },
    },
  },
} as const;

export const BYPASS_OPENAPI: OpenApiFragment = { paths: BYPASS_PATHS, schemas: BYPASS_SCHEMAS };
