import {
  isJSONRPCRequest,
  isJSONRPCResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type JSONRPCResponse,
  type Transport,
} from '@modelcontextprotocol/client';

import type { Logger } from '../bridge/logger';
import { closeCall, openCall, REPORTED_METHODS } from './calls';
import { describeDirect, directTransport } from './direct-transport';
import { DirectError, DirectErrorCode, directJsonRpcError } from './errors';
import type { DirectTarget } from './legacy-config';
import { qualifyName, qualifyUri, unqualifyName, unqualifyUri } from './namespace';
import type { Spool, SpoolEntry } from './spool';
import type { SpoolUploader } from './uploader';

type RequestId = JSONRPCRequest['id'];
type Params = Record<string, unknown>;

export interface FallbackRouteOptions {
  target: DirectTarget;
  /** The host sees the aggregated endpoint's `<server>__<name>` names. */
  aggregated: boolean;
  spool: Spool;
  uploader: SpoolUploader;
  logger: Logger;
  /** Whether the gateway answers again (its readiness endpoint). */
  probe: () => Promise<boolean>;
  direct?: Transport;
  /** Longest wait for the direct server's answer. */
  timeoutMs: number;
  /** First and largest delay between probes while the gateway is unreachable. */
  probeDelayMs?: { initial: number; max: number };
}

/**
 * `gatehouse bridge --fallback`: serves host requests on the direct server while the gateway is
 * unreachable. The direct server is started on first use and initialized with the host's own
 * `initialize`. Names are translated so the host keeps seeing the gateway's names. Each call
 * (tools/call, resources/read, prompts/get) is appended to the spool and fsync'd before the
 * host gets its answer; a call is refused, not run, when the spool is full. Meanwhile the
 * gateway is probed, and once it answers and has taken the whole spool, the bridge goes back.
 */
export class FallbackRoute {
  private transport: Transport | undefined;
  private session: Promise<Record<string, unknown>> | undefined;
  private readonly waiting = new Map<RequestId, (response: JSONRPCResponse) => void>();
  private ownIds = 0;
  private client: SpoolEntry['client'];
  private readonly log: Logger;

  constructor(private readonly options: FallbackRouteOptions) {
    this.log = options.logger;
  }

  /** Answers one host request from the direct server; never rejects (failures are JSON-RPC errors). */
  async handle(request: JSONRPCRequest, initialize: JSONRPCRequest | undefined): Promise<JSONRPCResponse> {
    try {
      const result = await this.run(request, initialize);
      return { jsonrpc: '2.0', id: request.id, ...result } as JSONRPCResponse;
    } catch (error) {
      const failure =
        error instanceof DirectError
          ? error
          : new DirectError(
              DirectErrorCode.DIRECT_FAILED,
              `the gateway is unreachable and the direct server ${this.options.target.server.name} failed: ${error instanceof Error ? error.message : String(error)}`,
            );
      this.log.error('fallback request failed', {
        id: request.id,
        method: request.method,
        reason: failure.code,
        err: failure.message,
      });
      return { jsonrpc: '2.0', id: request.id, error: directJsonRpcError(failure) };
    }
  }

  /**
   * Resolves once the gateway is ready again and has acknowledged the whole spool; probes with
   * growing delays. Rejects only when `signal` aborts (the bridge is shutting down).
   */
  async waitForGateway(signal: AbortSignal): Promise<void> {
    const { initial, max } = this.options.probeDelayMs ?? { initial: 500, max: 10_000 };
    for (let attempt = 0; ; attempt++) {
      await sleep(Math.min(max, initial * 2 ** Math.min(attempt, 10)), signal);
      if (!(await this.options.probe().catch(() => false))) continue;
      if (await this.options.uploader.flush()) return;
    }
  }

  async close(): Promise<void> {
    const transport = this.transport;
    this.transport = undefined;
    this.session = undefined;
    if (transport) {
      transport.onclose = undefined;
      await transport.close().catch(() => undefined);
    }
  }

  private async run(request: JSONRPCRequest, initialize: JSONRPCRequest | undefined): Promise<Params> {
    if (request.method === 'ping') return { result: {} };
    const initialized = await this.ensureSession(
      initialize ?? (request.method === 'initialize' ? request : undefined),
    );
    if (request.method === 'initialize') return { result: initialized };
    const params = this.toDirect(request.method, request.params ?? {});
    const outgoing: JSONRPCRequest = { ...request, params };
    if (!REPORTED_METHODS.has(request.method)) {
      return this.fromDirect(request.method, await this.exchange(outgoing));
    }
    if (await this.options.spool.isFull()) {
      // An offline call that cannot be recorded is not run: no audit record is ever lost silently.
      throw new DirectError(
        DirectErrorCode.SPOOL_FULL,
        `the gateway is unreachable and the spool ${this.options.spool.path} is full; the call was not run. Bring the gateway back or raise --spool-max-mb`,
      );
    }
    const call = openCall(this.options.target.upstream, outgoing);
    let response: JSONRPCResponse;
    try {
      response = await this.exchange(outgoing);
    } catch (error) {
      const record = closeCall(call, { failure: error instanceof Error ? error.message : String(error) });
      await this.spool(record);
      throw error;
    }
    await this.spool(closeCall(call, response));
    return this.fromDirect(request.method, response);
  }

  private async spool(call: ReturnType<typeof closeCall>): Promise<void> {
    try {
      await this.options.spool.append({
        ...call,
        mode: 'fallback',
        ...(this.client !== undefined ? { client: this.client } : {}),
      });
    } catch (error) {
      const reason = error instanceof DirectError ? error.message : String(error);
      throw new DirectError(
        DirectErrorCode.SPOOL_WRITE_FAILED,
        `the call ran on the direct server but its record could not be written, so its result is withheld: ${reason}`,
      );
    }
    this.log.info('fallback call spooled', { id: call.id, method: call.method, status: call.status });
  }

  /** The JSON-RPC result or error of the direct server, as the members of the host's response. */
  private fromDirect(method: string, response: JSONRPCResponse): Params {
    if (!('result' in response)) return { error: response.error };
    const result = response.result as Params;
    if (!this.options.aggregated) return { result };
    const server = this.options.target.upstream;
    const rename = <T extends Params>(items: unknown, key: string, as: (value: string) => string): T[] =>
      Array.isArray(items)
        ? (items as T[]).map((item) =>
            typeof item[key] === 'string' ? { ...item, [key]: as(item[key]) } : item,
          )
        : [];
    switch (method) {
      case 'tools/list':
        return { result: { ...result, tools: rename(result.tools, 'name', (n) => qualifyName(server, n)) } };
      case 'prompts/list':
        return {
          result: { ...result, prompts: rename(result.prompts, 'name', (n) => qualifyName(server, n)) },
        };
      case 'resources/list':
        return {
          result: { ...result, resources: rename(result.resources, 'uri', (u) => qualifyUri(server, u)) },
        };
      case 'resources/templates/list':
        return {
          result: {
            ...result,
            resourceTemplates: rename(result.resourceTemplates, 'uriTemplate', (u) => qualifyUri(server, u)),
          },
        };
      case 'resources/read': {
        const contents = rename(result.contents, 'uri', (u) => qualifyUri(server, u));
        return { result: { ...result, contents } };
      }
      default:
        return { result };
    }
  }

  /** The request's params under the direct server's own names; refuses another server's names. */
  private toDirect(method: string, params: Params): Params {
    if (!this.options.aggregated) return params;
    const server = this.options.target.upstream;
    const refuse = (what: string): never => {
      throw new DirectError(
        DirectErrorCode.NOT_ON_DIRECT,
        `the gateway is unreachable and ${what} is not on the direct server ${server} (only ${server}__* tools and prompts and ${server}+ resources are served offline)`,
      );
    };
    switch (method) {
      case 'tools/call':
      case 'prompts/get': {
        const name = typeof params.name === 'string' ? unqualifyName(server, params.name) : undefined;
        return { ...params, name: name ?? refuse(String(params.name)) };
      }
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = typeof params.uri === 'string' ? unqualifyUri(server, params.uri) : undefined;
        return { ...params, uri: uri ?? refuse(String(params.uri)) };
      }
      default:
        return params;
    }
  }

  /** Starts and initializes the direct server once, with the host's own `initialize`. */
  private ensureSession(initialize: JSONRPCRequest | undefined): Promise<Params> {
    if (this.session) return this.session;
    if (!initialize) {
      return Promise.reject(
        new DirectError(DirectErrorCode.DIRECT_FAILED, 'the host has not initialized a session yet'),
      );
    }
    const info = (initialize.params as { clientInfo?: { name?: unknown; version?: unknown } } | undefined)
      ?.clientInfo;
    this.client = {
      ...(typeof info?.name === 'string' ? { name: info.name } : {}),
      ...(typeof info?.version === 'string' ? { version: info.version } : {}),
    };
    this.session = this.connect(initialize).catch((error: unknown) => {
      this.session = undefined;
      throw error;
    });
    return this.session;
  }

  private async connect(initialize: JSONRPCRequest): Promise<Params> {
    const transport = this.options.direct ?? directTransport(this.options.target.server);
    this.transport = transport;
    transport.onmessage = (message) => this.onDirectMessage(message);
    transport.onerror = (error) => this.log.warn('direct server transport', { err: error.message });
    transport.onclose = () => {
      if (this.transport !== transport) return;
      this.log.warn('the direct server closed the connection; it is started again on the next fallback call');
      this.transport = undefined;
      this.session = undefined;
    };
    await transport.start();
    const response = await this.exchange(initialize);
    if (!('result' in response)) {
      throw new DirectError(
        DirectErrorCode.DIRECT_FAILED,
        `the direct server ${this.options.target.server.name} refused initialize: ${response.error.message}`,
      );
    }
    const version = (response.result as { protocolVersion?: unknown }).protocolVersion;
    // An HTTP direct server expects the negotiated version in a header from now on.
    if (typeof version === 'string') transport.setProtocolVersion?.(version);
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.log.info('direct server started for fallback', {
      direct: describeDirect(this.options.target.server),
    });
    return response.result;
  }

  /** Sends a request under an id of the route's own and waits for the direct server's answer. */
  private async exchange(request: JSONRPCRequest): Promise<JSONRPCResponse> {
    const transport = this.transport;
    if (!transport) throw new DirectError(DirectErrorCode.DIRECT_FAILED, 'the direct server is not running');
    const id = this.ownId();
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<JSONRPCResponse>((resolve, reject) => {
      this.waiting.set(id, resolve);
      timer = setTimeout(
        () =>
          reject(
            new DirectError(
              DirectErrorCode.DIRECT_FAILED,
              `the direct server did not answer ${request.method} within ${this.options.timeoutMs} ms`,
            ),
          ),
        this.options.timeoutMs,
      );
    });
    try {
      await transport.send({ ...request, id });
      const response = await answered;
      return { ...response, id: request.id };
    } finally {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  private onDirectMessage(message: JSONRPCMessage): void {
    if (isJSONRPCResponse(message) && message.id !== undefined) {
      this.waiting.get(message.id)?.(message);
      return;
    }
    if (isJSONRPCRequest(message)) {
      // Offline there is no host session to relay server-to-client requests into (sampling, roots).
      void this.transport
        ?.send({
          jsonrpc: '2.0',
          id: message.id,
          error: {
            code: -32601,
            message: 'not available while the bridge serves from the direct server (fallback)',
          },
        })
        .catch(() => undefined);
      return;
    }
    this.log.debug('direct server notification not relayed in fallback', {
      message: JSON.stringify(message).slice(0, 200),
    });
  }

  private ownId(): string {
    return `gatehouse-direct/${++this.ownIds}`;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
