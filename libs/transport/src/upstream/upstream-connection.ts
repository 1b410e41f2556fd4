import {
  Client,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  SSEClientTransport,
} from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { ChildProcess } from 'node:child_process';
import type { UpstreamConfig } from '@gatehouse/config';
import type { Logger } from '@gatehouse/observability';
import { type JsonRpcMessage, TransportError, TransportErrorCode } from '../jsonrpc';
import { cappedFetch, guardStdout, type OversizedMessage } from './stream-limits';

/** Result objects are forwarded as the upstream sent them: no schema may strip fields (fidelity). */
const PASSTHROUGH = {
  '~standard': {
    version: 1 as const,
    vendor: 'gatehouse',
    validate: (value: unknown) => ({ value: value as Record<string, unknown> }),
  },
};

/** What the gateway tells an upstream about the client behind it. */
export interface UpstreamClientIdentity {
  clientInfo: { name: string; version: string };
  capabilities: Record<string, unknown>;
  /** The era of the clients this connection serves; it decides how the hop negotiates. */
  era: 'legacy' | 'modern';
  /**
   * Several principals share this connection: each may hold only its share of `maxConcurrency`
   * and waiting principals are served in turn, so no one or two of them can starve the rest.
   */
  shared: boolean;
}

/**
 * The client call a forwarded request was made for. What the upstream says while that request
 * runs may go back to it, but only when it is the one request in flight on the connection:
 * nothing on the wire (stdio) says which request an upstream's message belongs to.
 */
export interface CallOwner {
  /** The caller's 2025-era session; undefined for a 2026-07-28 call, which is never asked anything. */
  readonly sessionId: string | undefined;
  /** The call's own response stream. */
  readonly sink: { readonly canStream: boolean; send(message: JsonRpcMessage): void };
  /** Sends `server`'s notification on the call's stream, in the shape its endpoint speaks. */
  notify(server: string, method: string, params: Record<string, unknown> | undefined): void;
}

/**
 * Server-to-client traffic from the upstream, handed to whoever owns this connection with the
 * owner of the one request in flight on it when it arrived (undefined when there were none or several).
 */
export interface UpstreamHandlers {
  onNotification(
    method: string,
    params: Record<string, unknown> | undefined,
    caller: CallOwner | undefined,
  ): void;
  /** A server-to-client request (sampling, elicitation, roots); resolves with the client's result. */
  onRequest(
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    caller: CallOwner | undefined,
  ): Promise<Record<string, unknown>>;
  /** The connection ended unexpectedly (process exit, HTTP failure). */
  onClose(): void;
}

export interface ForwardOptions {
  signal?: AbortSignal;
  onProgress?: (progress: Record<string, unknown>) => void;
  /** Hand 2026-07-28 `input_required` results back instead of fulfilling them here. */
  allowInputRequired?: boolean;
  /** The client call this request serves; none for the gateway's own requests. */
  owner?: CallOwner;
  /** Whose call this is (principalKey), for the fair share of a shared connection's slots. */
  principal?: string;
}

/**
 * One MCP client session to one upstream server, over stdio or HTTP, negotiated by the SDK.
 * Requests are forwarded with a pass-through result schema and a concurrency cap.
 */
export class UpstreamConnection {
  private client: Client | undefined;
  private active = 0;
  private readonly activeBy = new Map<string, number>();
  /** Waiting calls per principal; the map's order is the round-robin order. */
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Ids of the SDK's requests on the wire that have no answer yet. */
  private readonly unanswered = new Set<string | number>();
  private closedByUs = false;
  private readonly progress = new Map<string, (params: Record<string, unknown>) => void>();
  /** Feeds a message to the SDK as if the upstream had sent it. */
  private inject: ((message: unknown) => void) | undefined;
  private progressSeq = 0;
  /** Requests at the upstream now, each with its caller (or null for the gateway's own). */
  private readonly inFlight = new Set<{ owner: CallOwner | null }>();
  pid: number | undefined;

  constructor(
    readonly server: string,
    private readonly config: UpstreamConfig,
    private readonly identity: UpstreamClientIdentity,
    private readonly handlers: UpstreamHandlers,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** True while any request is at the upstream or waiting for a slot. */
  get busy(): boolean {
    return this.active > 0 || this.waiting.size > 0;
  }

  /** The caller of the one request in flight, if there is exactly one and it has a caller. */
  private soleCaller(): CallOwner | undefined {
    if (this.inFlight.size !== 1) return undefined;
    const [only] = this.inFlight;
    return only?.owner ?? undefined;
  }

  /** Starts the process or opens the HTTP session and completes the handshake. */
  async connect(): Promise<void> {
    const client = new Client(this.identity.clientInfo, {
      capabilities: this.identity.capabilities,
      versionNegotiation: negotiation(this.config.protocol, this.identity.era),
    });
    client.fallbackNotificationHandler = async (n) => {
      this.handlers.onNotification(n.method, n.params, this.soleCaller());
    };
    const offered = {
      'sampling/createMessage': 'sampling',
      'elicitation/create': 'elicitation',
      'roots/list': 'roots',
    } as const;
    for (const [method, capability] of Object.entries(offered) as Array<[keyof typeof offered, string]>) {
      // The SDK refuses a handler for a capability the client did not declare.
      if (this.identity.capabilities[capability] === undefined) continue;
      client.setRequestHandler(method, async (request, ctx) => {
        const signal = (ctx as { signal?: AbortSignal } | undefined)?.signal ?? new AbortController().signal;
        return (await this.handlers.onRequest(method, request.params, signal, this.soleCaller())) as never;
      });
    }
    client.onclose = () => {
      const wasOpen = this.client === client;
      this.client = undefined;
      if (wasOpen && !this.closedByUs) this.handlers.onClose();
    };
    client.onerror = (err) => this.logger.debug({ err, server: this.server }, 'upstream transport error');
    await this.open(client);
    this.client = client;
  }

  private async open(client: Client): Promise<void> {
    const timeout = this.config.timeouts.connectMs;
    if (this.config.transport === 'stdio') {
      const transport = new StdioClientTransport({
        command: this.config.command,
        args: this.config.args,
        env: { ...getDefaultEnvironment(), ...this.config.env },
        cwd: this.config.cwd,
        stderr: 'pipe',
        // The guard hands the SDK complete lines within maxMessageBytes, a chunk's worth at a time.
        maxBufferSize: this.config.limits.maxMessageBytes + 4 * 1024 * 1024,
      });
      transport.stderr?.on('data', (chunk: Buffer) =>
        this.logger.debug(
          { server: this.server, stderr: chunk.toString('utf8').trimEnd() },
          'upstream stderr',
        ),
      );
      await client.connect(transport, { timeout });
      this.interceptProgress(transport);
      // The SDK buffers stdout without a bound; the cap needs the child, which it keeps private.
      const child = (transport as unknown as { _process?: ChildProcess })._process;
      if (child) {
        guardStdout(child, this.config.limits, {
          oversized: (message, reason) => this.failOversized(message, reason),
          broken: (reason) =>
            this.logger.error(
              { server: this.server, reason },
              'upstream output cannot be resynchronised; killing the process',
            ),
        });
      } else {
        this.logger.warn(
          { server: this.server },
          'cannot watch upstream stdout; message size cap not enforced',
        );
      }
      this.pid = transport.pid ?? undefined;
      return;
    }
    const url = new URL(this.config.url);
    const requestInit = { headers: this.config.headers };
    const fetch = cappedFetch(
      this.config.limits,
      (id, reason) => this.failRequest(id, reason),
      (message, reason) => this.failOversized(message, reason),
    );
    try {
      const transport = new StreamableHTTPClientTransport(url, { requestInit, fetch });
      await client.connect(transport, { timeout });
      this.interceptProgress(transport);
    } catch (err) {
      // Servers that predate Streamable HTTP answer the POST with 4xx; try the legacy HTTP+SSE transport.
      if (!isLegacyHttpSignal(err)) throw err;
      this.logger.info(
        { server: this.server },
        'upstream does not speak Streamable HTTP; using legacy HTTP+SSE',
      );
      const transport = new SSEClientTransport(url, { requestInit, fetch });
      await client.connect(transport, { timeout });
      this.interceptProgress(transport);
    }
  }

  /**
   * Progress is taken off the wire here, in arrival order. The SDK dispatches notifications a
   * tick later than responses, so the last progress of a call would otherwise find its handler
   * already gone and be dropped.
   */
  private interceptProgress(transport: {
    onmessage?: (message: never, extra?: never) => void;
    send(message: never, options?: never): Promise<void>;
  }): void {
    const original = transport.onmessage;
    const send = transport.send.bind(transport);
    transport.send = (message: never, options?: never) => {
      const m = message as { method?: string; id?: string | number; params?: { requestId?: unknown } };
      if (m.method !== undefined && m.id !== undefined) this.unanswered.add(m.id);
      // A timed-out or aborted request is cancelled upstream; its answer is no longer awaited.
      if (m.method === 'notifications/cancelled') this.unanswered.delete(m.params?.requestId as number);
      return send(message, options);
    };
    transport.onmessage = (message: never, extra?: never) => {
      const m = message as { method?: string; id?: string | number; params?: Record<string, unknown> };
      if (m.method === undefined && m.id !== undefined) this.unanswered.delete(m.id);
      if (m.method === 'notifications/progress') {
        const deliver = this.progress.get(String(m.params?.progressToken));
        if (deliver && m.params) {
          deliver(m.params);
          return;
        }
      }
      original?.call(transport, message, extra);
    };
    this.inject = (message) => original?.call(transport, message as never);
  }

  /**
   * A response stream cut off by a limit (R40) fails its own call at once; the SDK would
   * otherwise wait for a resumption that never comes, until the request timeout.
   */
  private failRequest(id: string | number | undefined, reason: string): void {
    this.logger.warn({ server: this.server, reason }, 'upstream response stream cut off');
    if (id === undefined) return;
    this.unanswered.delete(id);
    this.inject?.({
      jsonrpc: '2.0',
      id,
      error: {
        code: -32603,
        message: `upstream "${this.server}" response cut off: ${reason}`,
        data: { reason: 'UPSTREAM_LIMIT' },
      },
    });
  }

  /**
   * A stdio message over maxMessageBytes was dropped (13.5): the call it answers fails with
   * UPSTREAM_LIMIT and the process keeps serving everyone else. When the message's id cannot be
   * read, every call waiting on this connection fails instead: each gets a prompt, clear answer
   * rather than waiting for its timeout on a response that will never come.
   */
  private failOversized(message: OversizedMessage, reason: string): void {
    if (message.kind === 'request') {
      this.logger.warn({ server: this.server, reason }, 'oversized upstream request dropped');
      return;
    }
    const ids = message.id !== undefined ? [message.id] : [...this.unanswered];
    this.logger.warn(
      { server: this.server, reason, failed: ids.length, idKnown: message.id !== undefined },
      'oversized upstream message dropped; failing the call it answers',
    );
    for (const id of ids) {
      if (!this.unanswered.delete(id)) continue;
      this.inject?.({
        jsonrpc: '2.0',
        id,
        error: {
          code: -32603,
          message: `upstream "${this.server}" result refused: ${reason}`,
          data: { reason: 'UPSTREAM_LIMIT' },
        },
      });
    }
  }

  info(): {
    protocolVersion: string | undefined;
    capabilities: Record<string, unknown>;
    serverInfo: Record<string, unknown> | undefined;
    instructions: string | undefined;
  } {
    const client = this.client;
    return {
      protocolVersion: client?.getNegotiatedProtocolVersion(),
      capabilities: client?.getServerCapabilities() ?? {},
      serverInfo: client?.getServerVersion(),
      instructions: client?.getInstructions(),
    };
  }

  /** Forwards one request; upstream JSON-RPC errors come back as {@link UpstreamRpcError}. */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: ForwardOptions = {},
  ): Promise<Record<string, unknown>> {
    const client = this.client;
    if (!client) {
      throw new TransportError(
        TransportErrorCode.UPSTREAM_UNAVAILABLE,
        `upstream "${this.server}" is not connected`,
      );
    }
    const principal = options.principal ?? '';
    await this.acquire(principal, options.signal);
    let token: string | undefined;
    if (options.onProgress) {
      // Our own token per upstream connection: clients' tokens can collide on a shared upstream.
      token = `gh${++this.progressSeq}`;
      this.progress.set(token, options.onProgress);
      params = {
        ...params,
        _meta: { ...(params?._meta as Record<string, unknown> | undefined), progressToken: token },
      };
    }
    const mark = { owner: options.owner ?? null };
    this.inFlight.add(mark);
    try {
      return (await client.request({ method, params } as never, PASSTHROUGH, {
        signal: options.signal,
        timeout: this.config.timeouts.requestMs,
        allowInputRequired: options.allowInputRequired ?? false,
      })) as Record<string, unknown>;
    } catch (err) {
      throw translateError(this.server, this.config.timeouts.requestMs, err);
    } finally {
      this.inFlight.delete(mark);
      if (token) this.progress.delete(token);
      this.release(principal);
    }
  }

  async notify(method: string, params: Record<string, unknown> | undefined): Promise<void> {
    await this.client?.notification({ method, params });
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  /** Slots one principal may hold on this connection; all of them when it serves one session. */
  private get share(): number {
    const max = this.config.maxConcurrency;
    if (!this.identity.shared) return max;
    return Math.min(max, this.config.maxConcurrencyPerPrincipal ?? Math.max(1, Math.floor(max / 4)));
  }

  private take(principal: string): void {
    this.active++;
    this.activeBy.set(principal, (this.activeBy.get(principal) ?? 0) + 1);
  }

  private async acquire(principal: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.active < this.config.maxConcurrency && (this.activeBy.get(principal) ?? 0) < this.share) {
      this.take(principal);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', abort);
        this.take(principal);
        resolve();
      };
      const abort = (): void => {
        const queue = this.waiting.get(principal);
        const i = queue?.indexOf(go) ?? -1;
        if (queue && i >= 0) {
          queue.splice(i, 1);
          if (queue.length === 0) this.waiting.delete(principal);
        }
        reject(
          new TransportError(
            TransportErrorCode.UPSTREAM_LIMIT,
            'cancelled while waiting for an upstream slot',
          ),
        );
      };
      signal?.addEventListener('abort', abort, { once: true });
      const queue = this.waiting.get(principal);
      if (queue) queue.push(go);
      else this.waiting.set(principal, [go]);
    });
  }

  private release(principal: string): void {
    this.active--;
    const held = (this.activeBy.get(principal) ?? 1) - 1;
    if (held > 0) this.activeBy.set(principal, held);
    else this.activeBy.delete(principal);
    this.grant();
  }

  /** Hands free slots to waiting principals in turn, skipping those already at their share. */
  private grant(): void {
    while (this.active < this.config.maxConcurrency) {
      let next: string | undefined;
      for (const principal of this.waiting.keys()) {
        if ((this.activeBy.get(principal) ?? 0) < this.share) {
          next = principal;
          break;
        }
      }
      if (next === undefined) return;
      const queue = this.waiting.get(next) as Array<() => void>;
      const go = queue.shift() as () => void;
      // To the back of the line: the next free slot goes to the next principal.
      this.waiting.delete(next);
      if (queue.length > 0) this.waiting.set(next, queue);
      go();
    }
  }
}

/** A JSON-RPC error the upstream itself returned; forwarded to the client unchanged. */
export class UpstreamRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown,
  ) {
    super(message);
  }
}

function translateError(server: string, timeoutMs: number, err: unknown): Error {
  if (err instanceof TransportError) return err;
  if (err instanceof ProtocolError) return new UpstreamRpcError(err.code, err.message, err.data);
  if (err instanceof SdkError) {
    if (err.code === SdkErrorCode.RequestTimeout) {
      return new TransportError(
        TransportErrorCode.UPSTREAM_TIMEOUT,
        `upstream "${server}" did not answer within ${timeoutMs} ms; the request was cancelled upstream`,
      );
    }
    return new TransportError(
      TransportErrorCode.UPSTREAM_UNAVAILABLE,
      `upstream "${server}" failed: ${err.message}`,
    );
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new TransportError(TransportErrorCode.UPSTREAM_UNAVAILABLE, 'the request was cancelled');
  }
  return new TransportError(
    TransportErrorCode.UPSTREAM_UNAVAILABLE,
    `upstream "${server}" failed: ${err instanceof Error ? err.message : String(err)}`,
  );
}

function isLegacyHttpSignal(err: unknown): boolean {
  const status = (err as { status?: number; code?: unknown } | undefined)?.status;
  if (typeof status === 'number') return status === 404 || status === 405 || status === 400;
  const message = err instanceof Error ? err.message : '';
  return /\b(404|405|400)\b/.test(message);
}

/**
 * 2025-era clients get a 2025-era hop (`legacy` negotiates the newest 2025 revision both sides
 * speak); 2026-07-28 clients get `auto`, which picks 2026-07-28 when the upstream offers it.
 * `protocol` in config can force either.
 */
function negotiation(
  protocol: UpstreamConfig['protocol'],
  era: 'legacy' | 'modern',
): { mode: 'legacy' | 'auto' | { pin: string }; probe?: { timeoutMs: number } } {
  if (protocol === 'legacy' || (protocol === 'auto' && era === 'legacy')) return { mode: 'legacy' };
  if (protocol === 'auto') return { mode: 'auto', probe: { timeoutMs: 5000 } };
  return { mode: { pin: protocol } };
}
