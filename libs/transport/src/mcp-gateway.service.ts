import { randomBytes } from 'node:crypto';
import { principalKey, type Principal } from '@gatehouse/auth';
import type { GatehouseConfig } from '@gatehouse/config';
import type { Logger, Metrics } from '@gatehouse/observability';
import type { CallContext, CallOutcome, CallStage, ProtocolEra } from './call-context';
import { type BoundCursors, CursorSealer } from './cursor';
import {
  errorMapping,
  errorResponse,
  isNotification,
  isRequest,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  TransportError,
  TransportErrorCode,
} from './jsonrpc';
import {
  checkEnvelope,
  checkMethodServed,
  checkNotificationParams,
  checkRequestParams,
  isKnownMethod,
} from './methods';
import { AGGREGATED_METHODS, AggregateRouter } from './router';
import { newSessionId, type SessionRecord, type SessionStore } from './session/session-store';
import { TASK_LOOKUPS, TaskOwnership } from './tasks';
import { type CallOwner, UpstreamRpcError } from './upstream/upstream-connection';
import { UpstreamPool } from './upstream/upstream-pool';

export const MODERN_VERSION = '2026-07-28';
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18'];
export const SUPPORTED_VERSIONS = [MODERN_VERSION, ...LEGACY_VERSIONS];
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const GATEWAY_INFO = { name: 'gatehouse', title: 'Gatehouse MCP gateway', version: '0.1.0' };
const AGGREGATE_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  completions: {},
  logging: {},
};

/** One POST's way back to the client: intermediate messages upgrade the response to SSE. */
export interface ClientSink {
  /** False when the client did not accept text/event-stream, so nothing but the final response can reach it. */
  readonly canStream: boolean;
  send(message: JsonRpcMessage): void;
}

/** A client's standalone GET stream for messages not tied to a request. */
export interface ClientStream {
  send(message: JsonRpcMessage): void;
  close(): void;
}

export interface PostInput {
  target: string;
  sessionId: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string | undefined;
  /** Who is calling, established by the front door before the body was read. */
  principal: Principal;
  message: JsonRpcMessage;
  sink: ClientSink;
  /** Fires when the client goes away before its response was written. */
  clientGone?: AbortSignal;
}

export interface PostOutcome {
  status: number;
  body?: JsonRpcResponse;
  sessionId?: string;
}

interface InFlight {
  abort: AbortController;
}

/** The client capability each server-to-client request needs. */
const CAPABILITY_FOR: Record<string, string | undefined> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * The call pipeline, top to bottom: frame → session or per-request version → route →
 * stages (identity, policy, bypass, rate limit, audit) → upstream → outcome. It is the only
 * place that knows MCP semantics; the HTTP layer only moves bytes.
 */
export class McpGateway {
  readonly replicaId = randomBytes(6).toString('hex');
  readonly pool: UpstreamPool;
  private readonly streams = new Map<string, ClientStream>();
  private readonly inflight = new Map<string, Map<string, InFlight>>();
  private readonly pendingClientRequests = new Map<
    string,
    { sessionId: string; resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  private nextClientRequestId = 0;
  private modernSeq = 0;
  private readonly unsubscribers: Array<() => Promise<void>> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private readonly tasks: TaskOwnership;
  private cursors: CursorSealer | undefined;

  constructor(
    private readonly config: GatehouseConfig,
    private readonly store: SessionStore,
    private readonly stages: CallStage[],
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.tasks = new TaskOwnership(store.tasks, logger);
    this.pool = new UpstreamPool(
      config,
      {
        notification: (server, sessionId, method, params, caller) =>
          this.onUpstreamNotification(server, sessionId, method, params, caller),
        request: (server, sessionId, method, params, signal, caller) =>
          this.onUpstreamRequest(server, sessionId, method, params, signal, caller),
      },
      logger,
      metrics,
    );
  }

  async start(): Promise<void> {
    this.cursors = CursorSealer.fromSecret(
      this.config.server.cursorSecret ?? (await this.store.sharedSecret('list-cursor')),
    );
    this.metrics.countSessionsWith(
      () =>
        new Set(
          [...this.streams.keys(), ...this.inflight.keys(), ...this.pool.sessionIds()].filter(
            (id) => id !== '',
          ),
        ).size,
    );
    this.unsubscribers.push(
      await this.store.subscribe(`replica:${this.replicaId}`, (payload) =>
        this.onClientResponse(JSON.parse(payload)),
      ),
      await this.store.subscribe('cancel', (payload) => {
        const { sessionId, requestId } = JSON.parse(payload) as { sessionId: string; requestId: JsonRpcId };
        this.inflight.get(sessionId)?.get(String(requestId))?.abort.abort();
      }),
      await this.store.subscribe('release', (sessionId) => void this.pool.release(sessionId)),
    );
    this.pool.startShared();
    // Per-session upstreams of sessions that expired or were deleted elsewhere are closed here.
    // At least as often as sessions expire, so an abandoned session's process does not outlive it long.
    const sweepMs = Math.min(60_000, this.config.sessions.idleTtlSeconds * 1000);
    this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** Stops taking new calls, waits for in-flight ones up to the grace period, then closes upstreams. */
  async stop(graceMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.sweepTimer);
    const deadline = Date.now() + graceMs;
    while (this.inflightCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const calls of this.inflight.values()) for (const c of calls.values()) c.abort.abort();
    for (const s of this.streams.values()) s.close();
    this.streams.clear();
    await Promise.all(this.unsubscribers.map((u) => u().catch(() => undefined)));
    await this.pool.close();
  }

  inflightCount(): number {
    let n = 0;
    for (const calls of this.inflight.values()) n += calls.size;
    return n;
  }

  // ---- POST ---------------------------------------------------------------------------------

  async post(input: PostInput): Promise<PostOutcome> {
    const { message } = input;
    if (this.draining) {
      throw new TransportError(
        TransportErrorCode.SHUTTING_DOWN,
        'the gateway is shutting down; retry on another replica',
      );
    }
    if (isRequest(message)) return this.onRequest(input, message);
    if (isNotification(message)) {
      checkNotificationParams(message);
      await this.onClientNotification(input, message);
      return { status: 202 };
    }
    // Only the session the gateway asked may answer, and only its owner may speak for it (R6).
    const session = await this.loadSession(input);
    this.routeClientResponse(message, session.id);
    return { status: 202 };
  }

  private async onRequest(input: PostInput, request: JsonRpcRequest): Promise<PostOutcome> {
    checkRoutingHeaders(input.headers, request);
    // Before anything reads params: a shape an upstream's SDK cannot parse is dropped there
    // without an answer, which left the call waiting for the upstream timeout.
    checkEnvelope(request);
    if (request.method === 'initialize') {
      checkRequestParams(request);
      return this.initialize(input, request);
    }

    const meta = request.params?._meta as Record<string, unknown> | undefined;
    const modernVersion = meta?.[META_VERSION];
    let era: ProtocolEra;
    let protocolVersion: string;
    let session: SessionRecord | undefined;
    if (typeof modernVersion === 'string') {
      if (modernVersion !== MODERN_VERSION) {
        throw new TransportError(
          TransportErrorCode.UNSUPPORTED_VERSION,
          `protocol version ${modernVersion} is not supported`,
          { supported: SUPPORTED_VERSIONS, requested: modernVersion },
        );
      }
      era = 'modern';
      protocolVersion = modernVersion;
    } else {
      if (request.method === 'server/discover')
        return { status: 200, body: this.discover(input.target, request.id) };
      session = await this.loadSession(input);
      era = 'legacy';
      protocolVersion = session.protocolVersion;
    }
    // Methods the gateway does not serve in this era are answered here, never forwarded.
    checkMethodServed(
      request.method,
      era,
      input.target === '*' ? [] : this.pool.upstreamConfig(input.target).extensionMethods,
    );
    checkRequestParams(request);
    if (request.method === 'server/discover')
      return { status: 200, body: this.discover(input.target, request.id) };
    if (request.method === 'ping')
      return { status: 200, body: { jsonrpc: '2.0', id: request.id, result: {} } };

    const call: CallContext = {
      target: input.target,
      request,
      era,
      protocolVersion,
      session,
      principal: input.principal,
      headers: input.headers,
      remoteAddress: input.remoteAddress,
      startedAt: process.hrtime.bigint(),
      facts: {},
    };
    return {
      status: 200,
      body: await this.dispatch(call, input.sink, input.clientGone),
      sessionId: session?.id,
    };
  }

  /** Routing, the stages, the upstream, the outcome: the hot path. */
  private async dispatch(
    call: CallContext,
    sink: ClientSink,
    clientGone?: AbortSignal,
  ): Promise<JsonRpcResponse> {
    const { request } = call;
    // 2026-07-28 requests share no session, so their ids may repeat across clients.
    const key = call.era === 'modern' ? `m${++this.modernSeq}` : String(request.id);
    const abort = new AbortController();
    // In 2026-07-28 closing the request's stream is how a client cancels; in 2025 a disconnect
    // is not a cancellation (the client sends notifications/cancelled), so the call runs on.
    if (call.era === 'modern' && clientGone) {
      if (clientGone.aborted) abort.abort();
      else clientGone.addEventListener('abort', () => abort.abort(), { once: true });
    }
    const sessionKey = call.session?.id ?? '';
    let calls = this.inflight.get(sessionKey);
    if (!calls) this.inflight.set(sessionKey, (calls = new Map()));
    calls.set(key, { abort });
    let outcome: CallOutcome = { status: 'ok' };
    let upstreamStart = 0n;
    try {
      const aggregated = call.target === '*';
      if (TASK_LOOKUPS.has(request.method)) {
        // Routed by the task's recorded owner and server, never by what the client says (13.3).
        await this.tasks.route(call);
      } else if (
        aggregated &&
        (AggregateRouter.isList(request.method) || request.method === 'logging/setLevel')
      ) {
        call.server = '*';
      } else if (aggregated) {
        if (!AGGREGATED_METHODS.has(request.method)) {
          throw new TransportError(
            TransportErrorCode.METHOD_NOT_FOUND,
            `method "${request.method}" is not available on the aggregated endpoint; use /mcp/servers/<name>`,
          );
        }
        const route = AggregateRouter.route(request.method, request.params);
        this.pool.upstreamConfig(route.server);
        call.server = route.server;
        call.upstreamParams = route.params;
      } else {
        call.server = call.target;
        call.upstreamParams = request.params;
      }

      for (const stage of this.stages) await stage.before(call);

      upstreamStart = process.hrtime.bigint();
      let result = await this.forward(call, sink, abort.signal);
      outcome.upstreamNs = process.hrtime.bigint() - upstreamStart;
      result = await this.tasks.settle(call, result);
      for (const stage of this.stages) if (stage.result) result = stage.result(call, result);
      // 2026-07-28 clients require resultType; a legacy upstream's result is by definition complete.
      if (call.era === 'modern') modernize(request.method, result);
      return { jsonrpc: '2.0', id: request.id, result };
    } catch (err) {
      if (upstreamStart > 0n) outcome.upstreamNs = process.hrtime.bigint() - upstreamStart;
      const response = this.toErrorResponse(request.id, err, call);
      const denied = err instanceof TransportError && err.code === TransportErrorCode.POLICY_DENIED;
      outcome = {
        ...outcome,
        status: denied ? 'denied' : 'error',
        errorCode: response.error.code,
        errorMessage: response.error.message,
        ...(this.draining && abort.signal.aborted ? { aborted: true } : {}),
      };
      return response;
    } finally {
      // After the answer is written (this turn's check phase, before the loop reads another
      // request): releasing the in-flight slot is a Redis write and the audit's outcome record is
      // built and queued there, none of which the answer needs to wait for. The call stays in
      // flight for the drain until the stages have it.
      setImmediate(() => this.afterCall(call, outcome, calls, key, sessionKey));
    }
  }

  /** Ends a call: metrics, then every stage's `after`, started together and not awaited. */
  private afterCall(
    call: CallContext,
    outcome: CallOutcome,
    calls: Map<string, InFlight>,
    key: string,
    sessionKey: string,
  ): void {
    calls.delete(key);
    if (calls.size === 0 && this.inflight.get(sessionKey) === calls) this.inflight.delete(sessionKey);
    // Runs outside any request's try: a throw here would skip the stages after it (their
    // in-flight releases, the outcome record) and end the process, so each step is fenced.
    try {
      this.observe(call, outcome);
    } catch (err) {
      this.logger.error({ err, method: call.request.method }, 'call metrics failed');
    }
    for (const stage of this.stages) {
      const failed = (err: unknown): void =>
        this.logger.error({ err, stage: stage.name }, 'call stage failed after the call');
      try {
        void Promise.resolve(stage.after?.(call, outcome)).catch(failed);
      } catch (err) {
        failed(err);
      }
    }
  }

  /**
   * A POST the front door refused before parsing its body (the request-byte budget): every
   * stage's `after` sees it as a call a stage refused, so the audit records it (`rate_limited`,
   * with `facts` as `call.facts.rateLimit`) and the metrics count it. Its method is unknown, since
   * the body was never parsed: it is recorded as {@link UNPARSED_METHOD}.
   */
  refusedUnparsed(
    input: Pick<PostInput, 'target' | 'headers' | 'remoteAddress' | 'principal'>,
    error: TransportError,
    facts: Record<string, unknown>,
  ): void {
    const call: CallContext = {
      target: input.target,
      request: { jsonrpc: '2.0', id: 0, method: UNPARSED_METHOD },
      era: 'legacy',
      protocolVersion: '',
      session: undefined,
      principal: input.principal,
      headers: input.headers,
      remoteAddress: input.remoteAddress,
      startedAt: process.hrtime.bigint(),
      facts: { rateLimit: facts },
    };
    const outcome: CallOutcome = {
      status: 'error',
      errorCode: errorMapping(error.code).rpc,
      errorMessage: error.message,
    };
    // Never dispatched, so it has no entry among the calls in flight: a map of its own.
    const calls = new Map<string, InFlight>([['unread', { abort: new AbortController() }]]);
    setImmediate(() => this.afterCall(call, outcome, calls, 'unread', ''));
  }

  /** Cursors of this call's list: sealed to its principal, endpoint and method. */
  private cursorsFor(call: CallContext): BoundCursors {
    if (!this.cursors) throw new Error('the gateway has not started: no cursor key');
    return this.cursors.bind({
      endpoint: call.target,
      principal: principalKey(call.principal),
      method: call.request.method,
    });
  }

  private async forward(
    call: CallContext,
    sink: ClientSink,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const { request, session } = call;
    const owner = {
      era: call.era,
      session: call.era === 'legacy' ? session : undefined,
      principal: principalKey(call.principal),
    };
    const progressToken = (request.params?._meta as Record<string, unknown> | undefined)?.progressToken;
    // What an upstream asks or says while this request is its only one in flight comes back here.
    const caller: CallOwner = {
      sessionId: call.era === 'legacy' ? session?.id : undefined,
      sink,
      notify: (server, method, params) => {
        if (!sink.canStream) return;
        sink.send({
          jsonrpc: '2.0',
          method,
          params: call.target === '*' ? AggregateRouter.qualifyNotification(server, method, params) : params,
        });
      },
    };
    const options = {
      signal,
      owner: caller,
      principal: principalKey(call.principal),
      allowInputRequired: call.era === 'modern',
      onProgress:
        progressToken === undefined
          ? undefined
          : (p: Record<string, unknown>) =>
              sink.send({
                jsonrpc: '2.0',
                method: 'notifications/progress',
                params: { ...p, progressToken },
              }),
    };
    const params = withoutProgressToken(call.upstreamParams ?? request.params);

    if (call.server === '*' && request.method === 'logging/setLevel') {
      // One level for the whole aggregated session: every upstream that logs gets it.
      for (const server of this.pool.servers) {
        const conn = await this.pool.get(server, owner);
        if (conn.info().capabilities.logging === undefined) continue;
        await conn.request(request.method, params, options);
        if (session) await this.rememberSessionState(session, server, request.method, params);
      }
      return {};
    }
    if (call.server === '*') {
      return AggregateRouter.list(
        request.method,
        params,
        { servers: this.pool.servers, connection: (s) => this.pool.get(s, owner) },
        async (s) => (await this.pool.get(s, owner)).info().capabilities,
        options,
        this.cursorsFor(call),
      );
    }
    const server = call.server as string;
    const conn = await this.pool.get(server, owner);
    const result = await conn.request(request.method, params, options);
    if (session) await this.rememberSessionState(session, server, request.method, params);
    return call.target === '*' ? AggregateRouter.qualifyResult(request.method, server, result) : result;
  }

  private async rememberSessionState(
    session: SessionRecord,
    server: string,
    method: string,
    params: Record<string, unknown> | undefined,
  ): Promise<void> {
    if (method === 'resources/subscribe' || method === 'resources/unsubscribe') {
      const uri = String(params?.uri);
      const current = new Set(session.subscriptions[server] ?? []);
      if (method === 'resources/subscribe') current.add(uri);
      else current.delete(uri);
      session.subscriptions[server] = [...current];
      await this.store.put(session);
    } else if (method === 'logging/setLevel') {
      session.logLevels[server] = String(params?.level);
      await this.store.put(session);
    }
  }

  // ---- sessions -----------------------------------------------------------------------------

  private async initialize(input: PostInput, request: JsonRpcRequest): Promise<PostOutcome> {
    const params = request.params ?? {};
    const requested = typeof params.protocolVersion === 'string' ? params.protocolVersion : '';
    const protocolVersion = LEGACY_VERSIONS.includes(requested) ? requested : (LEGACY_VERSIONS[0] as string);
    if (input.target !== '*') this.pool.upstreamConfig(input.target);
    const session: SessionRecord = {
      id: newSessionId(),
      target: input.target,
      protocolVersion,
      clientInfo: (params.clientInfo as Record<string, unknown> | undefined) ?? {},
      clientCapabilities: (params.capabilities as Record<string, unknown> | undefined) ?? {},
      createdAt: Date.now(),
      owner: principalKey(input.principal),
      subscriptions: {},
      logLevels: {},
    };
    let result: Record<string, unknown>;
    if (input.target === '*') {
      result = {
        protocolVersion,
        capabilities: AGGREGATE_CAPABILITIES,
        serverInfo: GATEWAY_INFO,
        instructions: `Gatehouse aggregates ${this.pool.servers.length} MCP servers (${this.pool.servers.join(', ')}). Tool and prompt names are <server>__<name>; resource URIs are <server>+<uri>.`,
      };
    } else {
      // Passthrough: the client sees the upstream's own capabilities and identity.
      const conn = await this.pool.get(input.target, {
        era: 'legacy',
        session,
        principal: session.owner,
      });
      const info = conn.info();
      result = {
        protocolVersion,
        capabilities: info.capabilities,
        serverInfo: info.serverInfo ?? GATEWAY_INFO,
        ...(info.instructions ? { instructions: info.instructions } : {}),
      };
    }
    await this.store.put(session);
    this.metrics.sessionsCreated.inc();
    const { principal } = input;
    this.logger.info(
      {
        session: session.id.slice(0, 8),
        target: session.target,
        protocolVersion,
        client: session.clientInfo,
        principal: {
          kind: principal.kind,
          subject: principal.subject,
          name: principal.name,
          email: principal.email,
          groups: principal.groups,
          roles: principal.roles,
          clientId: principal.clientId,
          certificate: principal.certificate?.subject,
        },
        remoteAddress: input.remoteAddress,
      },
      'session opened',
    );
    return { status: 200, body: { jsonrpc: '2.0', id: request.id, result }, sessionId: session.id };
  }

  private discover(target: string, id: JsonRpcId): JsonRpcResponse {
    return {
      jsonrpc: '2.0',
      id,
      result: {
        supportedVersions: SUPPORTED_VERSIONS,
        capabilities:
          target === '*'
            ? AGGREGATE_CAPABILITIES
            : { tools: {}, prompts: {}, resources: {}, completions: {} },
        serverInfo: GATEWAY_INFO,
      },
    };
  }

  private async loadSession(input: {
    target: string;
    sessionId: string | undefined;
    principal: Principal;
  }): Promise<SessionRecord> {
    if (!input.sessionId) {
      throw new TransportError(
        TransportErrorCode.SESSION_REQUIRED,
        'Mcp-Session-Id header is required; send initialize first (or use protocol 2026-07-28 with _meta)',
      );
    }
    const session = await this.store.get(input.sessionId);
    const foreign = session !== undefined && session.owner !== principalKey(input.principal);
    if (foreign) {
      // Same answer as an unknown id: the caller learns nothing about someone else's session.
      this.logger.warn(
        { session: input.sessionId.slice(0, 8), presentedBy: input.principal.subject },
        'session id presented by a principal that does not own it; refused',
      );
    }
    if (!session || foreign || session.target !== input.target) {
      throw new TransportError(
        TransportErrorCode.SESSION_NOT_FOUND,
        'session not found or expired; initialize a new session',
      );
    }
    return session;
  }

  async terminate(target: string, sessionId: string | undefined, principal: Principal): Promise<void> {
    const session = await this.loadSession({ target, sessionId, principal });
    await this.store.delete(session.id);
    this.streams.get(session.id)?.close();
    this.streams.delete(session.id);
    await this.pool.release(session.id);
    await this.store.publish('release', session.id);
  }

  /** Opens the standalone stream; returns the function that detaches it. */
  async openStream(
    target: string,
    sessionId: string | undefined,
    stream: ClientStream,
    principal: Principal,
  ): Promise<() => void> {
    const session = await this.loadSession({ target, sessionId, principal });
    this.streams.get(session.id)?.close();
    this.streams.set(session.id, stream);
    const unsubscribe = this.store.shared
      ? await this.store.subscribe(`out:${session.id}`, (payload) =>
          stream.send(JSON.parse(payload) as JsonRpcMessage),
        )
      : undefined;
    return () => {
      if (this.streams.get(session.id) === stream) this.streams.delete(session.id);
      void unsubscribe?.();
    };
  }

  private async sweep(): Promise<void> {
    const live = new Set<string>();
    for (const sessionId of this.pool.sessionIds()) {
      if (live.has(sessionId)) continue;
      if (await this.store.peek(sessionId).catch(() => true)) live.add(sessionId);
      else await this.pool.release(sessionId);
    }
  }

  // ---- client notifications and responses ---------------------------------------------------

  private async onClientNotification(input: PostInput, n: JsonRpcNotification): Promise<void> {
    switch (n.method) {
      case 'notifications/initialized':
        return;
      case 'notifications/cancelled': {
        const requestId = n.params?.requestId as JsonRpcId | undefined;
        // 2026-07-28 requests are cancelled by closing their stream; 2025 ones within their session.
        if (requestId === undefined || !input.sessionId) return;
        const session = await this.loadSession(input);
        const local = this.inflight.get(session.id)?.get(String(requestId));
        if (local) local.abort.abort();
        else await this.store.publish('cancel', JSON.stringify({ sessionId: session.id, requestId }));
        return;
      }
      case 'notifications/roots/list_changed': {
        const session = await this.loadSession(input);
        for (const server of session.target === '*' ? this.pool.servers : [session.target]) {
          // Roots fixed in config are the gateway's answer; the client's changes do not concern them.
          const cfg = this.pool.upstreamConfig(server);
          if (cfg.sharing !== 'per-session' || cfg.roots !== 'client') continue;
          const conn = await this.pool
            .get(server, { era: 'legacy', session, principal: session.owner })
            .catch(() => undefined);
          await conn?.notify(n.method, n.params);
        }
        return;
      }
      default:
        this.logger.debug({ method: n.method }, 'client notification ignored');
    }
  }

  private routeClientResponse(response: JsonRpcResponse, sessionId: string): void {
    const id = String(response.id);
    const match = /^gh-([0-9a-f]{12})-\d+$/.exec(id);
    if (!match) return;
    if (match[1] === this.replicaId) this.onClientResponse({ sessionId, response });
    else void this.store.publish(`replica:${match[1]}`, JSON.stringify({ sessionId, response }));
  }

  private onClientResponse({ sessionId, response }: { sessionId: string; response: JsonRpcResponse }): void {
    const pending = this.pendingClientRequests.get(String(response.id));
    if (!pending || pending.sessionId !== sessionId) return;
    this.pendingClientRequests.delete(String(response.id));
    if ('result' in response) pending.resolve(response.result);
    else
      pending.reject(new UpstreamRpcError(response.error.code, response.error.message, response.error.data));
  }

  // ---- upstream → client --------------------------------------------------------------------

  /**
   * What an upstream says reaches only those it concerns. A per-session connection speaks to its
   * own session. On a shared (or per-principal) connection: list_changed carries no data and goes
   * to every session of the server on this replica; resources/updated to the sessions subscribed
   * to that URI; anything else (log messages, stray progress) is tied to a request, so it goes to
   * the caller of the one request in flight, or nowhere.
   */
  private onUpstreamNotification(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
    caller: CallOwner | undefined,
  ): void {
    if (sessionId) {
      void this.deliverToSession(sessionId, server, method, params, true);
      return;
    }
    // A task's status names its task, so it goes to the streams of the task's owner (checked in
    // deliverToSession), never to whoever happens to have a call in flight.
    const broadcast =
      method.endsWith('/list_changed') ||
      method === 'notifications/resources/updated' ||
      method === 'notifications/tasks/status';
    // Sessions of a per-session server hear those from their own connection.
    if (broadcast && !this.pool.isPerSession(server)) {
      for (const id of this.streams.keys()) void this.deliverToSession(id, server, method, params, false);
    } else if (!broadcast && caller) {
      caller.notify(server, method, params);
    } else {
      this.logger.debug({ server, method }, 'upstream notification with no one to deliver it to; dropped');
    }
  }

  private async deliverToSession(
    sessionId: string,
    server: string,
    method: string,
    params: Record<string, unknown> | undefined,
    ownConnection: boolean,
  ): Promise<void> {
    const session = await this.store.peek(sessionId).catch(() => undefined);
    if (!session || (session.target !== '*' && session.target !== server)) return;
    if (method === 'notifications/resources/updated' && !ownConnection) {
      if (!(session.subscriptions[server] ?? []).includes(String(params?.uri))) return;
    }
    if (method === 'notifications/tasks/status' && !(await this.tasks.mayHear(session.owner, server, params)))
      return;
    const message: JsonRpcNotification = {
      jsonrpc: '2.0',
      method,
      params: session.target === '*' ? AggregateRouter.qualifyNotification(server, method, params) : params,
    };
    const stream = this.streams.get(sessionId);
    if (stream) stream.send(message);
    else if (this.store.shared) await this.store.publish(`out:${sessionId}`, JSON.stringify(message));
  }

  /**
   * A server-to-client request goes to the one client whose call caused it: the session of a
   * per-session connection, or on a shared connection the caller of the one request in flight
   * (nothing on a stdio wire says which request it belongs to, so with several in flight nobody
   * can be sure and it is refused). 2026-07-28 callers are never asked.
   */
  private async onUpstreamRequest(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    caller: CallOwner | undefined,
  ): Promise<Record<string, unknown>> {
    const refuse = (reason: string): never => {
      this.logger.warn(
        { server, method, session: (sessionId ?? caller?.sessionId)?.slice(0, 8), reason },
        'upstream request refused',
      );
      throw new TransportError(
        TransportErrorCode.CLIENT_CANNOT_ANSWER,
        `upstream "${server}" asked for ${method} but ${reason}`,
      );
    };
    let target: string;
    let onCall: CallOwner['sink'] | undefined;
    if (sessionId) {
      target = sessionId;
      onCall = caller?.sessionId === sessionId ? caller.sink : undefined;
    } else if (!caller) {
      return refuse(
        'the gateway cannot tell whose call caused it (not exactly one call in flight on the shared connection); configure sharing: per-session',
      );
    } else if (caller.sessionId === undefined) {
      return refuse(
        'the call that caused it uses protocol 2026-07-28, which takes no server-to-client requests',
      );
    } else {
      target = caller.sessionId;
      onCall = caller.sink;
    }
    const session = await this.store.peek(target).catch(() => undefined);
    if (!session) return refuse('the client session that caused it is gone');
    const needed = CAPABILITY_FOR[method];
    if (needed && session.clientCapabilities[needed] === undefined) {
      return refuse(`the client did not declare the ${needed} capability`);
    }
    const id = `gh-${this.replicaId}-${++this.nextClientRequestId}`;
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) };
    const stream = this.streams.get(target);
    if (!onCall?.canStream && !stream && !this.store.shared)
      return refuse('the client has no open stream to receive it');
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pendingClientRequests.set(id, { sessionId: target, resolve, reject });
      signal.addEventListener('abort', () => {
        this.pendingClientRequests.delete(id);
        reject(
          new TransportError(TransportErrorCode.UPSTREAM_UNAVAILABLE, 'the upstream withdrew its request'),
        );
      });
      if (onCall?.canStream) onCall.send(message);
      else if (stream) stream.send(message);
      else void this.store.publish(`out:${target}`, JSON.stringify(message));
    });
  }

  // ---- errors and metrics -------------------------------------------------------------------

  toErrorResponse(
    id: JsonRpcId | null,
    err: unknown,
    call?: CallContext,
  ): Extract<JsonRpcResponse, { error: unknown }> {
    if (err instanceof UpstreamRpcError) {
      return {
        jsonrpc: '2.0',
        id,
        error: {
          code: err.code,
          message: err.message,
          ...(err.data !== undefined ? { data: err.data } : {}),
        },
      };
    }
    if (err instanceof TransportError) return errorResponse(id, err);
    const errorId = randomBytes(8).toString('hex');
    this.logger.error(
      { err, errorId, method: call?.request.method, server: call?.server },
      'unexpected error in the call pipeline',
    );
    return errorResponse(
      id,
      new TransportError(TransportErrorCode.INTERNAL, `internal gateway error (errorId ${errorId})`, {
        errorId,
      }),
    );
  }

  private observe(call: CallContext, outcome: CallOutcome): void {
    // Every label is bounded whatever the client sends (the series live until restart): a server
    // name not in config (a 2026-07-28 call or pass-through path may name anything) counts as
    // "unknown", a method the gateway does not know as "other", an error code it does not know
    // (an upstream's own) as "other".
    const named = call.server ?? call.target;
    const server = named === '*' || Object.hasOwn(this.config.upstreams, named) ? named : 'unknown';
    const method = isKnownMethod(call.request.method) ? call.request.method : 'other';
    const total = process.hrtime.bigint() - call.startedAt;
    const upstream = outcome.upstreamNs ?? 0n;
    if (outcome.errorCode !== undefined)
      this.metrics.errors.inc({ server, code: errorCodeLabel(outcome.errorCode) });
    this.metrics.calls.inc({ server, method, outcome: outcome.status });
    this.metrics.callDuration.observe({ server, method, part: 'upstream' }, Number(upstream) / 1e9);
    this.metrics.callDuration.observe({ server, method, part: 'gateway' }, Number(total - upstream) / 1e9);
  }
}

/** The method an audit record names for a request refused before its body was parsed. */
export const UNPARSED_METHOD = '(body not parsed)';

/**
 * The JSON-RPC codes the gateway answers with and the ones MCP defines (resource not found -32002,
 * URL elicitation required -32042); any other code, an upstream's own, is one "other" label.
 */
const KNOWN_ERROR_CODES = new Set([
  ...Object.values(TransportErrorCode).map((code) => errorMapping(code).rpc),
  -32000,
  -32002,
  -32042,
]);

function errorCodeLabel(code: number): string {
  return KNOWN_ERROR_CODES.has(code) ? String(code) : 'other';
}

/** R13: routing headers that disagree with the body are refused before anything else happens. */
function checkRoutingHeaders(
  headers: Record<string, string | string[] | undefined>,
  request: JsonRpcRequest,
): void {
  const method = headers['mcp-method'];
  if (typeof method === 'string' && method !== request.method) {
    throw new TransportError(
      TransportErrorCode.HEADER_MISMATCH,
      `Mcp-Method header "${method}" does not match the body's method "${request.method}"`,
    );
  }
  const name = headers['mcp-name'];
  if (typeof name === 'string') {
    const p = request.params ?? {};
    const bodyName = p.name ?? p.uri ?? p.taskId;
    if (bodyName !== name) {
      throw new TransportError(
        TransportErrorCode.HEADER_MISMATCH,
        `Mcp-Name header "${name}" does not match the body ("${String(bodyName)}")`,
      );
    }
  }
  const version = headers['mcp-protocol-version'];
  const metaVersion = (request.params?._meta as Record<string, unknown> | undefined)?.[META_VERSION];
  if (typeof version === 'string' && typeof metaVersion === 'string' && version !== metaVersion) {
    throw new TransportError(
      TransportErrorCode.HEADER_MISMATCH,
      `MCP-Protocol-Version header "${version}" does not match _meta "${metaVersion}"`,
    );
  }
}

/**
 * 2026-07-28 clients require `resultType`, and `ttlMs` plus `cacheScope` on list results. A
 * 2025-era upstream sends neither: its result is by definition complete, and uncached. Lists
 * are always `private` here, because what a client may see is decided per principal.
 */
function modernize(method: string, result: Record<string, unknown>): void {
  if (result.resultType === undefined) result.resultType = 'complete';
  if (AggregateRouter.isList(method)) {
    if (typeof result.ttlMs !== 'number') result.ttlMs = 0;
    result.cacheScope = 'private';
  }
}

function withoutProgressToken(
  params: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (!meta || !('progressToken' in meta)) return params;
  const { progressToken: _token, ...rest } = meta;
  return { ...params, _meta: rest };
}
