import { specTypeSchemas } from '@modelcontextprotocol/client';
import type { ProtocolEra } from './call-context';
import { type JsonRpcNotification, type JsonRpcRequest, TransportError, TransportErrorCode } from './jsonrpc';

/** The one interface every SDK spec schema offers: a synchronous Standard Schema check. */
interface SpecSchema {
  readonly '~standard': {
    validate(value: unknown):
      | { issues?: undefined; value: unknown }
      | {
          issues: ReadonlyArray<{
            message: string;
            path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
          }>;
        }
      | Promise<unknown>;
  };
}

const S = specTypeSchemas as unknown as Record<string, SpecSchema>;

/**
 * Client-to-server request methods of the 2025 revisions (2025-06-18, 2025-11-25), as the MCP
 * SDK's 2025 registry lists them. The 2025 revisions share one registry in the SDK, so tasks
 * count for both.
 */
const LEGACY_METHODS = [
  'initialize',
  'ping',
  'completion/complete',
  'logging/setLevel',
  'prompts/get',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'tools/call',
  'tools/list',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
];

/** Client-to-server request methods of 2026-07-28 (the SDK's 2026 registry). */
const MODERN_METHODS = [
  'tools/call',
  'tools/list',
  'prompts/get',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'completion/complete',
  'server/discover',
  'subscriptions/listen',
];

/**
 * Methods the gateway serves in either era: it answers `ping` and `server/discover` itself, and
 * the Tasks extension (SEP-2663 on 2026-07-28, core on 2025-11-25) is governed here per owner.
 */
const GATEWAY_METHODS = [
  'ping',
  'server/discover',
  'tasks/get',
  'tasks/update',
  'tasks/cancel',
  'tasks/list',
  'tasks/result',
];

const SERVED: Record<ProtocolEra, ReadonlySet<string>> = {
  legacy: new Set([...LEGACY_METHODS, ...GATEWAY_METHODS]),
  modern: new Set([...MODERN_METHODS, ...GATEWAY_METHODS]),
};

/**
 * The shape of each known request, from the SDK's spec schemas. The schemas are loose (unknown
 * members pass), so a newer client's extra fields still reach the upstream; what they refuse is
 * what an upstream built on the SDK would drop without an answer.
 */
const REQUEST_SCHEMAS: Record<string, SpecSchema | undefined> = {
  initialize: S.InitializeRequest,
  ping: S.PingRequest,
  'server/discover': S.DiscoverRequest,
  'tools/list': S.ListToolsRequest,
  'tools/call': S.CallToolRequest,
  'prompts/list': S.ListPromptsRequest,
  'prompts/get': S.GetPromptRequest,
  'resources/list': S.ListResourcesRequest,
  'resources/templates/list': S.ListResourceTemplatesRequest,
  'resources/read': S.ReadResourceRequest,
  'resources/subscribe': S.SubscribeRequest,
  'resources/unsubscribe': S.UnsubscribeRequest,
  'completion/complete': S.CompleteRequest,
  'logging/setLevel': S.SetLevelRequest,
  'subscriptions/listen': S.SubscriptionsListenRequest,
  'tasks/get': S.GetTaskRequest,
  'tasks/result': S.GetTaskPayloadRequest,
  'tasks/list': S.ListTasksRequest,
  'tasks/cancel': S.CancelTaskRequest,
};

const NOTIFICATION_SCHEMAS: Record<string, SpecSchema | undefined> = {
  'notifications/initialized': S.InitializedNotification,
  'notifications/cancelled': S.CancelledNotification,
  'notifications/progress': S.ProgressNotification,
  'notifications/roots/list_changed': S.RootsListChangedNotification,
};

/**
 * The part of params every request shares, checked before anything reads it (the era is read
 * from `_meta`): `_meta`, when present, is an object and its `progressToken` a string or number.
 */
export function checkEnvelope(request: JsonRpcRequest): void {
  check(S.Request, request.method, request.params);
}

/** Checks a request's params against its method's spec shape; -32602 names each wrong member. */
export function checkRequestParams(request: JsonRpcRequest): void {
  const schema = REQUEST_SCHEMAS[request.method];
  if (schema) check(schema, request.method, request.params);
}

/** The same for a client notification; unknown ones only get the generic `_meta` check. */
export function checkNotificationParams(notification: JsonRpcNotification): void {
  check(
    NOTIFICATION_SCHEMAS[notification.method] ?? S.Notification,
    notification.method,
    notification.params,
  );
}

function check(
  schema: SpecSchema | undefined,
  method: string,
  params: Record<string, unknown> | undefined,
): void {
  if (!schema) throw new Error(`the MCP SDK has no schema for ${method}`);
  const outcome = schema['~standard'].validate(params === undefined ? { method } : { method, params });
  if (outcome instanceof Promise) throw new Error(`the MCP SDK's schema for ${method} is asynchronous`);
  const issues = (outcome as { issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> })
    .issues;
  if (!issues?.length) return;
  const named = issues.slice(0, 5).map((i) => ({ path: pathOf(i.path), message: i.message }));
  throw new TransportError(
    TransportErrorCode.INVALID_PARAMS,
    `invalid params for ${method}: ${named.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { issues: named },
  );
}

function pathOf(path: ReadonlyArray<unknown> | undefined): string {
  const parts = (path ?? []).map((p) =>
    typeof p === 'object' && p !== null && 'key' in p ? String(p.key) : String(p),
  );
  return parts.length > 0 ? parts.join('.') : 'params';
}

/** A method some supported revision defines for clients (bounded metric labels use it). */
export function isKnownMethod(method: string): boolean {
  return SERVED.legacy.has(method) || SERVED.modern.has(method);
}

/**
 * Whether the gateway answers `method` itself or forwards it: the client-to-server methods of
 * the request's era, the gateway's own, and extension methods an administrator listed for the
 * passthrough server. Anything else gets -32601 here and is never forwarded.
 */
export function checkMethodServed(
  method: string,
  era: ProtocolEra,
  extensionMethods: readonly string[],
): void {
  if (SERVED[era].has(method) || extensionMethods.includes(method)) return;
  throw new TransportError(
    TransportErrorCode.METHOD_NOT_FOUND,
    `method "${method}" is not a ${era === 'modern' ? '2026-07-28' : '2025'} client request this gateway serves` +
      (extensionMethods.length > 0
        ? ''
        : " (extension methods must be listed in the upstream's extensionMethods)"),
    { method },
  );
}
