import {
  SetMetadata,
  StreamableFile,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { map, type Observable } from 'rxjs';
import { z } from 'zod';

/**
 * The admin API's routes describe themselves: `@ApiRoute({...})` next to the handler names its
 * request schemas (params, query, body: the zod schemas the handler validates with), its answers
 * per status (zod schemas of the JSON it sends) and the error codes it can refuse with. The
 * OpenAPI document (`GET /api/v1/openapi.json`, `buildOpenApiDocument`) is generated from these
 * declarations, with the roles read from `@Roles` and the 401/403/500/503 answers the guard and
 * `@AdminAction` add. Outside production every JSON answer is checked against its declared
 * schema, so a declaration that drifts from what the handler sends fails the tests (500).
 */

/** Every refusal of the admin API: `{ error: { code, message } }` (some codes add fields). */
export const apiErrorBody = z
  .object({
    error: z.looseObject({
      code: z.string().meta({ description: 'Machine-readable, e.g. ROLE_REQUIRED' }),
      message: z.string().meta({ description: 'For people: what is wrong and what to do' }),
    }),
  })
  .meta({
    id: 'Error',
    description:
      'A refusal. Some codes add fields: `problems` (POLICY_INVALID: file, line, column, message), `issues` (an invalid ingest body: path, message), `errorId` (INTERNAL: the id on the log line with the cause).',
  });

/** A non-error answer: its description and, for JSON, the zod schema of what is sent. */
export interface ApiResponse {
  description: string;
  /** The JSON sent (its output side, after serialisation: a `Date` is an ISO string). */
  schema?: z.ZodType;
  /** Default `application/json`; another type (CSV, JSONL) is documented as a string and not checked. */
  contentType?: string;
}

/** A refusal the route can answer with a status: its codes and when. */
export interface ApiError {
  codes: readonly string[];
  description: string;
}

/** What a route declares about itself. Roles, 401/403, 500 and 503 are added from its metadata. */
export interface ApiRouteSpec {
  /** One line, shown as the operation's title (the roles are appended). */
  summary: string;
  description?: string;
  /** The group in the document: `policy`, `audit`, `bypass`, `console`, `meta`… */
  tag: string;
  /** Stable name of the operation (the typed client's `operations[...]`). */
  operationId: string;
  /** Path parameters, one property per `:name` of the path. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The answers per status; the status the handler sends (`@HttpCode`, else 200/201) is checked. */
  responses: Readonly<Record<number, ApiResponse>>;
  /** Refusals beyond the ones the mechanism adds: 400 INVALID_REQUEST (with a request schema), 401, 403, 500, 503. */
  errors?: Readonly<Record<number, ApiError>>;
  /** No sign-in needed (e.g. this document): no security requirement in the document. */
  public?: boolean;
}

/** A declared route: its controller class, handler and declaration. */
export interface DeclaredRoute {
  controller: abstract new (...args: never[]) => unknown;
  handler: (...args: never[]) => unknown;
  name: string;
  spec: ApiRouteSpec;
}

const DECLARED: DeclaredRoute[] = [];

/** Every route declared in this process, in declaration order (the document's order). */
export function declaredRoutes(): readonly DeclaredRoute[] {
  return DECLARED;
}

export const API_ROUTE_KEY = 'gatehouse:api-route';

/** The declaration of a handler, if it has one. */
export function apiRouteOf(handler: object): ApiRouteSpec | undefined {
  return Reflect.getMetadata(API_ROUTE_KEY, handler) as ApiRouteSpec | undefined;
}

/**
 * Checks a JSON answer against the schema declared for the status sent (outside production): a
 * mismatch is an error (500 INTERNAL, logged with the problems), so tests catch a drift.
 */
class ApiResponseCheck implements NestInterceptor {
  constructor(
    private readonly spec: ApiRouteSpec,
    private readonly name: string,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (process.env.NODE_ENV === 'production') return next.handle();
    const method = context.switchToHttp().getRequest<{ method: string }>().method;
    const status =
      (Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) as number | undefined) ??
      (method === 'POST' ? 201 : 200);
    const declared = this.spec.responses[status];
    const schema = declared?.schema;
    if (!schema || (declared.contentType ?? 'application/json') !== 'application/json') return next.handle();
    return next.handle().pipe(
      map((value: unknown) => {
        if (value instanceof StreamableFile || value === undefined) return value;
        const sent: unknown = JSON.parse(JSON.stringify(value));
        const checked = schema.safeParse(sent);
        if (!checked.success) {
          throw new Error(
            `the ${status} answer of ${this.name} (${this.spec.operationId}) does not match its declared schema: ${z.prettifyError(checked.error)}`,
          );
        }
        return value;
      }),
    );
  }
}

/**
 * Declares a route for the OpenAPI document and checks its answers (see {@link ApiRouteSpec}):
 *
 * ```ts
 * @Get('grants/:id')
 * @ApiRoute({ tag: 'bypass', operationId: 'getBypassGrant', summary: 'One grant with its history',
 *   params: grantParams, responses: { 200: { description: 'The grant', schema: grantDetail } },
 *   errors: { 404: { codes: ['GRANT_NOT_FOUND'], description: 'No such grant' } } })
 * ```
 */
export function ApiRoute(spec: ApiRouteSpec): MethodDecorator {
  return (target, key, descriptor) => {
    const handler = descriptor.value as unknown as DeclaredRoute['handler'];
    const controller = (target as { constructor: DeclaredRoute['controller'] }).constructor;
    const name = `${controller.name}.${String(key)}`;
    DECLARED.push({ controller, handler, name, spec });
    SetMetadata(API_ROUTE_KEY, spec)(target, key, descriptor);
    UseInterceptors(new ApiResponseCheck(spec, name))(target, key, descriptor);
  };
}

/** `{ 404: apiError('No such grant', 'GRANT_NOT_FOUND') }`. */
export function apiError(description: string, ...codes: [string, ...string[]]): ApiError {
  return { codes, description };
}

/** A JSON answer: `{ 200: ok('The grant', grantDetail) }`. */
export function ok(description: string, schema: z.ZodType): ApiResponse {
  return { description, schema };
}

/** A time as the API sends it: ISO 8601 UTC (a `Date` serialised by JSON). */
export const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time')
  .meta({ format: 'date-time' });
