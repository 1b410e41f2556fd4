import {
  isJSONRPCRequest,
  isJSONRPCResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';

import type { Logger } from '../bridge/logger';
import { closeCall, openCall, REPORTED_METHODS, type OpenCall } from './calls';
import { describeDirect, directTransport } from './direct-transport';
import { DirectError, DirectErrorCode, directJsonRpcError } from './errors';
import type { DirectTarget } from './legacy-config';
import type { Spool, SpoolEntry } from './spool';
import type { SpoolUploader } from './uploader';

type RequestId = JSONRPCRequest['id'];

export interface ShadowBridgeOptions {
  target: DirectTarget;
  spool: Spool;
  uploader: SpoolUploader;
  logger: Logger;
  /** The host-facing side; stdin/stdout unless a test injects another. */
  host?: Transport;
  /** The direct server's transport; built from the target unless a test injects another. */
  direct?: Transport;
  /** How long shutdown waits for a last upload. */
  shutdownTimeoutMs?: number;
}

/**
 * `gatehouse bridge --shadow`: the host talks to its direct server exactly as it would without
 * Gatehouse (every message relayed unchanged, both ways), and each completed call is reported
 * to the gateway afterwards, which decides it with the active policy and records it as
 * `shadow`. The gateway is never in the call path: reports go to the spool (fsync'd, off the
 * host's path) and a background uploader sends them in small batches, so a slow or down gateway
 * neither slows nor breaks the host, and an undelivered report waits in the spool.
 */
export class ShadowBridge {
  private readonly host: Transport;
  private readonly direct: Transport;
  private readonly log: Logger;
  private readonly open = new Map<RequestId, OpenCall>();
  private client: SpoolEntry['client'];
  /** The host's `initialize` id, whose result names the protocol version an HTTP direct server expects in headers. */
  private initializeId: RequestId | undefined;
  private queue: SpoolEntry[] = [];
  private writing: Promise<void> | undefined;
  private closing = false;
  private readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(private readonly options: ShadowBridgeOptions) {
    this.log = options.logger;
    this.host = options.host ?? new StdioServerTransport();
    this.direct = options.direct ?? directTransport(options.target.server);
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  async start(): Promise<void> {
    this.direct.onmessage = (message) => this.onDirectMessage(message);
    this.direct.onerror = (error) => this.log.warn('direct server transport', { err: error.message });
    this.direct.onclose = () => void this.close('the direct server closed the connection');
    await this.direct.start();
    this.host.onmessage = (message) => this.onHostMessage(message);
    this.host.onerror = (error) => this.log.warn('unreadable message from the host', { err: error.message });
    this.host.onclose = () => void this.close('host closed stdin');
    await this.host.start();
    // Reports a previous run could not deliver go first.
    this.options.uploader.kick();
    this.log.info('shadow bridge ready', {
      direct: describeDirect(this.options.target.server),
      reportedAs: this.options.target.upstream,
      spool: this.options.spool.path,
    });
  }

  done(): Promise<void> {
    return this.closed;
  }

  async close(reason: string): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    this.log.info('shadow bridge shutting down', { reason });
    for (const [id, call] of this.open)
      this.record(closeCall(call, { failure: `bridge shut down: ${reason}` }), id);
    this.open.clear();
    this.direct.onclose = undefined;
    await this.direct.close().catch(() => undefined);
    await this.host.close().catch(() => undefined);
    await this.drain();
    await this.options.uploader.stop(this.options.shutdownTimeoutMs ?? 2_000);
    this.markClosed();
    return this.closed;
  }

  private onHostMessage(message: JSONRPCMessage): void {
    if (this.closing) return;
    if (isJSONRPCRequest(message)) {
      if (message.method === 'initialize') {
        this.initializeId = message.id;
        const info = (message.params as { clientInfo?: { name?: unknown; version?: unknown } } | undefined)
          ?.clientInfo;
        this.client = {
          ...(typeof info?.name === 'string' ? { name: info.name } : {}),
          ...(typeof info?.version === 'string' ? { version: info.version } : {}),
        };
      }
      if (REPORTED_METHODS.has(message.method)) {
        this.open.set(message.id, openCall(this.options.target.upstream, message));
      }
    }
    this.direct.send(message).catch((error: unknown) => this.onDirectSendFailed(message, error));
  }

  private onDirectSendFailed(message: JSONRPCMessage, error: unknown): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.log.error('could not send to the direct server', { err: detail });
    if (!isJSONRPCRequest(message)) return;
    const call = this.open.get(message.id);
    if (call) {
      this.open.delete(message.id);
      this.record(closeCall(call, { failure: detail }), message.id);
    }
    const failure = new DirectError(
      DirectErrorCode.DIRECT_FAILED,
      `the direct server ${this.options.target.server.name} did not take the request: ${detail}`,
    );
    void this.toHost({ jsonrpc: '2.0', id: message.id, error: directJsonRpcError(failure) });
  }

  private onDirectMessage(message: JSONRPCMessage): void {
    if (isJSONRPCResponse(message) && message.id !== undefined) {
      if (message.id === this.initializeId && 'result' in message) {
        const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
        if (typeof version === 'string') this.direct.setProtocolVersion?.(version);
      }
      const call = this.open.get(message.id);
      if (call) {
        this.open.delete(message.id);
        this.record(closeCall(call, message), message.id);
      }
    }
    void this.toHost(message);
  }

  private record(call: ReturnType<typeof closeCall>, requestId: RequestId): void {
    this.log.debug('shadow call done', { id: requestId, method: call.method, status: call.status });
    this.queue.push({
      ...call,
      mode: 'shadow',
      ...(this.client !== undefined ? { client: this.client } : {}),
    });
    void this.drain();
  }

  /** Appends queued reports to the spool one write at a time, then wakes the uploader. */
  private drain(): Promise<void> {
    this.writing ??= (async () => {
      while (this.queue.length > 0) {
        const entries = this.queue;
        this.queue = [];
        try {
          await this.options.spool.append(...entries);
        } catch (error) {
          // Shadow mode must not break the host, so the call has already been answered; say
          // loudly which reports are lost instead.
          this.log.error('shadow reports NOT recorded', {
            calls: entries.map((entry) => entry.id),
            reason: error instanceof DirectError ? error.code : 'SPOOL_WRITE_FAILED',
            err: error instanceof Error ? error.message : String(error),
          });
        }
      }
      this.options.uploader.kick();
    })().finally(() => {
      this.writing = undefined;
      // A report queued between the last check and now.
      if (this.queue.length > 0) void this.drain();
    });
    return this.writing;
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
}
