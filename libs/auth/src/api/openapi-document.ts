import { RequestMethod } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { z } from 'zod';
import { ADMIN_ACTION_KEY } from '../admin-audit';
import { STATE_CHANGING } from '../console/console-gate.service';
import { ConsoleGuard, rolesOf } from '../console/console.guard';
import { apiErrorBody, declaredRoutes, type ApiError, type DeclaredRoute } from './api-route';

/** A declared route where Nest serves it: `GET` and `/api/v1/bypass/grants/{id}`. */
export interface DocumentedRoute {
  method: string;
  /** OpenAPI style: `{id}` for `:id`. */
  path: string;
  /** From `@Roles` on the handler or its controller; empty for any signed-in caller or a public route. */
  roles: string[];
  /** Behind the console guard (`@Roles` or `@Authenticated`): 401 without a caller. */
  guarded: boolean;
  /** An `@AdminAction`: 503 AUDIT_UNAVAILABLE when the trail cannot record it. */
  adminAction: boolean;
  declared: DeclaredRoute;
}

function segments(path: unknown): string[] {
  const first: unknown = Array.isArray(path) ? path[0] : path;
  return typeof first === 'string' ? first.split('/').filter((s) => s !== '') : [];
}

/** Where Nest serves a declared route, and what its metadata says. */
export function documentedRoute(declared: DeclaredRoute): DocumentedRoute {
  const { controller, handler } = declared;
  const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
  const parts = [
    ...segments(Reflect.getMetadata(PATH_METADATA, controller)),
    ...segments(Reflect.getMetadata(PATH_METADATA, handler)),
  ];
  const guards = [
    ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
    ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
  ];
  return {
    method,
    path: `/${parts.join('/')}`.replace(/:(\w+)/g, '{$1}'),
    roles: rolesOf(handler, controller),
    guarded: guards.includes(ConsoleGuard),
    adminAction: Reflect.getMetadata(ADMIN_ACTION_KEY, handler) !== undefined,
    declared,
  };
}

type Json = Record<string, unknown>;

/** The schemas named with `.meta({ id })`, gathered as `components.schemas` while converting. */
class Components {
  readonly schemas: Record<string, Json> = {};

  /** JSON Schema of `schema` (request side: `input`, answers: `output`), named parts as `$ref`s. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const converted = z.toJSONSchema(schema, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
      // An integer's implicit safe-integer bounds are not a limit the API states.
      override: ({ jsonSchema }) => {
        if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
        if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      },
    }) as Json;
    const defs = (converted.$defs ?? {}) as Record<string, Json>;
    delete converted.$defs;
    delete converted.$schema;
    // A part named once may read differently as a request and as an answer (defaults): the
    // request side then gets its own name.
    const names = new Map<string, string>();
    const rename = (value: Json): Json =>
      JSON.parse(
        JSON.stringify(value).replace(
          /"#\/\$defs\/([^"]+)"/g,
          (_m, id: string) => `"#/components/schemas/${names.get(id) ?? id}"`,
        ),
      ) as Json;
    for (const [id, def] of Object.entries(defs)) {
      const existing = this.schemas[id];
      names.set(
        id,
        existing === undefined || JSON.stringify(existing) === JSON.stringify(rename(def))
          ? id
          : `${id}${io === 'input' ? 'Input' : 'Output'}`,
      );
    }
    for (const [id, def] of Object.entries(defs)) {
      const renamed = rename(def);
      const name = names.get(id) ?? id;
      const existing = this.schemas[name];
      if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(renamed)) {
        throw new Error(`two different schemas are both named ${name} in the OpenAPI document`);
      }
      this.schemas[name] = renamed;
    }
    return rename(converted);
  }
}

const json = (schema: Json) => ({ 'application/json': { schema } });

const UNAUTHENTICATED: ApiError = {
  codes: ['NOT_SIGNED_IN', 'SESSION_ENDED', 'TOKEN_REJECTED'],
  description: 'no console session or bearer token, or it is no longer valid (with WWW-Authenticate)',
};
const ROLE_REQUIRED: ApiError = {
  codes: ['ROLE_REQUIRED'],
  description: 'the caller holds none of the roles named in x-roles (an admin action records the refusal)',
};
const CSRF: ApiError = {
  codes: ['CSRF_TOKEN_MISSING', 'CSRF_TOKEN_INVALID', 'CROSS_SITE_REQUEST'],
  description:
    'a console session write without the csrfToken of GET /api/v1/me in x-csrf-token, or from another site',
};
const INVALID_REQUEST: ApiError = {
  codes: ['INVALID_REQUEST'],
  description: 'the path, query or body does not have the documented shape; the message names each field',
};
const INTERNAL: ApiError = {
  codes: ['INTERNAL'],
  description: 'an unexpected failure; the log line with the same errorId has the cause',
};
const AUDIT_UNAVAILABLE: ApiError = {
  codes: ['AUDIT_UNAVAILABLE'],
  description:
    'the audit trail could not record this admin action, so it was not done and nothing changed (with Retry-After); try again shortly',
};

/** The refusals of a route: the ones its metadata implies, then its own. */
function refusals(route: DocumentedRoute): Map<number, ApiError[]> {
  const { spec } = route.declared;
  const out = new Map<number, ApiError[]>();
  const add = (status: number, error: ApiError) => out.set(status, [...(out.get(status) ?? []), error]);
  if (spec.params || spec.query || spec.body) add(400, INVALID_REQUEST);
  if (route.guarded) add(401, UNAUTHENTICATED);
  if (route.roles.length > 0) add(403, ROLE_REQUIRED);
  if (route.guarded && STATE_CHANGING.has(route.method)) add(403, CSRF);
  for (const [status, error] of Object.entries(spec.errors ?? {})) add(Number(status), error);
  add(500, INTERNAL);
  if (route.adminAction) add(503, AUDIT_UNAVAILABLE);
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function parameters(components: Components, schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const converted = components.convert(schema, 'input');
  const required = new Set((converted.required as string[] | undefined) ?? []);
  return Object.entries((converted.properties ?? {}) as Record<string, Json>).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function operation(components: Components, route: DocumentedRoute): Json {
  const { spec } = route.declared;
  const responses: Json = {};
  for (const [status, answer] of Object.entries(spec.responses)) {
    const type = answer.contentType ?? 'application/json';
    responses[status] = {
      description: answer.description,
      ...(answer.schema
        ? { content: { [type]: { schema: components.convert(answer.schema, 'output') } } }
        : type !== 'application/json'
          ? { content: { [type]: { schema: { type: 'string' } } } }
          : {}),
    };
  }
  const error = components.convert(apiErrorBody, 'output');
  for (const [status, errors] of refusals(route)) {
    const codes = [...new Set(errors.flatMap((e) => e.codes))];
    responses[String(status)] = {
      description: errors.map((e) => `${e.codes.join(' / ')}: ${e.description}`).join('; '),
      content: json({
        allOf: [
          error,
          {
            type: 'object',
            properties: { error: { type: 'object', properties: { code: { enum: codes } } } },
          },
        ],
      }),
    };
  }
  const roles = route.roles.length > 0 ? ` (roles: ${route.roles.join(', ')})` : '';
  return {
    tags: [spec.tag],
    operationId: spec.operationId,
    summary: `${spec.summary}${roles}`,
    ...(spec.description ? { description: spec.description } : {}),
    'x-roles': route.roles,
    ...(spec.public ? { security: [] } : {}),
    ...(spec.params || spec.query
      ? {
          parameters: [
            ...parameters(components, spec.params, 'path'),
            ...parameters(components, spec.query, 'query'),
          ],
        }
      : {}),
    ...(spec.body
      ? {
          requestBody: {
            // Required unless an empty body is a valid one (handlers read a missing body as `{}`).
            required: !spec.body.safeParse(undefined).success && !spec.body.safeParse({}).success,
            content: json(components.convert(spec.body, 'input')),
          },
        }
      : {}),
    responses,
  };
}

const DESCRIPTION = [
  'Policy lifecycle: versions move draft → proposed → approved → active → superseded (or rejected); approval needs a second person (four eyes); activation and rollback reach every replica within 2 s.',
  'The audit trail: events, exports and per-user activity summaries. Break glass: time-boxed bypass grants with post-hoc review.',
  'Every admin action (policy steps, bypass steps, session revocation, audit queries) is recorded in the audit trail before it takes effect, and refused with 503 AUDIT_UNAVAILABLE when it cannot be.',
  'Every refusal is `{ error: { code, message } }`; each operation lists its codes per status, and `x-roles` names the console roles it needs (any one of them).',
  'Generated from the zod schemas that validate the requests and answers (`@ApiRoute` next to each handler).',
].join(' ');

const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** The document's routes: every declared route where Nest serves it, in path then method order. */
export function documentedRoutes(declared: readonly DeclaredRoute[] = declaredRoutes()): DocumentedRoute[] {
  return declared
    .map(documentedRoute)
    .sort((a, b) =>
      a.path === b.path
        ? METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method)
        : a.path < b.path
          ? -1
          : 1,
    );
}

/**
 * The admin API's OpenAPI 3.1 document, from the `@ApiRoute` declarations of every controller
 * loaded in this process (the gateway loads them all). Deterministic: the same declarations give
 * the same document, so the console's generated client can be checked for staleness.
 */
export function buildOpenApiDocument(declared: readonly DeclaredRoute[] = declaredRoutes()) {
  const components = new Components();
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of documentedRoutes(declared)) {
    const key = `${route.method} ${route.path}`;
    const item = (paths[route.path] ??= {});
    if (item[route.method.toLowerCase()]) throw new Error(`${key} is declared twice`);
    item[route.method.toLowerCase()] = operation(components, route);
  }
  const tags = [...new Set(documentedRoutes(declared).map((r) => r.declared.spec.tag))].sort();
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: '1', description: DESCRIPTION },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [], csrf: [] }],
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An access token of the configured IdP (CI, CLI)',
        },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'gatehouse_session',
          description: 'A console session',
        },
        csrf: {
          type: 'apiKey',
          in: 'header',
          name: 'x-csrf-token',
          description: 'With a console session, every write echoes the csrfToken of GET /api/v1/me',
        },
      },
      schemas: Object.fromEntries(
        Object.entries(components.schemas).sort(([a], [b]) => (a < b ? -1 : 1)),
      ) as Record<string, Json>,
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;
