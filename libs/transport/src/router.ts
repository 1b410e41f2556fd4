import type { BoundCursors } from './cursor';
import { TransportError, TransportErrorCode } from './jsonrpc';
import { qualify, qualifyUri, unqualify, unqualifyUri } from './namespace';
import type { ForwardOptions, UpstreamConnection } from './upstream/upstream-connection';

type Params = Record<string, unknown> | undefined;
type Result = Record<string, unknown>;

/**
 * List methods, the capability an upstream must declare for them (`tasks.list`: a key inside a
 * capability), and the array they page over.
 */
const LISTS: Record<string, { capability: string; sub?: string; field: string }> = {
  'tools/list': { capability: 'tools', field: 'tools' },
  'prompts/list': { capability: 'prompts', field: 'prompts' },
  'resources/list': { capability: 'resources', field: 'resources' },
  'resources/templates/list': { capability: 'resources', field: 'resourceTemplates' },
  'tasks/list': { capability: 'tasks', sub: 'list', field: 'tasks' },
};

/** Methods the aggregated endpoint understands; anything else is refused with -32601 and a reason. */
export const AGGREGATED_METHODS = new Set([
  ...Object.keys(LISTS),
  'tools/call',
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  // Routed by the task's recorded owner (TaskOwnership), not by this router.
  'tasks/get',
  'tasks/result',
  'tasks/cancel',
]);

/** A request's upstream and the name/URI as that upstream knows it. */
export interface Route {
  server: string;
  params: Params;
}

/** Access to connections and capabilities, provided by the gateway service. */
export interface Upstreams {
  servers: string[];
  connection(server: string): Promise<UpstreamConnection>;
}

/**
 * Maps aggregated-endpoint requests (`<server>__<name>`, `<server>+<uri>`) to one upstream and
 * back. Lists walk every upstream in name order, one upstream page per client page, with the
 * position sealed into the cursor.
 */
export class AggregateRouter {
  /** Resolves which upstream a targeted request goes to, rewriting the name or URI. */
  static route(method: string, params: Params): Route {
    const p = params ?? {};
    switch (method) {
      case 'tools/call':
      case 'prompts/get':
        return withName(p, 'name', method);
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return withUri(p, 'uri');
      case 'completion/complete': {
        const ref = (p.ref ?? {}) as Record<string, unknown>;
        if (ref.type === 'ref/prompt') {
          const r = withName(ref, 'name', method);
          return { server: r.server, params: { ...p, ref: r.params } };
        }
        if (ref.type === 'ref/resource') {
          const r = withUri(ref, 'uri');
          return { server: r.server, params: { ...p, ref: r.params } };
        }
        throw new TransportError(
          TransportErrorCode.INVALID_PARAMS,
          'completion ref must be ref/prompt or ref/resource',
        );
      }
      default:
        throw new TransportError(TransportErrorCode.METHOD_NOT_FOUND, `method "${method}" is not routable`);
    }
  }

  static isList(method: string): boolean {
    return method in LISTS;
  }

  /** One page of an aggregated list. */
  static async list(
    method: string,
    params: Params,
    upstreams: Upstreams,
    capabilitiesOf: (server: string) => Promise<Record<string, unknown> | undefined>,
    options: ForwardOptions,
    cursors: BoundCursors,
  ): Promise<Result> {
    const spec = LISTS[method] as { capability: string; sub?: string; field: string };
    const servers = [...upstreams.servers].sort();
    let { index, cursor } = openCursor(cursors, params?.cursor, method, servers.length);
    while (index < servers.length) {
      const server = servers[index] as string;
      const caps = await capabilitiesOf(server).catch(() => undefined);
      const capability = caps?.[spec.capability] as Record<string, unknown> | undefined;
      if (capability !== undefined && (spec.sub === undefined || capability[spec.sub] !== undefined)) {
        const conn = await upstreams.connection(server);
        const page = await conn.request(
          method,
          cursor ? { ...params, cursor } : stripCursor(params),
          options,
        );
        const items = ((page[spec.field] as Result[] | undefined) ?? []).map((item) =>
          qualifyItem(method, server, item),
        );
        const next =
          typeof page.nextCursor === 'string'
            ? { index, cursor: page.nextCursor }
            : index + 1 < servers.length
              ? { index: index + 1, cursor: undefined }
              : undefined;
        if (items.length > 0 || next === undefined) {
          return {
            [spec.field]: items,
            ...(next ? { nextCursor: sealCursor(cursors, next.index, next.cursor) } : {}),
          };
        }
        // An upstream with nothing to show: the client's page comes from the next position.
        ({ index, cursor } = next);
        continue;
      }
      index++;
      cursor = undefined;
    }
    return { [spec.field]: [] };
  }

  /** Rewrites a routed result so names and URIs are the aggregated ones. */
  static qualifyResult(method: string, server: string, result: Result): Result {
    if (method === 'tools/call' && Array.isArray(result.content)) {
      return { ...result, content: (result.content as Result[]).map((c) => qualifyContent(server, c)) };
    }
    if (method === 'prompts/get' && Array.isArray(result.messages)) {
      return {
        ...result,
        messages: (result.messages as Result[]).map((m) =>
          m.content && typeof m.content === 'object'
            ? { ...m, content: qualifyContent(server, m.content as Result) }
            : m,
        ),
      };
    }
    if (method === 'resources/read' && Array.isArray(result.contents)) {
      return {
        ...result,
        contents: (result.contents as Result[]).map((c) =>
          typeof c.uri === 'string' ? { ...c, uri: qualifyUri(server, c.uri) } : c,
        ),
      };
    }
    return result;
  }

  /** Rewrites an upstream notification for the aggregated endpoint. */
  static qualifyNotification(server: string, method: string, params: Params): Params {
    if (method === 'notifications/resources/updated' && typeof params?.uri === 'string') {
      return { ...params, uri: qualifyUri(server, params.uri) };
    }
    if (method === 'notifications/tasks/status' && typeof params?.taskId === 'string') {
      return { ...params, taskId: qualify(server, params.taskId) };
    }
    if (method === 'notifications/message' && params) {
      return {
        ...params,
        logger: typeof params.logger === 'string' ? qualify(server, params.logger) : server,
      };
    }
    return params;
  }
}

/** Resource links and embedded resources in results point at the aggregated URI, so a client can read them back. */
function qualifyContent(server: string, c: Result): Result {
  if (c.type === 'resource_link' && typeof c.uri === 'string')
    return { ...c, uri: qualifyUri(server, c.uri) };
  if (c.type === 'resource' && c.resource && typeof (c.resource as Result).uri === 'string') {
    const resource = c.resource as Result;
    return { ...c, resource: { ...resource, uri: qualifyUri(server, resource.uri as string) } };
  }
  return c;
}

function qualifyItem(method: string, server: string, item: Result): Result {
  switch (method) {
    case 'tools/list':
    case 'prompts/list':
      return { ...item, name: qualify(server, String(item.name)) };
    case 'resources/list':
      return { ...item, uri: qualifyUri(server, String(item.uri)) };
    case 'resources/templates/list':
      return { ...item, uriTemplate: qualifyUri(server, String(item.uriTemplate)) };
    case 'tasks/list':
      return { ...item, taskId: qualify(server, String(item.taskId)) };
    default:
      return item;
  }
}

function withName(p: Result, key: string, method: string): Route {
  const value = p[key];
  const parsed = typeof value === 'string' ? unqualify(value) : undefined;
  if (!parsed) {
    throw new TransportError(
      TransportErrorCode.UNKNOWN_NAME,
      `${method}: "${String(value)}" is not a gateway name; aggregated names look like <server>__<name>`,
    );
  }
  return { server: parsed.server, params: { ...p, [key]: parsed.name } };
}

function withUri(p: Result, key: string): Route {
  const value = p[key];
  const parsed = typeof value === 'string' ? unqualifyUri(value) : undefined;
  if (!parsed) {
    throw new TransportError(
      TransportErrorCode.UNKNOWN_NAME,
      `"${String(value)}" is not a gateway resource URI; aggregated URIs look like <server>+<uri>`,
    );
  }
  return { server: parsed.server, params: { ...p, [key]: parsed.uri } };
}

function stripCursor(params: Params): Params {
  if (!params || !('cursor' in params)) return params;
  const { cursor: _cursor, ...rest } = params;
  return rest;
}

function sealCursor(cursors: BoundCursors, index: number, cursor: string | undefined): string {
  return cursors.seal(cursor === undefined ? [index] : [index, cursor]);
}

/**
 * A sealed cursor opens only for the caller, endpoint and list it was issued for (the seal
 * checks that); what is inside must still name an upstream that exists now.
 */
function openCursor(
  cursors: BoundCursors,
  raw: unknown,
  method: string,
  servers: number,
): { index: number; cursor: string | undefined } {
  if (raw === undefined) return { index: 0, cursor: undefined };
  const value = cursors.open(raw);
  if (
    Array.isArray(value) &&
    Number.isInteger(value[0]) &&
    (value[0] as number) >= 0 &&
    (value[0] as number) < servers &&
    (value[1] === undefined || typeof value[1] === 'string')
  ) {
    return { index: value[0] as number, cursor: value[1] as string | undefined };
  }
  throw new TransportError(
    TransportErrorCode.INVALID_PARAMS,
    `the cursor for ${method} names an upstream this gateway no longer has; start the list again without a cursor`,
  );
}
