import {
  InsufficientScopeError,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResponse,
  isJSONRPCResultResponse,
  PROTOCOL_VERSION_META_KEY,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type AuthProvider,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/client';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';

import { LoginError, LoginErrorCode } from '../auth/errors';
import { BridgeError, BridgeErrorCode, toJsonRpcError } from './errors';
import {
  createGatewayHttp,
  diagnoseTls,
  explainTlsError,
  type GatewayHttp,
  type GatewayHttpOptions,
} from './http';
import type { Logger } from './logger';
import { isGatewayUnreachable } from './offline';
import { paramHeaders, scanParamDeclarations, type ParamDeclaration } from './param-headers';
import { backoffDelay, classifyFailure, type Failure, type RetryPolicy } from './retry';

type RequestId = JSONRPCRequest['id'];

/** Where the bearer token comes from, and what to tell the person when the gateway refuses it. */
export interface BridgeAuth {
  /**
   * Supplies the token before each request and renews it after a 401 (a
   * stored login). Absent when a fixed header carries the token, or nothing does.
   */
  provider?: AuthProvider;
  /** What carries the token, for messages: "the token in $GATEHOUSE_TOKEN", "your login". */
  credential: string;
  /** What to do when the gateway refuses it, e.g. "run `gatehouse login --url …`". */
  remedy: string;
}

/** Everything the bridge needs; the CLI command builds it from flags and the environment. */
export interface BridgeOptions {
  /** The gateway's Streamable HTTP endpoint, e.g. `https://gatehouse.example.com/mcp`. */
  url: URL;
  /** Sent on every HTTP request (authorization included). Values are never logged. */
  headers: Record<string, string>;
  http: GatewayHttpOptions;
  retry: RetryPolicy;
  logger: Logger;
  /** Token handling beyond the fixed `headers`; without it a 401 is reported as it is. */
  auth?: BridgeAuth;
  /** The host-facing side; stdin/stdout unless a test injects another. */
  host?: Transport;
  /** Longest wait for the gateway to accept the DELETE that ends the session at shutdown. */
  shutdownTimeoutMs?: number;
  /** `--fallback`: where host requests go while the gateway is unreachable. */
  fallback?: FallbackHandler;
}

/**
 * Serves host requests while the gateway is unreachable (`gatehouse bridge --fallback`), and
 * says when the gateway is back. Implemented by the direct-server route in `../direct`.
 */
export interface FallbackHandler {
  /** Answers one host request without the gateway; failures come back as JSON-RPC errors. */
  handle(request: JSONRPCRequest, initialize: JSONRPCRequest | undefined): Promise<JSONRPCResponse>;
  /** Resolves once the gateway answers again and has what was done meanwhile; rejects when `signal` aborts. */
  waitForGateway(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A host request the gateway has not answered yet. */
interface Pending {
  request: JSONRPCRequest;
  method: string;
  /** `sending` until the gateway accepted the POST, then `awaiting` its response. */
  phase: 'sending' | 'awaiting';
  /** The upstream session generation the POST went out on. */
  generation: number;
  /** Aborts the request's own response stream (2026-07-28 cancellation). */
  abort: AbortController;
  /** Protocol version claimed in the request's `_meta` envelope (2026-07-28 era), if any. */
  envelopeVersion?: string;
}

/** Re-establishing a lost session more often than this for one message means something else is wrong. */
const MAX_REESTABLISH_PER_MESSAGE = 2;

/** Prefix of the ids of the requests the bridge sends on its own behalf (replayed initialize). */
const OWN_ID_PREFIX = 'gatehouse-bridge/';

function envelopeVersionOf(message: JSONRPCRequest): string | undefined {
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const version = meta?.[PROTOCOL_VERSION_META_KEY];
  return typeof version === 'string' ? version : undefined;
}

/**
 * A stdio MCP server that relays every message, unchanged and in arrival
 * order, to a gateway over Streamable HTTP, and every gateway message back.
 *
 * It works on transports, not on the Client/Server protocol objects, so it
 * never answers, reorders or drops a message on its own — except where the
 * gateway cannot be reached, when the host gets a JSON-RPC error naming why.
 * It learns the session id and protocol version from the traffic, retries
 * undelivered messages with backoff, and rebuilds a session the gateway lost by
 * replaying the host's own `initialize` and `notifications/initialized`, then
 * the session state the host set up: its last `logging/setLevel` and its
 * `resources/subscribe` requests not undone by `resources/unsubscribe`.
 */
export class Bridge {
  private readonly host: Transport;
  private readonly http: GatewayHttp;
  private readonly log: Logger;
  private upstream: StreamableHTTPClientTransport;
  /** Bumped each time the upstream transport (and so the session) is replaced. */
  private generation = 0;
  private protocolVersion: string | undefined;
  private initializeRequest: JSONRPCRequest | undefined;
  private initializedNotification: JSONRPCNotification | undefined;
  /** The host's last accepted `logging/setLevel`, replayed on a rebuilt session. */
  private logLevelRequest: JSONRPCRequest | undefined;
  /** The host's accepted `resources/subscribe` requests not yet undone, by URI, replayed on a rebuilt session. */
  private readonly subscriptions = new Map<string, JSONRPCRequest>();
  private reestablishing: Promise<void> | undefined;
  private readonly pending = new Map<RequestId, Pending>();
  /** `x-mcp-header` declarations of the tools relayed in `tools/list` results, by tool name. */
  private readonly toolParams = new Map<string, ParamDeclaration[]>();
  /** Waiters for responses to the bridge's own requests, which the host never sees. */
  private readonly ownRequests = new Map<RequestId, (response: JSONRPCResponse) => void>();
  private ownRequestCount = 0;
  /** Deliveries under way, which shutdown lets finish so a last notification is not lost. */
  private readonly inflight = new Set<Promise<void>>();
  private closing = false;
  /** Set while the gateway is unreachable in fallback mode: host requests go to the fallback. */
  private offline = false;
  /** Set when the gateway came back after an outage: the next delivery starts a new session. */
  private resumeSession = false;
  private readonly stopping = new AbortController();
  private readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(private readonly options: BridgeOptions) {
    this.log = options.logger;
    this.host = options.host ?? new StdioServerTransport();
    this.http = createGatewayHttp(options.http);
    this.upstream = this.openUpstream();
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** Starts relaying. Resolves once both sides are listening. */
  async start(): Promise<void> {
    await this.upstream.start();
    this.host.onmessage = (message) => this.onHostMessage(message);
    this.host.onerror = (error) => this.log.warn('unreadable message from the host', { err: error.message });
    this.host.onclose = () => void this.close('host closed stdin');
    await this.host.start();
    this.log.info('bridge ready', { url: this.options.url.href });
  }

  /** Resolves when the bridge has shut down. */
  done(): Promise<void> {
    return this.closed;
  }

  /** Ends the gateway session (HTTP DELETE), closes both sides and releases connections. */
  async close(reason: string): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    this.log.info('bridge shutting down', { reason });
    const timeout = this.options.shutdownTimeoutMs ?? 2_000;
    // Messages already on their way (a last cancellation, say) get a moment to arrive; retries stop.
    this.stopping.abort();
    await this.within(Promise.allSettled([...this.inflight]), timeout);
    for (const [id, pending] of this.pending) {
      pending.abort.abort();
      this.pending.delete(id);
    }
    const upstream = this.upstream;
    if (upstream.sessionId !== undefined) {
      await this.within(
        upstream.terminateSession().then(
          () => this.log.debug('gateway session ended'),
          (error: Error) => this.log.debug('could not end the gateway session', { err: error.message }),
        ),
        timeout,
      );
    }
    this.detach(upstream);
    await upstream.close().catch(() => undefined);
    await this.options.fallback?.close();
    await this.host.close().catch(() => undefined);
    await this.http.close().catch(() => undefined);
    this.markClosed();
    return this.closed;
  }

  private openUpstream(): StreamableHTTPClientTransport {
    const generation = this.generation;
    const policy = this.options.retry;
    const transport = new StreamableHTTPClientTransport(this.options.url, {
      fetch: this.http.fetch,
      requestInit: { headers: this.options.headers },
      ...(this.options.auth?.provider ? { authProvider: this.options.auth.provider } : {}),
      // The standalone GET stream never gives up: the gateway may come back with the
      // session intact (sessions live in Redis), and a 404 triggers re-establishment.
      reconnectionOptions: {
        initialReconnectionDelay: policy.initialDelayMs,
        maxReconnectionDelay: policy.maxDelayMs,
        reconnectionDelayGrowFactor: 2,
        maxRetries: Number.MAX_SAFE_INTEGER,
      },
      reconnectionScheduler: (reconnect, _delay, attempt) => {
        const handle = setTimeout(reconnect, backoffDelay(policy, Math.min(attempt, 30)));
        return () => clearTimeout(handle);
      },
    });
    transport.onmessage = (message) => this.onGatewayMessage(message, generation);
    transport.onerror = (error) => this.onGatewayError(error, generation);
    return transport;
  }

  private detach(transport: StreamableHTTPClientTransport): void {
    transport.onmessage = undefined;
    transport.onerror = undefined;
    transport.onclose = undefined;
  }

  // ---- host -> gateway ----------------------------------------------------

  private onHostMessage(message: JSONRPCMessage): void {
    if (isJSONRPCRequest(message)) {
      if (this.closing) {
        void this.answerHost(
          message.id,
          new BridgeError(BridgeErrorCode.SHUTTING_DOWN, 'the bridge is shutting down'),
        );
        return;
      }
      if (message.method === 'initialize') {
        // A new handshake starts a new session: nothing of the old one is replayed.
        this.initializeRequest = message;
        this.initializedNotification = undefined;
        this.logLevelRequest = undefined;
        this.subscriptions.clear();
      }
      if (this.offline) {
        void this.viaFallback(message);
        return;
      }
      const envelopeVersion = envelopeVersionOf(message);
      this.pending.set(message.id, {
        request: message,
        method: message.method,
        phase: 'sending',
        generation: this.generation,
        abort: new AbortController(),
        ...(envelopeVersion !== undefined ? { envelopeVersion } : {}),
      });
      this.log.debug('host request', { id: message.id, method: message.method });
    } else if (isJSONRPCNotification(message)) {
      if (message.method === 'notifications/initialized') this.initializedNotification = message;
      if (this.offline) {
        this.log.debug('host notification not relayed while the gateway is unreachable', {
          method: message.method,
        });
        return;
      }
      if (message.method === 'notifications/cancelled' && this.cancelByStream(message)) return;
      this.log.debug('host notification', { method: message.method });
    } else {
      this.log.debug('host response', { id: message.id });
    }
    if (this.closing) return;
    const delivery = this.deliver(message);
    this.inflight.add(delivery);
    void delivery.finally(() => this.inflight.delete(delivery));
  }

  /**
   * On a 2026-07-28 exchange, HTTP cancellation is closing the request's own
   * response stream, not a POSTed notification (the stdio host cannot know
   * that), so the bridge translates. Returns true when it did.
   */
  private cancelByStream(message: JSONRPCNotification): boolean {
    const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
    if (requestId === undefined) return false;
    const pending = this.pending.get(requestId);
    if (pending?.envelopeVersion === undefined) return false;
    this.pending.delete(requestId);
    pending.abort.abort();
    this.log.debug('host cancelled a request; closed its stream', { id: requestId });
    return true;
  }

  /** Sends one host message to the gateway, re-establishing the session if needed; failures reach the host. */
  private async deliver(message: JSONRPCMessage): Promise<void> {
    const id = isJSONRPCRequest(message) ? message.id : undefined;
    let reestablished = 0;
    try {
      for (;;) {
        if (this.resumeSession) {
          // Back from an outage: the host's session state is replayed on a new gateway session.
          this.resumeSession = false;
          await this.reestablish(this.generation);
        }
        if (this.reestablishing) await this.reestablishing;
        if (this.closing) return;
        const pending = id === undefined ? undefined : this.pending.get(id);
        // Answered through another path (cancelled, or failed while waiting).
        if (id !== undefined && pending === undefined) return;
        const generation = this.generation;
        if (pending) {
          pending.generation = generation;
          pending.phase = 'sending';
        }
        const headers = pending?.envelopeVersion !== undefined ? this.mirroredParams(message) : undefined;
        const sendOptions: TransportSendOptions | undefined =
          pending && id !== undefined
            ? {
                requestSignal: pending.abort.signal,
                onRequestStreamEnd: () => this.onResponseStreamEnd(id, generation),
                ...(headers !== undefined ? { headers } : {}),
              }
            : undefined;
        try {
          await this.sendWithRetry(message, sendOptions);
          if (pending) pending.phase = 'awaiting';
          return;
        } catch (error) {
          if (pending?.abort.signal.aborted || this.closing) return;
          // The transport was replaced under this send: the old session is gone, so resend.
          if (generation !== this.generation && reestablished < MAX_REESTABLISH_PER_MESSAGE) {
            reestablished++;
            continue;
          }
          if (error instanceof SessionLost) {
            // A 404 without a session to lose means the URL points nowhere.
            if (
              this.initializeRequest === undefined ||
              message === this.initializeRequest ||
              !error.hadSession
            ) {
              throw new BridgeError(
                BridgeErrorCode.GATEWAY_REJECTED,
                `the gateway answered ${error.failure.detail} at ${this.options.url.href}; is the URL right?`,
                { url: this.options.url.href, status: 404 },
              );
            }
            if (reestablished < MAX_REESTABLISH_PER_MESSAGE) {
              reestablished++;
              await this.reestablish(generation);
              continue;
            }
          }
          throw error;
        }
      }
    } catch (error) {
      await this.failDelivery(message, error);
    }
  }

  private async failDelivery(message: JSONRPCMessage, error: unknown): Promise<void> {
    if (error instanceof BridgeError && error.unreachable && this.options.fallback && !this.closing) {
      this.goOffline(error);
      if (isJSONRPCRequest(message)) await this.viaFallback(message);
      return;
    }
    if (error instanceof GatewayAnswered) {
      // The gateway answered the request with a JSON-RPC error in an HTTP error body: relay it as is.
      this.pending.delete(error.response.id as RequestId);
      await this.toHost(error.response);
      return;
    }
    const bridgeError = this.toBridgeError(error);
    if (isJSONRPCRequest(message)) {
      this.log.error('request not delivered', {
        id: message.id,
        method: message.method,
        reason: bridgeError.code,
        err: bridgeError.message,
      });
      await this.answerHost(message.id, bridgeError);
    } else {
      this.log.error('message not delivered', { reason: bridgeError.code, err: bridgeError.message });
    }
  }

  /**
   * One message, retried with backoff while the gateway certainly did not take
   * it. Throws {@link SessionLost} on a 404, {@link GatewayAnswered} when an
   * HTTP error body is a JSON-RPC error for this request, or a {@link BridgeError}.
   */
  private async sendWithRetry(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const policy = this.options.retry;
    const started = Date.now();
    const isRequest = isJSONRPCRequest(message);
    for (let attempt = 0; ; attempt++) {
      const transport = this.upstream;
      let failure: Failure;
      /** Set when this attempt failed because the IdP could not renew the token, which retrying may fix. */
      let idpDown: LoginError | undefined;
      try {
        await transport.send(message, options);
        return;
      } catch (error) {
        if (options?.requestSignal?.aborted || this.closing) throw error;
        if (error instanceof LoginError) {
          if (error.code !== LoginErrorCode.IDP_UNREACHABLE) {
            throw new BridgeError(BridgeErrorCode.LOGIN_REQUIRED, error.message, {
              url: this.options.url.href,
            });
          }
          idpDown = error;
          failure = { kind: 'retry', detail: error.message };
        } else if (error instanceof InsufficientScopeError) {
          throw new BridgeError(
            BridgeErrorCode.GATEWAY_REJECTED,
            `the gateway requires scopes that ${this.options.auth?.credential ?? 'the token'} lacks (${error.message}); ${this.options.auth?.remedy ?? 'get a token with those scopes'}`,
            { url: this.options.url.href, status: 403 },
          );
        } else {
          failure = classifyFailure(error);
        }
      }
      const details = { url: this.options.url.href, attempts: attempt + 1, elapsedMs: Date.now() - started };
      if (failure.kind === 'ambiguous' || failure.kind === 'fatal') {
        const tlsReason = failure.tlsError
          ? explainTlsError(failure.tlsError, this.options.http)
          : failure.kind === 'ambiguous'
            ? await diagnoseTls(this.options.url, this.options.http)
            : undefined;
        if (tlsReason !== undefined) {
          throw new BridgeError(
            BridgeErrorCode.CONNECTION_FAILED,
            `cannot connect to the gateway at ${this.options.url.href}: ${tlsReason}`,
            { ...details, cause: failure.detail },
            isGatewayUnreachable(failure),
          );
        }
      }
      switch (failure.kind) {
        case 'session-lost':
          throw new SessionLost(failure, transport.sessionId !== undefined);
        case 'failed': {
          const answer = isRequest ? parseErrorAnswer(failure.body, message.id) : undefined;
          if (answer) throw new GatewayAnswered(answer);
          throw new BridgeError(
            BridgeErrorCode.GATEWAY_FAILED,
            `the gateway failed with ${failure.detail}${failure.body ? ` - ${failure.body.slice(0, 300)}` : ''}; not resent, as it may have run`,
            { ...details, status: failure.status },
          );
        }
        case 'rejected': {
          if (failure.status === 401 && refusedCertificate(failure.body)) {
            // Logging in again cannot help: the connection's certificate is what was refused.
            throw new BridgeError(
              BridgeErrorCode.GATEWAY_REJECTED,
              `the gateway refused this connection's client certificate; check --cert and --key (a token bound to a certificate works only with that certificate) (${failure.detail} - ${(failure.body ?? '').slice(0, 300)})`,
              { ...details, status: failure.status },
            );
          }
          if (failure.status === 401) {
            throw new BridgeError(
              BridgeErrorCode.LOGIN_REQUIRED,
              `${this.refusal()} (${failure.detail}${failure.body ? ` - ${failure.body.slice(0, 300)}` : ''})`,
              { ...details, status: failure.status },
            );
          }
          const answer = isRequest ? parseErrorAnswer(failure.body, message.id) : undefined;
          if (answer) throw new GatewayAnswered(answer);
          throw new BridgeError(
            BridgeErrorCode.GATEWAY_REJECTED,
            `the gateway refused the message: ${failure.detail}${failure.body ? ` - ${failure.body.slice(0, 300)}` : ''}`,
            { ...details, status: failure.status },
          );
        }
        case 'timeout':
          throw new BridgeError(
            BridgeErrorCode.TIMEOUT,
            `the gateway did not answer within ${this.options.http.headersTimeoutMs} ms (${failure.detail})`,
            { ...details, cause: failure.detail },
          );
        case 'fatal':
          throw new BridgeError(
            BridgeErrorCode.CONNECTION_FAILED,
            `cannot connect to the gateway at ${this.options.url.href}: ${failure.detail}`,
            { ...details, cause: failure.detail },
            isGatewayUnreachable(failure),
          );
        case 'ambiguous':
          if (isRequest) {
            throw new BridgeError(
              BridgeErrorCode.RESPONSE_LOST,
              `the connection to the gateway broke after the request was sent (${failure.detail}); not resent, as it may have run`,
              { ...details, cause: failure.detail },
            );
          }
          break;
        case 'retry':
          break;
      }
      const delay = backoffDelay(policy, attempt);
      if (attempt >= policy.retries || Date.now() - started + delay > policy.budgetMs) {
        if (idpDown) {
          throw new BridgeError(
            BridgeErrorCode.IDP_UNREACHABLE,
            `${idpDown.message} (${attempt + 1} attempts over ${Date.now() - started} ms)`,
            { ...details, cause: idpDown.message },
          );
        }
        throw new BridgeError(
          BridgeErrorCode.GATEWAY_UNREACHABLE,
          `gateway unreachable at ${this.options.url.href} after ${attempt + 1} attempts over ${Date.now() - started} ms: ${failure.detail}`,
          {
            ...details,
            ...(failure.status !== undefined ? { status: failure.status } : {}),
            cause: failure.detail,
          },
          isGatewayUnreachable(failure),
        );
      }
      this.log.warn('gateway not reachable; retrying', {
        attempt: attempt + 1,
        delayMs: delay,
        err: failure.detail,
      });
      await this.sleep(delay);
      if (this.closing) throw new BridgeError(BridgeErrorCode.SHUTTING_DOWN, 'the bridge is shutting down');
    }
  }

  /** The sentence for a 401 that stands after everything the bridge could do about it. */
  private refusal(): string {
    const auth = this.options.auth;
    if (!auth) return 'the gateway refused the request';
    const refreshed = auth.provider ? ' even after refreshing it' : '';
    return `the gateway refused ${auth.credential}${refreshed}; ${auth.remedy}`;
  }

  private toBridgeError(error: unknown): BridgeError {
    if (error instanceof BridgeError) return error;
    if (error instanceof SessionLost) {
      return new BridgeError(
        BridgeErrorCode.SESSION_LOST,
        `the gateway lost the session (${error.failure.detail}) and re-establishing it did not help`,
        {
          url: this.options.url.href,
          ...(error.failure.status !== undefined ? { status: error.failure.status } : {}),
        },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new BridgeError(BridgeErrorCode.CONNECTION_FAILED, message, { url: this.options.url.href });
  }

  // ---- fallback ------------------------------------------------------------

  /** The gateway is unreachable: later host requests go to the fallback until it is back. */
  private goOffline(error: BridgeError): void {
    if (this.offline) return;
    const fallback = this.options.fallback;
    if (!fallback) return;
    this.offline = true;
    this.log.warn(
      'gateway unreachable; serving host requests from the direct server (fallback), spooled for upload',
      {
        url: this.options.url.href,
        err: error.message,
      },
    );
    fallback.waitForGateway(this.stopping.signal).then(
      () => {
        if (this.closing) return;
        this.offline = false;
        this.resumeSession = true;
        this.log.info('the gateway answers again and has the spool; back to the gateway', {
          url: this.options.url.href,
        });
      },
      () => undefined,
    );
  }

  private async viaFallback(request: JSONRPCRequest): Promise<void> {
    const fallback = this.options.fallback;
    if (!fallback) return;
    this.pending.delete(request.id);
    this.log.debug('host request served by the fallback', { id: request.id, method: request.method });
    await this.toHost(await fallback.handle(request, this.initializeRequest));
  }

  // ---- session re-establishment -------------------------------------------

  /** Rebuilds the session once, however many messages noticed it was lost. */
  private reestablish(lostGeneration: number): Promise<void> {
    if (lostGeneration !== this.generation) return this.reestablishing ?? Promise.resolve();
    if (!this.reestablishing) {
      this.reestablishing = this.replaySession().finally(() => (this.reestablishing = undefined));
    }
    return this.reestablishing;
  }

  private async replaySession(): Promise<void> {
    const initialize = this.initializeRequest;
    if (!initialize) return;
    this.log.warn('the gateway lost the session; re-establishing it', { sessionId: this.upstream.sessionId });
    const old = this.upstream;
    this.detach(old);
    this.generation++;
    this.upstream = this.openUpstream();
    await old.close().catch(() => undefined);
    await this.upstream.start();
    // Responses still owed on the lost session will never come: say so instead of leaving the host waiting.
    for (const [id, pending] of this.pending) {
      if (pending.phase === 'awaiting' && pending.generation < this.generation) {
        this.pending.delete(id);
        void this.answerHost(
          id,
          new BridgeError(
            BridgeErrorCode.RESPONSE_LOST,
            'the gateway lost the session while this request was in progress; not resent, as it may have run',
            { url: this.options.url.href },
          ),
        );
      }
    }
    const replayId = `${OWN_ID_PREFIX}initialize-${++this.ownRequestCount}`;
    const response = await this.ownRequest({ ...initialize, id: replayId });
    if (isJSONRPCErrorResponse(response)) {
      throw new BridgeError(
        BridgeErrorCode.SESSION_LOST,
        `the gateway refused the replayed initialize: ${response.error.message}`,
        { url: this.options.url.href },
      );
    }
    const version = (response.result as { protocolVersion?: unknown }).protocolVersion;
    if (typeof version === 'string') {
      if (this.protocolVersion !== undefined && version !== this.protocolVersion) {
        this.log.warn('the new session negotiated another protocol version', {
          was: this.protocolVersion,
          now: version,
        });
      }
      this.learnProtocolVersion(version);
    }
    if (this.initializedNotification) await this.sendWithRetry(this.initializedNotification);
    await this.replaySessionState();
    this.log.info('session re-established', { sessionId: this.upstream.sessionId });
  }

  /**
   * The new session starts with the gateway's defaults; the host believes its
   * log level and subscriptions still hold, so the bridge sets them again. A
   * refusal (a resource gone meanwhile) is logged, not fatal: the session
   * itself is usable, and the host would get the same answer asking itself.
   */
  private async replaySessionState(): Promise<void> {
    const state = [...(this.logLevelRequest ? [this.logLevelRequest] : []), ...this.subscriptions.values()];
    for (const request of state) {
      const replayId = `${OWN_ID_PREFIX}${request.method}-${++this.ownRequestCount}`;
      try {
        const response = await this.ownRequest({ ...request, id: replayId });
        if (isJSONRPCErrorResponse(response)) {
          this.log.warn('the gateway refused a replayed request', {
            method: request.method,
            err: response.error.message,
          });
        }
      } catch (error) {
        this.log.warn('could not replay a request on the new session', {
          method: request.method,
          err: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  /** Keeps what a successful request set up on the session, for {@link replaySessionState}. */
  private learnSessionState(request: JSONRPCRequest): void {
    switch (request.method) {
      case 'logging/setLevel':
        this.logLevelRequest = request;
        break;
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = (request.params as { uri?: unknown } | undefined)?.uri;
        if (typeof uri !== 'string') break;
        if (request.method === 'resources/subscribe') this.subscriptions.set(uri, request);
        else this.subscriptions.delete(uri);
        break;
      }
      default:
        break;
    }
  }

  /** Sends a request of the bridge's own and waits for its response, which is kept from the host. */
  private async ownRequest(request: JSONRPCRequest): Promise<JSONRPCResponse> {
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<JSONRPCResponse>((resolve, reject) => {
      timer = setTimeout(() => {
        this.ownRequests.delete(request.id);
        reject(
          new BridgeError(BridgeErrorCode.TIMEOUT, `no answer to the replayed ${request.method}`, {
            url: this.options.url.href,
          }),
        );
      }, this.options.http.headersTimeoutMs);
      this.ownRequests.set(request.id, resolve);
    });
    try {
      await this.sendWithRetry(request);
      return await answered;
    } catch (error) {
      if (error instanceof GatewayAnswered) return error.response;
      throw error;
    } finally {
      clearTimeout(timer);
      this.ownRequests.delete(request.id);
    }
  }

  // ---- gateway -> host ----------------------------------------------------

  private onGatewayMessage(message: JSONRPCMessage, generation: number): void {
    if (generation !== this.generation) return;
    if (isJSONRPCResponse(message)) {
      const id = message.id as RequestId;
      const own = this.ownRequests.get(id);
      if (own) {
        this.ownRequests.delete(id);
        own(message);
        return;
      }
      const pending = this.pending.get(id);
      if (pending) {
        this.pending.delete(id);
        if (isJSONRPCResultResponse(message)) this.learnFromResult(pending, message.result);
      }
    } else if (isJSONRPCRequest(message)) {
      this.log.debug('gateway request', { id: message.id, method: message.method });
    }
    void this.toHost(message);
  }

  /** `Mcp-Param-*` headers a 2026-07-28 `tools/call` must carry for the arguments its tool marked. */
  private mirroredParams(message: JSONRPCMessage): Record<string, string> | undefined {
    if (!isJSONRPCRequest(message) || message.method !== 'tools/call') return undefined;
    const params = message.params as { name?: unknown; arguments?: unknown } | undefined;
    const declarations = typeof params?.name === 'string' ? this.toolParams.get(params.name) : undefined;
    return declarations ? paramHeaders(declarations, params?.arguments) : undefined;
  }

  /** Remembers the tools whose arguments must be mirrored into headers. */
  private learnTools(result: Record<string, unknown>): void {
    if (!Array.isArray(result.tools)) return;
    for (const tool of result.tools as Array<{ name?: unknown; inputSchema?: unknown }>) {
      if (typeof tool.name !== 'string') continue;
      const declarations = scanParamDeclarations(tool.inputSchema);
      if (declarations.length > 0) this.toolParams.set(tool.name, declarations);
      else this.toolParams.delete(tool.name);
    }
  }

  /** The legacy handshake names the version in its result; a 2026-07-28 request in its envelope. */
  private learnFromResult(pending: Pending, result: Record<string, unknown>): void {
    if (pending.method === 'tools/list') this.learnTools(result);
    this.learnSessionState(pending.request);
    if (pending.method === 'initialize' && typeof result.protocolVersion === 'string') {
      this.learnProtocolVersion(result.protocolVersion);
    } else if (pending.envelopeVersion !== undefined && pending.envelopeVersion !== this.protocolVersion) {
      this.learnProtocolVersion(pending.envelopeVersion);
    }
  }

  private learnProtocolVersion(version: string): void {
    this.protocolVersion = version;
    this.upstream.setProtocolVersion(version);
    this.log.debug('protocol version', { version });
  }

  private onResponseStreamEnd(id: RequestId, generation: number): void {
    const pending = this.pending.get(id);
    if (!pending || pending.generation !== generation || this.closing) return;
    this.pending.delete(id);
    void this.answerHost(
      id,
      new BridgeError(
        BridgeErrorCode.RESPONSE_LOST,
        'the response stream from the gateway ended before the response; not resent, as it may have run',
        { url: this.options.url.href },
      ),
    );
  }

  private onGatewayError(error: Error, generation: number): void {
    if (generation !== this.generation || this.closing) return;
    this.log.debug('gateway transport', { err: error.message });
    // The standalone GET stream found the session gone: rebuild it now, so server
    // notifications resume without waiting for the host's next message.
    if (
      error instanceof SdkHttpError &&
      error.code === SdkErrorCode.ClientHttpFailedToOpenStream &&
      error.status === 404 &&
      this.initializeRequest !== undefined
    ) {
      this.reestablish(generation).catch((failure: unknown) =>
        this.log.warn('could not re-establish the session', {
          err: failure instanceof Error ? failure.message : String(failure),
        }),
      );
    } else if (error instanceof SdkError && error.code === SdkErrorCode.ClientHttpFailedToOpenStream) {
      this.log.warn('standalone event stream unavailable', { err: error.message });
    }
  }

  private async answerHost(id: RequestId, error: BridgeError): Promise<void> {
    await this.toHost({ jsonrpc: '2.0', id, error: toJsonRpcError(error) });
  }

  private async toHost(message: JSONRPCMessage): Promise<void> {
    try {
      await this.host.send(message);
    } catch (error) {
      this.log.warn('could not write to the host', {
        err: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Waits for `work`, but no longer than `ms`. */
  private async within(work: Promise<unknown>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stopping.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** The gateway answered 404 for the session. */
class SessionLost extends Error {
  constructor(
    readonly failure: Failure,
    /** Whether the 404 answered a message sent with a session id. */
    readonly hadSession: boolean,
  ) {
    super(`session lost: ${failure.detail}`);
  }
}

/** The gateway answered an HTTP error whose body is a JSON-RPC error for the request. */
class GatewayAnswered extends Error {
  constructor(readonly response: JSONRPCResponse) {
    super('gateway answered with a JSON-RPC error');
  }
}

/**
 * The JSON-RPC error in an HTTP error body, as the answer to request `id`.
 * The gateway's front door answers errors it raises before reading the
 * message with a null id; the body still answers the one request the POST
 * carried, so it is relayed under that request's id.
 */
function parseErrorAnswer(body: string | undefined, id: RequestId): JSONRPCResponse | undefined {
  if (!body) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (!isErrorShaped(parsed)) return undefined;
    if (parsed.id === id) return parsed as JSONRPCResponse;
    if (parsed.id === null) return { jsonrpc: '2.0', id, error: parsed.error };
  } catch {
    // Not JSON: the caller reports the status and text instead.
  }
  return undefined;
}

function isErrorShaped(value: unknown): value is { id: unknown; error: { code: number; message: string } } {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as {
    jsonrpc?: unknown;
    id?: unknown;
    error?: { code?: unknown; message?: unknown };
  };
  return (
    candidate.jsonrpc === '2.0' &&
    'id' in candidate &&
    typeof candidate.error === 'object' &&
    candidate.error !== null &&
    typeof candidate.error.code === 'number' &&
    typeof candidate.error.message === 'string'
  );
}

/** True when a 401's JSON-RPC body says the client certificate, not the token, was refused. */
function refusedCertificate(body: string | undefined): boolean {
  if (!body) return false;
  try {
    const auth = (JSON.parse(body) as { error?: { data?: { auth?: unknown } } }).error?.data?.auth;
    return auth === 'CERTIFICATE_INVALID' || auth === 'CERTIFICATE_MISMATCH';
  } catch {
    return false;
  }
}
