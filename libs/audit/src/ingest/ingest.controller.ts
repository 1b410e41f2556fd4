import { Body, Controller, Header, HttpCode, Inject, Ip, Post, UseFilters } from '@nestjs/common';
import { Authenticated, Caller, type ConsoleCaller } from '@gatehouse/auth';
import { INGEST_PATH, type IngestResponse } from './contract';
import { parseIngestRequest } from './ingest-body';
import { IngestErrorFilter } from './ingest-error';
import { IngestService } from './ingest.service';

/** Injectable clock for the `startedAt` bounds. */
export const INGEST_CLOCK = Symbol('INGEST_CLOCK');

/**
 * `POST /api/v1/audit/ingest`: a bridge reports calls it ran itself on a direct server (shadow
 * migration, offline fallback). Any authenticated caller; the records are the caller's. 200 means
 * every call is in the trail (stored now or before); 400 and 503 mean nothing of the request was
 * acknowledged.
 */
@Controller()
@UseFilters(IngestErrorFilter)
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(INGEST_CLOCK) private readonly clock: () => Date,
  ) {}

  @Post(INGEST_PATH)
  @HttpCode(200)
  @Authenticated()
  @Header('cache-control', 'no-store')
  report(@Body() body: unknown, @Caller() caller: ConsoleCaller, @Ip() ip: string): Promise<IngestResponse> {
    const request = parseIngestRequest(body, this.clock());
    return this.ingest.ingest({ principal: caller.principal, ...(ip ? { ip } : {}) }, request);
  }
}
