import type { RouteOptions } from 'fastify';
import { NestFactory, ModulesContainer, Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ADMIN_ACTION_KEY, apiRouteOf, GatewayUrls } from '@gatehouse/auth';
import {
  AUDIT_OUTCOMES,
  INGEST_MAX_CALLS,
  INGEST_MAX_DURATION_MS,
  INGEST_MAX_ERROR_MESSAGE,
  INGEST_METHODS,
  INGEST_PATH,
} from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { createLogger, Metrics } from '@gatehouse/observability';
import { AppModule } from '../../apps/gateway/src/app.module';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../libs/audit/src/query/filters';
import { api } from '../policy-lifecycle/support';
import { freePort, transportDefaults } from '../transport/processes';

/**
 * The admin API's OpenAPI document, generated from the `@ApiRoute` declarations, against the
 * routes the real gateway registers: Fastify's own route table (every route any module adds, read
 * with an `onRoute` hook) and Nest's handler metadata (`@Roles`, `@AdminAction`).
 */

type Operation = {
  operationId: string;
  summary: string;
  'x-roles': string[];
  responses: Record<string, { description?: string }>;
  parameters?: Array<{ name: string; in: string; schema: { enum?: unknown[] } }>;
};
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

// The key the console guard reads `@Roles` under (console.guard.ts), read here as the guard does.
const ROLES_KEY = 'gatehouse:console-roles';

/** A Nest handler served under /api/v1, with the metadata the guard and the audit read. */
interface Handler {
  route: string;
  handler: object;
  controller: object;
}

/** `METHOD /path/{param}` of every handler of every controller of the app. */
function nestHandlers(app: NestFastifyApplication): Handler[] {
  const out: Handler[] = [];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD'];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!controller) continue;
      const base = Reflect.getMetadata('path', controller) as string;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata('path', handler) as string | undefined;
        if (path === undefined) continue;
        const method = methods[Reflect.getMetadata('method', handler) as number];
        const full = `/${[base, path].filter((p) => p !== '' && p !== '/').join('/')}`.replace(/\/+/g, '/');
        out.push({ route: `${method} ${full.replace(/:(\w+)/g, '{$1}')}`, handler, controller });
      }
    }
  }
  return out;
}

describe('OpenAPI document of the admin API', () => {
  let app: NestFastifyApplication;
  let db: ScratchDatabase;
  let url: string;
  let doc: Doc;
  /** Every route Fastify registered, as `METHOD /path/{param}` (HEAD routes Fastify adds left out). */
  const served = new Set<string>();

  beforeAll(async () => {
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_openapi');
    const port = await freePort();
    const loaded = parseConfigText(
      `server:\n  port: ${port}\nlog:\n  level: warn\ndatabase:\n  url: "\${GATEHOUSE_TEST_DB}"\n${transportDefaults('')}`,
      { GATEHOUSE_TEST_DB: db.url },
    );
    const adapter = new FastifyAdapter();
    adapter.getInstance().addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') served.add(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
      }
    });
    app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot(loaded, createLogger('warn'), new Metrics()),
      adapter,
      { logger: ['error', 'warn'] },
    );
    await app.listen(port, '127.0.0.1');
    url = `http://127.0.0.1:${port}`;
    app.get(GatewayUrls).listening(url);
    const res = await api(url, '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.json as Doc;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const documented = () =>
    new Set(
      Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );

  it('documents every route Fastify serves under /api/v1, and nothing it does not serve', () => {
    expect(doc.openapi).toBe('3.1.0');
    const api = [...served].filter((r) => r.split(' ')[1]?.startsWith('/api/v1/'));
    // The policy, bypass, console, audit and meta controllers at least.
    expect(api).toEqual(
      expect.arrayContaining([
        'POST /api/v1/policy/versions/{number}/approve',
        'PATCH /api/v1/bypass/grants/{id}',
        'GET /api/v1/audit/events',
        `POST ${INGEST_PATH}`,
        'POST /api/v1/admin/console-sessions/revoke',
        'GET /api/v1/me',
        'GET /api/v1/openapi.json',
      ]),
    );
    expect({ missingFromTheDocument: api.filter((r) => !documented().has(r)).sort() }).toEqual({
      missingFromTheDocument: [],
    });
    expect({ documentedButNotServed: [...documented()].filter((r) => !served.has(r)).sort() }).toEqual({
      documentedButNotServed: [],
    });
  });

  it('states for each route the roles its @Roles requires, and every /api/v1 handler declares itself', () => {
    const reflector = app.get(Reflector);
    const handlers = nestHandlers(app).filter((h) => h.route.split(' ')[1]?.startsWith('/api/v1/'));
    expect(handlers.length).toBeGreaterThanOrEqual(documented().size);
    for (const { route, handler, controller } of handlers) {
      expect({ route, declared: apiRouteOf(handler) !== undefined }).toEqual({ route, declared: true });
      const [method = '', path = ''] = route.split(' ');
      const operation = doc.paths[path]?.[method.toLowerCase()];
      const roles =
        reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [
          handler as () => void,
          controller as () => void,
        ]) ?? [];
      expect({ route, roles: operation?.['x-roles'] }).toEqual({ route, roles });
      if (roles.length > 0) expect(operation?.summary).toContain(`(roles: ${roles.join(', ')})`);
      // A route with roles answers 403 ROLE_REQUIRED; a route behind the guard 401.
      if (roles.length > 0) expect(operation?.responses['403']?.description).toContain('ROLE_REQUIRED');
    }
    // Spot checks against what the controllers say in their own words.
    expect(doc.paths['/api/v1/bypass/grants']?.post?.['x-roles']).toEqual(['admin', 'incident-responder']);
    expect(doc.paths['/api/v1/bypass/grants']?.get?.['x-roles']).toEqual([
      'admin',
      'incident-responder',
      'auditor',
    ]);
    expect(doc.paths['/api/v1/admin/console-sessions/revoke']?.post?.['x-roles']).toEqual(['admin']);
    expect(doc.paths['/api/v1/me']?.get?.['x-roles']).toEqual([]);
  });

  it('answers 503 AUDIT_UNAVAILABLE on every @AdminAction route', () => {
    const reflector = app.get(Reflector);
    const actions = nestHandlers(app)
      .filter((h) => reflector.get(ADMIN_ACTION_KEY, h.handler as () => void) !== undefined)
      .map((h) => h.route);
    // Policy steps, bypass steps, session revocation, audit queries (and whatever else is marked).
    expect(actions).toEqual(
      expect.arrayContaining([
        'POST /api/v1/policy/versions',
        'POST /api/v1/policy/versions/{number}/activate',
        'POST /api/v1/bypass/grants/{id}/revoke',
        'POST /api/v1/admin/console-sessions/revoke',
        'GET /api/v1/audit/events.csv',
        'GET /api/v1/audit/users/{subject}/summary',
      ]),
    );
    for (const route of actions) {
      const [method = '', path = ''] = route.split(' ');
      const responses = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
      expect({ route, description: responses['503']?.description }).toEqual({
        route,
        description: expect.stringContaining('AUDIT_UNAVAILABLE'),
      });
    }
  });

  it('documents every refusal as the error shape with its codes, and every $ref resolves', () => {
    for (const path of Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/audit/'))) {
      for (const operation of Object.values(doc.paths[path] ?? {})) {
        expect(Object.keys(operation.responses)).toEqual(
          expect.arrayContaining(['200', '400', '401', '403', '500', '503']),
        );
      }
    }
    const approve = doc.paths['/api/v1/policy/versions/{number}/approve']?.post?.responses ?? {};
    expect(JSON.stringify(approve['403'])).toContain('"enum":["ROLE_REQUIRED"');
    expect(JSON.stringify(approve['403'])).toContain('APPROVAL_BY_AUTHOR');
    expect(JSON.stringify(approve['404'])).toContain('#/components/schemas/Error');
    expect(doc.components.schemas.Error).toMatchObject({
      properties: { error: { required: ['code', 'message'] } },
    });
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    const missing = refs
      .map((r) => r.split('/').at(-1) ?? '')
      .filter((name) => !(name in doc.components.schemas));
    expect(missing).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('$defs');
  });

  it('states the limits the routes enforce, from the zod schemas that enforce them', async () => {
    const events = doc.paths['/api/v1/audit/events']?.get?.parameters ?? [];
    // The events filter names every outcome the trail can hold (shadow and fallback were once
    // missing from it, when the document repeated the list by hand).
    expect(events.find((p) => p.name === 'outcome')?.schema.enum).toEqual([...AUDIT_OUTCOMES]);
    expect(events.find((p) => p.name === 'limit')?.schema).toMatchObject({
      maximum: MAX_LIMIT,
      default: DEFAULT_LIMIT,
    });
    const schemas = doc.components.schemas as Record<string, { properties: Record<string, object> }>;
    expect(schemas.IngestRequest?.properties.calls).toMatchObject({ maxItems: INGEST_MAX_CALLS });
    expect(schemas.IngestCall?.properties).toMatchObject({
      method: { enum: [...INGEST_METHODS] },
      durationMs: { maximum: INGEST_MAX_DURATION_MS },
      errorMessage: { maxLength: INGEST_MAX_ERROR_MESSAGE },
    });
    const res = await api(url, '/api/v1/openapi.json');
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });
});
