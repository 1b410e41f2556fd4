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
import { cappedFetch, guardStdout } from './stream-limits';

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
}

/**
 * One MCP client session to one upstream server, over stdio or HTTP, negotiated by the SDK.
 * Requests are forwarded with a pass-through result schema and a concurrency cap.
 */
export class UpstreamConnection {
  private client: Client | undefined;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
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
    return this.active > 0 || this.waiting.length > 0;
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
        guardStdout(child, this.config.limits, (reason) =>
          this.logger.error(
            { server: this.server, reason },
            'upstream output over its limit; killing the process',
          ),
        );
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
    const fetch = cappedFetch(this.config.limits, (id, reason) => this.failRequest(id, reason));
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
  private interceptProgress(transport: { onmessage?: (message: never, extra?: never) => void }): void {
    const original = transport.onmessage;
    transport.onmessage = (message: never, extra?: never) => {
      const m = message as { method?: string; params?: Record<string, unknown> };
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
    await this.acquire(options.signal);
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
      this.release();
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

  private async acquire(signal: AbortSignal | undefined): Promise<void> {
    if (this.active < this.config.maxConcurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', abort);
        this.active++;
        resolve();
      };
      const abort = (): void => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(
          new TransportError(
            TransportErrorCode.UPSTREAM_LIMIT,
            'cancelled while waiting for an upstream slot',
          ),
        );
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.waiting.push(go);
    });
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
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
