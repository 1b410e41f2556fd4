import { Body, Controller, Header, HttpCode, Inject, Ip, Post, UseFilters } from '@nestjs/common';
import { Authenticated, Caller, type ConsoleCaller } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { INGEST_PATH, type IngestResponse } from './contract';
import { parseIngestRequest } from './ingest-body';
import { IngestErrorFilter } from './ingest-error';
import { IngestLimiter } from './ingest-limiter';
import { IngestService } from './ingest.service';

/** Injectable clock for the `startedAt` bounds. */
export const INGEST_CLOCK = Symbol('INGEST_CLOCK');

/**
 * `POST /api/v1/audit/ingest`: a bridge reports calls it ran itself on a direct server (shadow
 * migration, offline fallback). Any authenticated caller; the records are the caller's, for the
 * gateway's own upstreams, within `audit.ingest`'s time window and rate. 200 means every call is
 * in the trail (stored now or before); 400, 429 and 503 mean nothing of the request was
 * acknowledged.
 */
@Controller()
@UseFilters(IngestErrorFilter)
export class IngestController {
  private readonly servers: ReadonlySet<string>;

  constructor(
    private readonly ingest: IngestService,
    private readonly limiter: IngestLimiter,
    @Inject(INGEST_CLOCK) private readonly clock: () => Date,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
  ) {
    this.servers = new Set(Object.keys(config.upstreams));
  }

  @Post(INGEST_PATH)
  @HttpCode(200)
  @Authenticated()
  @Header('cache-control', 'no-store')
  report(@Body() body: unknown, @Caller() caller: ConsoleCaller, @Ip() ip: string): Promise<IngestResponse> {
    const { maxAgeHours, maxFutureSeconds } = this.config.audit.ingest;
    // The limit comes before the body is read: a refused request costs one Redis round trip.
    return this.limiter.run(caller.principal, () => {
      const request = parseIngestRequest(body, this.clock(), {
        maxAgeMs: maxAgeHours * 3_600_000,
        maxFutureMs: maxFutureSeconds * 1000,
        servers: this.servers,
      });
      return this.ingest.ingest({ principal: caller.principal, ...(ip ? { ip } : {}) }, request);
    });
  }
}
