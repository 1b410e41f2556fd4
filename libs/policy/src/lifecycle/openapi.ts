import { POLICY_ACTIONS } from './policy-event.entity';
import { PolicyErrorCode } from './policy-error';
import { POLICY_STATUSES } from './policy-version.entity';
import { MAX_FILES } from './dto';
import { AUDIT_UNAVAILABLE } from '@gatehouse/auth';
import { AUDIT_UNAVAILABLE_DESCRIPTION, errorResponses, json, nullable, ref } from './openapi-common';
import { CONSOLE_PATHS, CONSOLE_SCHEMAS } from './openapi-console';

/**
 * A part of the admin API's OpenAPI document, written by hand next to the routes it describes:
 * policy and console here, audit and export in `@gatehouse/audit`, break glass in
 * `@gatehouse/bypass`, so each part states its own lib's limits from that lib's constants.
 */
export interface OpenApiFragment {
  paths: Record<string, unknown>;
  schemas: Record<string, unknown>;
}

/**
 * The parts of the document that libs above policy contribute; the gateway app provides them
 * (`OpenApiFragmentsModule`), and a policy module on its own serves its own part alone.
 */
export const OPENAPI_FRAGMENTS = Symbol('OPENAPI_FRAGMENTS');

/**
 * The OpenAPI 3.1 document of the admin API: the policy and console parts, merged with
 * `fragments`. e2e/policy-lifecycle checks the policy routes and e2e/audit-admin that every route
 * the gateway registers under `/api/v1` is documented. The console generates its client from it.
 */
export function openApiDocument(fragments: readonly OpenApiFragment[] = []) {
  return {
    ...BASE_DOCUMENT,
    paths: Object.assign({}, BASE_DOCUMENT.paths, ...fragments.map((f) => f.paths)) as Record<
      string,
      unknown
    >,
    components: {
      ...BASE_DOCUMENT.components,
      schemas: Object.assign(
        {},
        BASE_DOCUMENT.components.schemas,
        ...fragments.map((f) => f.schemas),
      ) as Record<string, unknown>,
    },
  };
}

const errors = (...statuses: number[]) => errorResponses(ERROR_DESCRIPTIONS, ...statuses);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'INVALID_REQUEST: the body, path or query does not have the documented shape',
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED, CSRF_TOKEN_MISSING / CSRF_TOKEN_INVALID / CROSS_SITE_REQUEST (cookie sessions), or four eyes: APPROVAL_BY_AUTHOR / APPROVAL_BY_PROPOSER / APPROVER_ROLE_REQUIRED / ROLLBACK_NEEDS_SECOND_PERSON',
  404: 'VERSION_NOT_FOUND',
  409: "INVALID_TRANSITION (the step does not apply to the version's status) or CONCURRENT_ACTIVATION",
  422: 'POLICY_INVALID: the files have problems, each with file, line and column; nothing was stored',
  500: 'INTERNAL: the log line with the same errorId has the cause',
  503: AUDIT_UNAVAILABLE_DESCRIPTION,
};

const versionParam = {
  name: 'number',
  in: 'path',
  required: true,
  description: 'The version number',
  schema: { type: 'integer', minimum: 1 },
};

const write = (summary: string, description: string, body: 'comment' | 'reason') => ({
  summary,
  description,
  parameters: [versionParam],
  requestBody: {
    required: body === 'reason',
    content: json(ref(body === 'reason' ? 'ReasonBody' : 'CommentBody')),
  },
  responses: {
    '200': { description: 'The version after the step', content: json(ref('PolicyVersionDetail')) },
    ...errors(400, 401, 403, 404, 409, 500, 503),
  },
});

const BASE_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Gatehouse admin API',
    version: '1',
    description:
      'Policy lifecycle: versions move draft → proposed → approved → active → superseded (or rejected); approval needs a second person (four eyes); activation and rollback reach every replica within 2 s. The audit trail: events, exports and per-user activity summaries. Every admin action (policy steps, session revocation, audit queries) is recorded in the audit trail before it takes effect, and refused with 503 AUDIT_UNAVAILABLE when it cannot be. Every refusal is `{ error: { code, message } }`.',
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }, { session: [], csrf: [] }],
  tags: [{ name: 'policy' }, { name: 'audit' }, { name: 'bypass' }, { name: 'console' }, { name: 'meta' }],
  paths: {
    '/api/v1/policy/versions': {
      get: {
        tags: ['policy'],
        operationId: 'listPolicyVersions',
        summary: 'Every version, newest first (roles: admin, policy-approver, auditor)',
        responses: {
          '200': {
            description: 'The versions, without file texts',
            content: json({ type: 'array', items: ref('PolicyVersionSummary') }),
          },
          ...errors(401, 403, 500),
        },
      },
      post: {
        tags: ['policy'],
        operationId: 'createPolicyDraft',
        summary: 'Create a draft from files (roles: admin, policy-approver)',
        description:
          'The files are parsed; any problem refuses them with 422 and every position, and nothing is stored.',
        requestBody: { required: true, content: json(ref('CreateDraftBody')) },
        responses: {
          '201': { description: 'The new draft', content: json(ref('PolicyVersionDetail')) },
          ...errors(400, 401, 403, 422, 500, 503),
        },
      },
    },
    '/api/v1/policy/versions/{number}': {
      get: {
        tags: ['policy'],
        operationId: 'getPolicyVersion',
        summary: 'One version with its files and history (roles: admin, policy-approver, auditor)',
        parameters: [versionParam],
        responses: {
          '200': { description: 'The version', content: json(ref('PolicyVersionDetail')) },
          ...errors(400, 401, 403, 404, 500),
        },
      },
    },
    '/api/v1/policy/versions/{number}/propose': {
      post: {
        tags: ['policy'],
        operationId: 'proposePolicyVersion',
        ...write('draft → proposed (roles: admin, policy-approver)', 'Asks for approval.', 'comment'),
      },
    },
    '/api/v1/policy/versions/{number}/approve': {
      post: {
        tags: ['policy'],
        operationId: 'approvePolicyVersion',
        ...write(
          'proposed → approved (roles: admin, policy-approver)',
          'Four eyes: refused with 403 for the author (APPROVAL_BY_AUTHOR) and the proposer (APPROVAL_BY_PROPOSER).',
          'comment',
        ),
      },
    },
    '/api/v1/policy/versions/{number}/reject': {
      post: {
        tags: ['policy'],
        operationId: 'rejectPolicyVersion',
        ...write(
          'draft, proposed or approved → rejected (roles: admin, policy-approver)',
          'Says why.',
          'reason',
        ),
      },
    },
    '/api/v1/policy/versions/{number}/activate': {
      post: {
        tags: ['policy'],
        operationId: 'activatePolicyVersion',
        ...write(
          'approved → active (roles: admin, policy-approver)',
          'The active version becomes superseded in the same transaction; every replica loads the new one within 2 s.',
          'comment',
        ),
      },
    },
    '/api/v1/policy/versions/{number}/rollback': {
      post: {
        tags: ['policy'],
        operationId: 'rollbackPolicyVersion',
        ...write(
          'Re-activate an earlier approved or superseded version (roles: admin, policy-approver)',
          'Recorded as `rollback` with the comment, which is required. Four eyes: a superseded version goes back only by someone who neither wrote, proposed nor approved it, and only if a second person approved it (an imported version never was); otherwise 403 ROLLBACK_NEEDS_SECOND_PERSON. An approved version goes as by activate.',
          'reason',
        ),
      },
    },
    '/api/v1/policy/diff': {
      get: {
        tags: ['policy'],
        operationId: 'diffPolicyVersions',
        summary:
          'Unified diff per changed file between two versions (roles: admin, policy-approver, auditor)',
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
          { name: 'to', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
        ],
        responses: {
          '200': { description: 'The changed files', content: json(ref('PolicyDiff')) },
          ...errors(400, 401, 403, 404, 500),
        },
      },
    },
    '/api/v1/policy/active': {
      get: {
        tags: ['policy'],
        operationId: 'getActivePolicy',
        summary: 'The version this replica enforces (roles: admin, policy-approver, auditor)',
        responses: {
          '200': { description: 'What this replica decides with', content: json(ref('ActivePolicy')) },
          ...errors(401, 403, 500),
        },
      },
    },
    '/api/v1/openapi.json': {
      get: {
        tags: ['meta'],
        operationId: 'getOpenApiDocument',
        summary: 'This document (no sign-in needed)',
        security: [],
        responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
      },
    },
    ...CONSOLE_PATHS,
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'An access token of the configured IdP (CI, CLI)',
      },
      session: { type: 'apiKey', in: 'cookie', name: 'gatehouse_session', description: 'A console session' },
      csrf: {
        type: 'apiKey',
        in: 'header',
        name: 'x-csrf-token',
        description: 'With a console session, every POST echoes the csrfToken of GET /api/v1/me',
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', examples: [...Object.values(PolicyErrorCode), AUDIT_UNAVAILABLE] },
              message: { type: 'string' },
              problems: { type: 'array', items: ref('PolicyProblem') },
              errorId: { type: 'string', description: 'For INTERNAL: the id on the log line with the cause' },
              issues: {
                type: 'array',
                description: 'For an invalid ingest body: each offending call index and field',
                items: {
                  type: 'object',
                  required: ['path', 'message'],
                  properties: { path: { type: 'string' }, message: { type: 'string' } },
                },
              },
            },
          },
        },
      },
      PolicyProblem: {
        type: 'object',
        required: ['file', 'line', 'column', 'message'],
        properties: {
          file: { type: 'string' },
          line: { type: 'integer', minimum: 1 },
          column: { type: 'integer', minimum: 1 },
          message: { type: 'string' },
        },
      },
      PolicyFile: {
        type: 'object',
        required: ['path', 'text'],
        additionalProperties: false,
        properties: {
          path: {
            type: 'string',
            description: 'Relative to the policy directory, "/" between folders, ends in .yaml or .yml',
          },
          text: { type: 'string' },
        },
      },
      CreateDraftBody: {
        type: 'object',
        required: ['message', 'files'],
        additionalProperties: false,
        properties: {
          message: { type: 'string', minLength: 1, description: 'Why this version exists' },
          files: { type: 'array', minItems: 1, maxItems: MAX_FILES, items: ref('PolicyFile') },
        },
      },
      CommentBody: {
        type: 'object',
        additionalProperties: false,
        properties: { comment: { type: 'string', minLength: 1 } },
      },
      ReasonBody: {
        type: 'object',
        required: ['comment'],
        additionalProperties: false,
        properties: { comment: { type: 'string', minLength: 1 } },
      },
      Actor: {
        type: 'object',
        required: ['subject', 'name'],
        properties: { subject: { type: 'string' }, name: nullable({ type: 'string' }) },
      },
      Step: {
        type: 'object',
        required: ['by', 'at'],
        properties: { by: ref('Actor'), at: { type: 'string', format: 'date-time' } },
      },
      PolicyVersionSummary: {
        type: 'object',
        required: ['number', 'status', 'message', 'author', 'createdAt', 'paths'],
        properties: {
          number: { type: 'integer' },
          status: { type: 'string', enum: [...POLICY_STATUSES] },
          message: { type: 'string' },
          author: ref('Actor'),
          createdAt: { type: 'string', format: 'date-time' },
          paths: { type: 'array', items: { type: 'string' } },
          proposed: nullable(ref('Step')),
          approved: nullable(ref('Step')),
          rejected: nullable(ref('Step')),
          activated: nullable(ref('Step')),
          superseded: nullable({
            type: 'object',
            properties: { at: { type: 'string', format: 'date-time' }, by: nullable({ type: 'integer' }) },
          }),
        },
      },
      PolicyVersionDetail: {
        allOf: [
          ref('PolicyVersionSummary'),
          {
            type: 'object',
            required: ['files', 'history'],
            properties: {
              files: { type: 'array', items: ref('PolicyFile') },
              history: { type: 'array', items: ref('PolicyEvent') },
            },
          },
        ],
      },
      PolicyEvent: {
        type: 'object',
        required: ['action', 'actor', 'at', 'comment'],
        properties: {
          action: { type: 'string', enum: [...POLICY_ACTIONS] },
          actor: ref('Actor'),
          at: { type: 'string', format: 'date-time' },
          comment: nullable({ type: 'string' }),
        },
      },
      PolicyDiff: {
        type: 'object',
        required: ['from', 'to', 'files'],
        properties: {
          from: { type: 'integer' },
          to: { type: 'integer' },
          files: {
            type: 'array',
            items: {
              type: 'object',
              required: ['path', 'change', 'patch'],
              properties: {
                path: { type: 'string' },
                change: { type: 'string', enum: ['added', 'removed', 'modified'] },
                patch: { type: 'string', description: 'Unified diff' },
              },
            },
          },
        },
      },
      ActivePolicy: {
        type: 'object',
        required: ['version', 'loadedAt', 'details'],
        properties: {
          version: nullable({ type: 'integer' }),
          loadedAt: nullable({ type: 'string', format: 'date-time' }),
          details: nullable(ref('PolicyVersionSummary')),
        },
      },
      ...CONSOLE_SCHEMAS,
    },
  },
} as const;
