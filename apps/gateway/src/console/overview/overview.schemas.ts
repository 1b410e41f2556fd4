import { z } from 'zod';

/**
 * `GET /api/v1/overview`: what the console's Overview shows. The query and the answer are
 * described here once, for validation and for the generated OpenAPI document.
 */
export const overviewQuerySchema = z
  .object({
    /** How far back, in minutes: 5 to 60 (the overview never reads more than an hour). */
    minutes: z.coerce.number().int().min(5).max(60).default(60),
  })
  .strict();
export type OverviewQuery = z.infer<typeof overviewQuerySchema>;

const percentiles = z
  .object({ p50Ms: z.number().nonnegative(), p99Ms: z.number().nonnegative() })
  .nullable()
  .describe('null when no call in the period has this part');

export const overviewMinuteSchema = z.object({
  /** Start of the minute (UTC, ISO 8601). */
  minute: z.iso.datetime(),
  calls: z.number().int().nonnegative(),
  denied: z.number().int().nonnegative(),
  rateLimited: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
});

export const overviewResponseSchema = z.object({
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  /** Counts from the audit trail's outcome records (one per call), across every replica. */
  totals: z.object({
    calls: z.number().int().nonnegative(),
    denied: z.number().int().nonnegative(),
    rateLimited: z.number().int().nonnegative(),
    /** Upstream errors and policy errors. */
    errors: z.number().int().nonnegative(),
    bypassed: z.number().int().nonnegative(),
  }),
  /** One entry per minute of the period, oldest first, minutes without calls included. */
  perMinute: z.array(overviewMinuteSchema),
  /** Latency of forwarded calls, split into the gateway's own time and the upstream's. */
  latency: z.object({ gateway: percentiles, upstream: percentiles }),
  /** Each configured upstream as the replica that answered sees it. */
  upstreams: z.array(
    z.object({
      server: z.string(),
      transport: z.enum(['stdio', 'http']),
      sharing: z.enum(['shared', 'per-session']),
      /** `up`/`down`: the connection's state; `on-demand`: connected per session, none open now. */
      state: z.enum(['up', 'down', 'on-demand']),
    }),
  ),
  /** The audit export, as `GET /api/v1/export/health` reports it. */
  export: z.object({
    enabled: z.boolean(),
    lagAlertSeconds: z.number(),
    sinks: z.array(
      z.object({
        sink: z.string(),
        lagSeconds: z.number().nonnegative(),
        alerting: z.boolean(),
        undelivered: z.number().int().nonnegative(),
        deadLetters: z.number().int().nonnegative(),
        lastSuccessAt: z.iso.datetime().nullable(),
        lastError: z.string().nullable(),
      }),
    ),
  }),
  bypass: z.object({
    /** Grants lifting policy right now (active and not yet expired). */
    active: z.number().int().nonnegative(),
    pendingApproval: z.number().int().nonnegative(),
  }),
  /** Gateway replicas that announced themselves within the period. */
  replicas: z.array(
    z.object({
      id: z.string(),
      hostname: z.string(),
      version: z.string(),
      startedAt: z.iso.datetime(),
      lastSeenAt: z.iso.datetime(),
      /** Heard from within the last three heartbeats. */
      live: z.boolean(),
    }),
  ),
});
export type OverviewResponse = z.infer<typeof overviewResponseSchema>;
