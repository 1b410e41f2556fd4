import type { Logger, Metrics } from '@gatehouse/observability';

/**
 * Whether this replica is using Redis for its limits or its own degraded share (R28). Every
 * limiter call reports here; the gauge and one warn log follow each transition, and the first
 * call Redis answers again ends the degraded mode (no timer, no manual reset).
 */
export class RedisHealth {
  private down = false;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly degradedShare: number,
  ) {
    this.metrics?.rateLimitDegraded.set(0);
  }

  get degraded(): boolean {
    return this.down;
  }

  /** Redis failed or did not answer within the bound. */
  fail(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.metrics?.rateLimitDegraded.set(1);
    this.logger.warn(
      { err, degradedShare: this.degradedShare },
      'rate limits degraded: Redis is unreachable or slow; this replica now allows its share of every limit on its own',
    );
  }

  /** Redis answered. */
  ok(): void {
    if (!this.down) return;
    this.down = false;
    this.metrics?.rateLimitDegraded.set(0);
    this.logger.warn('rate limits recovered: Redis answers again; limits are shared across replicas');
  }
}

/** A Redis answer that did not come within the bound (R29). */
export class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeout';
  }
}

/** `work` (which rejects with Errors only), or a {@link RedisTimeout} after `ms`; a late answer is ignored. */
export function within<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeout(ms)), Math.max(0, ms));
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
