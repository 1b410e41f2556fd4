import { z } from 'zod';
import { openApi, type OpenApiFragment } from '@gatehouse/policy';
import { ACTIVITY_ROUTES, auditQueryErrorResponse } from './activity.schemas';

/**
 * The Activity routes' part of the OpenAPI document, derived from the zod schemas that validate
 * them (activity.schemas.ts) with zod's JSON Schema output. A bridge until the document is
 * generated from every route's schemas (issue 15 point 2): then this file goes.
 */

const { AUDIT_UNAVAILABLE_DESCRIPTION, json } = openApi;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const ERRORS: Record<string, string> = {
  '400':
    'INVALID_REQUEST (an unknown parameter, a bad time, time zone or limit; the message names it) or PERIOD_UNREADABLE (with suggestions)',
  '401': 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  '403':
    'ROLE_REQUIRED: needs the console role auditor or admin (the refusal is itself recorded as a denied audit.query); CSRF_* for cookie writes',
  '503': `${AUDIT_UNAVAILABLE_DESCRIPTION}. Every audit query is recorded (audit.query) before it is answered`,
};

function operation(route: (typeof ACTIVITY_ROUTES)[number]): Record<string, unknown> {
  const responses: Record<string, unknown> = {
    '200': { description: 'OK', content: json(jsonSchema(route.response, 'output')) },
  };
  const error = json(jsonSchema(auditQueryErrorResponse, 'output'));
  for (const [status, description] of Object.entries(ERRORS))
    responses[status] = { description, content: error };
  if (route.path === '/api/v1/audit/verify') {
    responses['413'] = {
      description: 'VERIFY_TOO_LARGE: more than 31 days or 250,000 records',
      content: error,
    };
    responses['429'] = {
      description: 'VERIFY_BUSY: a verification is running on this replica',
      content: error,
    };
  }
  const parameters: unknown[] = [];
  if (route.path.includes('{subject}')) {
    parameters.push({ name: 'subject', in: 'path', required: true, schema: { type: 'string' } });
  }
  if ('query' in route) {
    const shape = jsonSchema(route.query, 'input') as {
      properties?: Record<string, { description?: string }>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(shape.properties ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: shape.required?.includes(name) ?? false,
        ...(schema.description ? { description: schema.description } : {}),
        schema,
      });
    }
  }
  return {
    tags: ['audit'],
    operationId: `audit${route.method}${route.path.replace(/\W+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    parameters,
    ...('body' in route
      ? { requestBody: { required: true, content: json(jsonSchema(route.body, 'input')) } }
      : {}),
    responses,
  };
}

export const ACTIVITY_OPENAPI: OpenApiFragment = {
  paths: Object.fromEntries(ACTIVITY_ROUTES.map((r) => [r.path, { [r.method]: operation(r) }])),
  schemas: {},
};
