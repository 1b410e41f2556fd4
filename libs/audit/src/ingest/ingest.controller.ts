import { Body, Controller, Header, HttpCode, Inject, Ip, Post, UseFilters } from '@nestjs/common';
import { ApiRoute, apiError, Authenticated, Caller, ok, type ConsoleCaller } from '@gatehouse/auth';
import { ingestResponseSchema } from '../api-schemas';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { INGEST_MAX_CALLS, INGEST_PATH, type IngestResponse } from './contract';
import { ingestBody, parseIngestRequest } from './ingest-body';
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
  @ApiRoute({
    tag: 'audit',
    operationId: 'ingestBridgeCalls',
    summary:
      "Calls a bridge ran on a direct server, reported in shadow or fallback mode (any authenticated caller: the bridge's token; the records are the caller's)",
    description: `Shadow mode reports each call as it happens; fallback mode uploads the spool of calls made while the gateway was unreachable, oldest first, at most ${INGEST_MAX_CALLS} per request. The gateway decides each call with the active policy (never forwarding anything upstream) and records it with outcome shadow or fallback and the original times. A call id uploaded twice is stored once. A body that breaks the contract (1 to ${INGEST_MAX_CALLS} calls, known methods, a server the gateway has an upstream for, startedAt at most audit.ingest.maxAgeHours old and start and end at most audit.ingest.maxFutureSeconds ahead, unknown fields refused) is refused with 400 INVALID_REQUEST, \`issues\` naming each call index and field; nothing of the request is stored.`,
    body: ingestBody,
    responses: {
      200: ok('What was stored and what policy says of each call', ingestResponseSchema),
      413: {
        description: 'The body is over server.bodyLimitBytes (default 4 MiB): split the spool by size too',
      },
    },
    errors: {
      429: apiError(
        'over audit.ingest.perPrincipalPerMinute requests a minute or inFlightPerPrincipal at once for this principal; Retry-After says when to retry; nothing of the request is stored',
        'RATE_LIMITED',
      ),
      503: apiError(
        'the records could not be committed; nothing was stored, upload again',
        'AUDIT_UNAVAILABLE',
      ),
    },
  })
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
