import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { signIn, type SignedIn } from '../console-login/support';
import { PEOPLE, startConsoleGateway, type ConsoleGateway, type Person } from './support';

/**
 * R54: the server enforces every console role. Every route under /api/v1 is found in the booted
 * gateway (its controllers' route metadata, not a hand-kept list) and called by every demo person
 * with their console session (and CSRF token on writes): a route guarded by @Roles answers 403
 * ROLE_REQUIRED exactly to the people without one of its roles, and something else to those with
 * one; a route that only needs a signed-in caller refuses nobody signed in; nobody is let in
 * without a session. `npm run build` first (the dev IdP runs from dist/).
 */
jest.setTimeout(180_000);

/** Where @Roles keeps its roles (libs/auth/src/console/console.guard.ts). */
const ROLES_KEY = 'gatehouse:console-roles';
/** Where Nest keeps a controller's or handler's guards. */
const GUARDS_KEY = '__guards__';

interface ApiRoute {
  method: string;
  path: string;
  /** The roles @Roles names; empty: any signed-in caller (@Authenticated); undefined: unguarded. */
  roles: string[] | undefined;
  where: string;
}

function registeredRoutes(gw: ConsoleGateway): ApiRoute[] {
  const routes: ApiRoute[] = [];
  for (const module of gw.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!controller) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        const verb = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (sub === undefined || verb === undefined) continue;
        const roles = (Reflect.getMetadata(ROLES_KEY, handler) ??
          Reflect.getMetadata(ROLES_KEY, controller)) as string[] | undefined;
        const guarded =
          (Reflect.getMetadata(GUARDS_KEY, handler) as unknown[] | undefined)?.length ||
          (Reflect.getMetadata(GUARDS_KEY, controller) as unknown[] | undefined)?.length;
        for (const s of Array.isArray(sub) ? sub : [sub]) {
          const path = `/${[base, s]
            .map((p) => p.replace(/^\/|\/$/g, ''))
            .filter(Boolean)
            .join('/')}`;
          if (!path.startsWith('/api/v1/')) continue;
          routes.push({
            method: RequestMethod[verb],
            path,
            roles: roles ?? (guarded ? [] : undefined),
            where: `${controller.name}.${name}`,
          });
        }
      }
    }
  }
  return routes;
}

/** A concrete URL for a route: path parameters get a value no record has. */
const concrete = (path: string) =>
  path.replace(/:(\w+)/g, (_m, name: string) => (name === 'number' ? '999999' : 'no-such-' + name));

describe('R54: every /api/v1 route against every console role', () => {
  let gw: ConsoleGateway;
  const sessions = new Map<Person, { signedIn: SignedIn; csrf: string }>();

  const session = async (person: Person) => {
    const signedIn = await signIn(gw, person);
    const me = await fetch(`${gw.url}/api/v1/me`, { headers: { cookie: signedIn.jar.header() } });
    expect(me.status).toBe(200);
    const entry = { signedIn, csrf: ((await me.json()) as { csrfToken: string }).csrfToken };
    sessions.set(person, entry);
    return entry;
  };

  const call = async (route: ApiRoute, person: Person | undefined) => {
    const s = person === undefined ? undefined : (sessions.get(person) ?? (await session(person)));
    const write = route.method !== 'GET' && route.method !== 'HEAD';
    const res = await fetch(`${gw.url}${concrete(route.path)}`, {
      method: route.method,
      redirect: 'manual',
      headers: {
        accept: 'application/json',
        ...(s ? { cookie: s.signedIn.jar.header() } : {}),
        ...(s && write ? { 'x-csrf-token': s.csrf } : {}),
        ...(write ? { 'content-type': 'application/json' } : {}),
      },
      // An empty body: every write refuses it (validation), so nothing is changed by this test.
      ...(write ? { body: '{}' } : {}),
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code, text: text.slice(0, 200) };
  };

  beforeAll(async () => {
    gw = await startConsoleGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('finds the admin routes in the booted app', () => {
    const routes = registeredRoutes(gw);
    const guarded = routes.filter((r) => r.roles !== undefined && r.roles.length > 0);
    // The API as it stands: policy, bypass, audit query, export health, console sessions, overview.
    for (const prefix of [
      '/api/v1/policy/',
      '/api/v1/bypass/',
      '/api/v1/audit/',
      '/api/v1/export/',
      '/api/v1/admin/',
    ]) {
      expect(guarded.some((r) => r.path.startsWith(prefix))).toBe(true);
    }
    expect(guarded.find((r) => r.path === '/api/v1/overview')?.roles?.sort()).toEqual([
      'admin',
      'auditor',
      'incident-responder',
      'policy-approver',
    ]);
    expect(routes.find((r) => r.path === '/api/v1/me')?.roles).toEqual([]);
  });

  it('refuses exactly the people without a role the route names, and everyone without a session', async () => {
    const routes = registeredRoutes(gw).filter((r) => r.roles !== undefined);
    const wrong: string[] = [];
    // Admin last: nothing an admin's empty write could change would then affect the others.
    const people = (Object.keys(PEOPLE) as Person[]).sort((a, b) =>
      a === 'carol' ? 1 : b === 'carol' ? -1 : 0,
    );
    for (const route of routes) {
      const anonymous = await call(route, undefined);
      if (anonymous.status !== 401) {
        wrong.push(`${route.method} ${route.path} without a session: ${anonymous.status} ${anonymous.text}`);
      }
      for (const person of people) {
        const held: readonly string[] = PEOPLE[person];
        const allowed = route.roles!.length === 0 || route.roles!.some((r) => held.includes(r));
        let answer = await call(route, person);
        if (answer.status === 401) {
          // A session ended by an earlier call (none should); sign in again once and say so.
          sessions.delete(person);
          answer = await call(route, person);
          if (answer.status !== 401)
            wrong.push(`${person}'s session ended before ${route.method} ${route.path}`);
        }
        const refused = answer.status === 403 && answer.code === 'ROLE_REQUIRED';
        if (allowed && (refused || answer.status === 401)) {
          wrong.push(
            `${route.method} ${route.path} (${route.roles!.join(', ') || 'signed in'}) refused ${person}: ${answer.status} ${answer.text}`,
          );
        }
        if (!allowed && !refused) {
          wrong.push(
            `${route.method} ${route.path} (${route.roles!.join(', ')}) let ${person} (${held.join(', ') || 'no role'}) through: ${answer.status} ${answer.text}`,
          );
        }
        if (!allowed && refused) {
          // The refusal names a role that would do.
          expect(route.roles!.some((r) => answer.text.includes(r))).toBe(true);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
