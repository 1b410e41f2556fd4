import { AUDIT_UNAVAILABLE_DESCRIPTION, errorResponses, json, nullable, ref } from './openapi-common';

/**
 * The console's API routes under `/api/v1` (served by `@gatehouse/auth`'s console controllers):
 * who am I, and the admin's view over console sessions. Sign-in and sign-out live under `/auth`
 * (browser redirects), outside this document.
 */

const ERRORS: Record<number, string> = {
  400: 'INVALID_REQUEST: the body does not have the documented shape',
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED (recorded in the audit trail as denied for admin actions), or CSRF_TOKEN_MISSING / CSRF_TOKEN_INVALID / CROSS_SITE_REQUEST (cookie sessions)',
  503: AUDIT_UNAVAILABLE_DESCRIPTION,
};

export const CONSOLE_PATHS = {
  '/api/v1/me': {
    get: {
      tags: ['console'],
      operationId: 'getMe',
      summary: 'Who the caller is, and for a console session its CSRF token (any signed-in caller)',
      responses: {
        '200': { description: 'The caller', content: json(ref('Me')) },
        ...errorResponses(ERRORS, 401),
      },
    },
  },
  '/api/v1/admin/console-sessions': {
    get: {
      tags: ['console'],
      operationId: 'listConsoleSessions',
      summary: 'Live console sessions, never their ids, most recently used first (roles: admin, auditor)',
      responses: {
        '200': {
          description: 'The sessions',
          content: json({
            type: 'object',
            required: ['sessions'],
            properties: { sessions: { type: 'array', items: ref('ConsoleSessionSummary') } },
          }),
        },
        ...errorResponses(ERRORS, 401, 403),
      },
    },
  },
  '/api/v1/admin/console-sessions/revoke': {
    post: {
      tags: ['console'],
      operationId: 'revokeConsoleSessions',
      summary: 'End every console session of one person (roles: admin); an admin action in the audit trail',
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['subject'],
          additionalProperties: false,
          properties: { subject: { type: 'string', minLength: 1, maxLength: 1024 } },
        }),
      },
      responses: {
        '200': {
          description: 'How many sessions ended',
          content: json({
            type: 'object',
            required: ['subject', 'revoked'],
            properties: { subject: { type: 'string' }, revoked: { type: 'integer', minimum: 0 } },
          }),
        },
        ...errorResponses(ERRORS, 400, 401, 403, 503),
      },
    },
  },
};

const time = { type: 'string', format: 'date-time' };

export const CONSOLE_SCHEMAS = {
  Me: {
    type: 'object',
    required: ['kind', 'sub', 'issuer', 'groups', 'roles', 'authenticatedBy'],
    properties: {
      kind: { type: 'string', enum: ['user', 'service', 'anonymous'] },
      sub: { type: 'string' },
      issuer: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      groups: { type: 'array', items: { type: 'string' } },
      roles: { type: 'array', items: { type: 'string' } },
      certificate: {
        type: 'object',
        properties: { subject: { type: 'string' }, issuer: { type: 'string' } },
      },
      authenticatedBy: { type: 'string', enum: ['session', 'bearer', 'anonymous'] },
      csrfToken: { type: 'string', description: 'Console sessions: echo in x-csrf-token on every POST' },
      session: {
        type: 'object',
        properties: { createdAt: time, lastSeenAt: time, expiresAt: time, idleExpiresAt: time },
      },
    },
  },
  ConsoleSessionSummary: {
    type: 'object',
    description: 'A live console session (its id is never shown: it is a credential)',
    required: ['subject', 'name', 'roles', 'createdAt', 'lastSeenAt', 'expiresAt', 'idleExpiresAt'],
    properties: {
      subject: { type: 'string' },
      name: nullable({ type: 'string' }),
      roles: { type: 'array', items: { type: 'string' } },
      createdAt: time,
      lastSeenAt: time,
      expiresAt: time,
      idleExpiresAt: time,
    },
  },
};
