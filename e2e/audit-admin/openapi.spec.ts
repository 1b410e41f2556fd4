import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { ADMIN_ACTION_KEY } from '@gatehouse/auth';
import {
  AUDIT_OUTCOMES,
  INGEST_MAX_CALLS,
  INGEST_MAX_DURATION_MS,
  INGEST_MAX_ERROR_MESSAGE,
  INGEST_METHODS,
  INGEST_PATH,
} from '@gatehouse/audit';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../libs/audit/src/query/filters';
import { auditGateway, type AuditGateway } from '../audit-query/support';
import { api } from '../policy-lifecycle/support';
import { freePort } from '../transport/processes';

/**
 * The admin API's OpenAPI document against the routes the real gateway registers: every route
 * under /api/v1 of every controller of the running app is documented, and the limits written by
 * hand in the document are the audit lib's own.
 */

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, unknown>;
        parameters?: Array<{ name: string; schema: { enum?: unknown[] } }>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
};

/** `METHOD /path/{param}` of every handler of every controller of the app, and whether it is an admin action. */
function registeredRoutes(gw: AuditGateway): Map<string, { adminAction: boolean }> {
  const routes = new Map<string, { adminAction: boolean }>();
  for (const module of gw.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!controller) continue;
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const full = `/${[base, path].filter((p) => p !== '' && p !== '/').join('/')}`.replace(/\/+/g, '/');
        routes.set(`${method} ${full.replace(/:(\w+)/g, '{$1}')}`, {
          adminAction: Reflect.getMetadata(ADMIN_ACTION_KEY, handler) !== undefined,
        });
      }
    }
  }
  return routes;
}

describe('OpenAPI document of the admin API', () => {
  let gw: AuditGateway;
  let doc: Doc;

  beforeAll(async () => {
    gw = await auditGateway('', await freePort());
    const res = await api(gw.url, '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.json as Doc;
  });
  afterAll(() => gw?.close());

  it('documents every route the gateway registers under /api/v1', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    // `@All` handlers are fallbacks (e.g. 405 for an unsupported method), not operations.
    const served = [...registeredRoutes(gw).keys()].filter(
      (r) => r.split(' ')[1]?.startsWith('/api/v1/') && !r.startsWith('ALL '),
    );
    // The policy, console and audit controllers at least.
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /api/v1/policy/versions/{number}/approve',
        'GET /api/v1/audit/events',
        'POST /api/v1/admin/console-sessions/revoke',
      ]),
    );
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
    // The ingest contract is documented even before its controller is mounted.
    expect(documented).toContain(`POST ${INGEST_PATH}`);
  });

  it('answers 503 AUDIT_UNAVAILABLE on every @AdminAction route', () => {
    const actions = [...registeredRoutes(gw)].filter(([, r]) => r.adminAction).map(([route]) => route);
    // Policy steps, session revocation, audit queries (and whatever else is marked).
    expect(actions).toEqual(
      expect.arrayContaining([
        'POST /api/v1/policy/versions',
        'POST /api/v1/policy/versions/{number}/activate',
        'POST /api/v1/admin/console-sessions/revoke',
        'GET /api/v1/audit/events.csv',
        'GET /api/v1/audit/users/{subject}/summary',
      ]),
    );
    for (const route of actions) {
      const [method = '', path = ''] = route.split(' ');
      const responses = doc.paths[path]?.[method.toLowerCase()]?.responses ?? {};
      expect({ route, description: (responses['503'] as { description?: string })?.description }).toEqual({
        route,
        description: expect.stringContaining('AUDIT_UNAVAILABLE'),
      });
    }
  });

  it('documents the audit routes with 200/400/401/403 answers and resolvable schemas', () => {
    for (const path of Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/audit/'))) {
      for (const operation of Object.values(doc.paths[path] ?? {})) {
        expect(Object.keys(operation.responses)).toEqual(
          expect.arrayContaining(['200', '400', '401', '403', '503']),
        );
      }
    }
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    const missing = refs
      .map((r) => r.split('/').at(-1) ?? '')
      .filter((name) => !(name in doc.components.schemas));
    expect(missing).toEqual([]);
  });

  it('states the limits the audit routes enforce, from the audit lib that enforces them', () => {
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
  });
});
