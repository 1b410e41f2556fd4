import type { IngestCall, IngestRequest, IngestResponse } from '@gatehouse/audit';

import type { Logger } from '../bridge/logger';
import { IngestError, type IngestClient } from './ingest-client';
import type { Spool } from './spool';

export interface UploaderOptions {
  spool: Spool;
  client: IngestClient;
  log: Logger;
  /** Delay after a kick before uploading, so calls close together share one request. */
  batchDelayMs?: number;
  /** Longest wait between attempts while the gateway does not take the spool. */
  maxRetryDelayMs?: number;
}

/**
 * Uploads the spool to the gateway in the background: shortly after each new entry, and with
 * growing delays while the gateway does not take it. Each decision that comes back is logged;
 * a would-be deny as a warning naming the reason and rules, which is what shadow mode is for.
 */
export class SpoolUploader {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private failures = 0;
  /** The gateway's `Retry-After` after a 429: the next attempt waits at least this long. */
  private notBeforeMs = 0;
  private stopped = false;
  private readonly batchDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly options: UploaderOptions) {
    this.batchDelayMs = options.batchDelayMs ?? 200;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  /** Something was spooled: upload soon. */
  kick(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule(this.failures === 0 ? this.batchDelayMs : this.retryDelay());
  }

  /**
   * Uploads the whole spool now. Resolves true when the gateway took everything (or there was
   * nothing), false when it could not be reached or refused; never rejects.
   */
  flush(): Promise<boolean> {
    this.running ??= this.upload().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops scheduling; a last upload gets `graceMs` to finish (what it does not send stays spooled). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().then((done) => {
        if (!done && !this.stopped) this.schedule(this.retryDelay());
      });
    }, delayMs);
    this.timer.unref();
  }

  private retryDelay(): number {
    const backoff = Math.min(this.maxRetryDelayMs, 500 * 2 ** Math.min(this.failures, 10));
    return Math.max(backoff, this.notBeforeMs);
  }

  private async upload(): Promise<boolean> {
    const { spool, log } = this.options;
    try {
      const result = await spool.upload((request) => this.send(request));
      if (result === undefined) {
        log.debug('another bridge is uploading the spool', { spool: spool.path });
        return false;
      }
      if (this.failures > 0) log.info('the gateway takes reports again', { url: this.options.client.url });
      this.failures = 0;
      this.notBeforeMs = 0;
      if (result.acknowledged > 0) {
        log.info('reports uploaded', { calls: result.acknowledged, remaining: result.remaining });
      }
      return result.remaining === 0;
    } catch (error) {
      this.failures++;
      const message = error instanceof Error ? error.message : String(error);
      const pending = await spool
        .read()
        .then((entries) => entries.length)
        .catch(() => undefined);
      this.notBeforeMs = 0;
      if (error instanceof IngestError && error.status === 429) {
        // Not a failure of the gateway: a big spool uploads at the gateway's pace.
        this.notBeforeMs = error.retryAfterMs ?? 1000;
        log.info('the gateway limits how fast reports upload; the rest stay in the spool', {
          pending,
          retryInMs: this.notBeforeMs,
        });
      } else if (error instanceof IngestError && error.unreachable) {
        if (this.failures === 1)
          log.warn('gateway unreachable; reports stay in the spool', { pending, err: message });
      } else {
        log.error('reports not uploaded; they stay in the spool', {
          pending,
          spool: spool.path,
          err: message,
        });
      }
      return false;
    }
  }

  private async send(request: IngestRequest): Promise<IngestResponse> {
    const response = await this.options.client.send(request);
    const calls = new Map<string, IngestCall>(request.calls.map((call) => [call.id, call]));
    for (const decision of response.decisions) {
      const call = calls.get(decision.id);
      const fields = {
        mode: request.mode,
        id: decision.id,
        server: call?.server,
        method: call?.method,
        ...(typeof call?.params.name === 'string' ? { name: call.params.name } : {}),
        ...(typeof call?.params.uri === 'string' ? { uri: call.params.uri } : {}),
        reason: decision.reason,
        rules: decision.matchedRules,
        ...(decision.policyVersion !== undefined ? { policyVersion: decision.policyVersion } : {}),
      };
      if (decision.decision === 'allow') {
        this.options.log.debug('the gateway would allow this call', fields);
      } else {
        this.options.log.warn(
          `the gateway's policy would DENY this ${request.mode} call (it ran on the direct server)`,
          fields,
        );
      }
    }
    return response;
  }
}
