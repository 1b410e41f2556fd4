import { z } from 'zod';

/** The answers of the audit API (events, summaries, ingest, export health) as zod schemas. */

const nstr = z.string().nullable();
const nint = z.number().int().nullable();

export const auditEventSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    callId: z.string(),
    occurredAt: z.string().meta({ description: 'UTC with microseconds, e.g. 2026-03-05T16:00:00.000000Z' }),
    outcome: z.string(),
    principal: z.object({
      subject: z.string(),
      name: nstr,
      email: nstr,
      groups: z.array(z.string()),
      certificateSubject: nstr,
    }),
    client: z
      .object({ name: nstr, version: nstr, bridgeVersion: nstr, ip: nstr })
      .meta({ description: 'MCP clientInfo for calls; for admin actions name is the user agent' }),
    session: nstr,
    server: nstr,
    tool: nstr,
    method: z.string().meta({ description: 'JSON-RPC method; HTTP method (or startup) for admin records' }),
    action: nstr,
    arguments: z.unknown().meta({ description: 'Redacted (configured paths and secret-looking values)' }),
    decision: nstr,
    matchedRules: z.array(z.string()),
    policyVersion: nint,
    bypassId: nstr,
    rateLimit: z.unknown(),
    touched: z.array(z.string()),
    errorCode: nint,
    errorMessage: nstr,
    gatewayUs: nint,
    upstreamUs: nint,
    responseBytes: nint,
    traceId: nstr,
    adminAction: nstr.meta({ description: 'e.g. policy.approve, console.login, audit.query' }),
    adminTarget: nstr,
    writerId: nstr,
    seq: nstr.meta({ description: 'Position in the writer chain (decimal string)' }),
    hash: nstr.meta({ description: 'SHA-256 of the chained record, hex' }),
  })
  .meta({ id: 'AuditEvent' });

export const eventPageSchema = z
  .object({
    events: z.array(auditEventSchema),
    nextCursor: nstr.meta({ description: 'Pass as cursor for the next, older page; null on the last' }),
  })
  .meta({ id: 'AuditEventPage' });

const entry = {
  calls: z.number().int().min(0),
  refused: z.number().int().min(0).meta({ description: 'Denied, rate limited or policy error' }),
  first: z.string(),
  last: z.string(),
};

export const activitySummarySchema = z
  .object({
    subject: z.string(),
    period: z
      .object({ from: z.string(), to: z.string(), timeZone: z.string(), phrase: nstr })
      .meta({ description: 'The exact interval used: [from, to)' }),
    calls: z.number().int().min(0),
    servers: z.array(z.object({ server: z.string(), ...entry })),
    tools: z.array(z.object({ server: z.string(), tool: z.string(), ...entry })),
    resources: z.array(
      z.object({
        server: z.string(),
        resource: z.string().meta({ description: 'Table, path or repository' }),
        ...entry,
      }),
    ),
  })
  .meta({ id: 'ActivitySummary' });

export const ingestResponseSchema = z
  .object({
    stored: z.number().int().min(0),
    duplicates: z.number().int().min(0),
    decisions: z.array(
      z.object({
        id: z.string(),
        decision: z.enum(['allow', 'deny', 'shadow-deny']),
        reason: z.string(),
        matchedRules: z.array(z.string()),
        policyVersion: z.number().int().optional(),
        stored: z.boolean().meta({ description: 'false when an earlier upload already stored this id' }),
      }),
    ),
  })
  .meta({ id: 'IngestResponse' });

export const exportHealthSchema = z
  .object({
    enabled: z.boolean(),
    lagAlertSeconds: z.number().meta({ description: 'export.lagAlertSeconds' }),
    gapAlertSeconds: z.number().meta({ description: 'export.reconcile.gapAlertSeconds (R22)' }),
    sinks: z.array(
      z
        .object({
          sink: z.string().meta({ description: 's3, siem-<name>, or the alerts sink' }),
          lagSeconds: z
            .number()
            .meta({ description: 'Age of the oldest undelivered record (0: nothing waits)' }),
          alerting: z.boolean().meta({ description: 'lagSeconds is above lagAlertSeconds (R32)' }),
          undelivered: z.number().int(),
          oldestUndelivered: nstr,
          pendingBatches: z.number().int(),
          lastSuccessAt: nstr,
          lastError: nstr,
          lastErrorAt: nstr,
          deadLetters: z.array(
            z.object({
              job: z.string(),
              writerId: z.string(),
              firstSeq: z.number(),
              lastSeq: z.number(),
              attempts: z.number().int(),
              lastError: nstr,
              failedAt: z.string(),
              retryAt: z.string().meta({ description: 'When the relay retries it by itself' }),
            }),
          ),
          acknowledgement: nstr.meta({
            description: 'What counts as this sink having taken a batch (null for the alerts sink)',
          }),
          reconcile: z
            .object({
              checkedAt: z.string(),
              source: z.enum(['bucket', 'acknowledgements']),
              periodFrom: z.string(),
              periodTo: z.string(),
              postgresRecords: z.number().int(),
              heldRecords: z.number().int(),
              missingRecords: z.number().int(),
              oldestMissing: nstr,
              gapAlert: z.boolean(),
              gapSince: nstr,
              reshipped: z.number().int(),
              error: nstr,
            })
            .nullable()
            .meta({
              description: "The reconciler's last comparison with Postgres (R22); null before its first pass",
            }),
        })
        .meta({ id: 'SinkHealth' }),
    ),
  })
  .meta({ id: 'ExportHealth' });
