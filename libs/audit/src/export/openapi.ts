import { openApi, type OpenApiFragment } from '@gatehouse/policy';

const { errorResponses, json, nullable, ref } = openApi;

/**
 * The audit export's health route (issue 6, served by `@gatehouse/audit`'s export module): the
 * backlog of each sink, for the console and monitoring (R32).
 */

const ERRORS: Record<number, string> = {
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED: needs the console role auditor or admin',
};

const EXPORT_PATHS = {
  '/api/v1/export/health': {
    get: {
      tags: ['audit'],
      operationId: 'getExportHealth',
      summary:
        "Per export sink (S3, SIEM): lag, backlog, last success and error, dead letters, and the reconciler's last comparison with Postgres (roles: auditor, admin)",
      description:
        'Read from the outbox tables, so every replica answers the same whoever exports (the worker, or the gateway with export.inProcess).',
      responses: {
        '200': { description: 'The export health', content: json(ref('ExportHealth')) },
        ...errorResponses(ERRORS, 401, 403),
      },
    },
  },
};

const time = { type: 'string', format: 'date-time' };

const EXPORT_SCHEMAS = {
  ExportHealth: {
    type: 'object',
    required: ['enabled', 'lagAlertSeconds', 'gapAlertSeconds', 'sinks'],
    properties: {
      enabled: { type: 'boolean' },
      lagAlertSeconds: { type: 'number', description: 'export.lagAlertSeconds' },
      gapAlertSeconds: { type: 'number', description: 'export.reconcile.gapAlertSeconds (R22)' },
      sinks: { type: 'array', items: ref('ExportSinkHealth') },
    },
  },
  ExportSinkHealth: {
    type: 'object',
    required: [
      'sink',
      'lagSeconds',
      'alerting',
      'undelivered',
      'oldestUndelivered',
      'pendingBatches',
      'lastSuccessAt',
      'lastError',
      'lastErrorAt',
      'deadLetters',
      'acknowledgement',
      'reconcile',
    ],
    properties: {
      sink: { type: 'string', description: 's3, siem-<name>, or the alerts sink' },
      lagSeconds: { type: 'number', description: 'Age of the oldest undelivered record (0: nothing waits)' },
      alerting: { type: 'boolean', description: 'lagSeconds is above lagAlertSeconds (R32)' },
      undelivered: { type: 'integer', minimum: 0 },
      oldestUndelivered: nullable(time),
      pendingBatches: { type: 'integer', minimum: 0 },
      lastSuccessAt: nullable(time),
      lastError: nullable({ type: 'string' }),
      lastErrorAt: nullable(time),
      deadLetters: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            'job',
            'writerId',
            'firstSeq',
            'lastSeq',
            'attempts',
            'lastError',
            'failedAt',
            'retryAt',
          ],
          properties: {
            job: { type: 'string' },
            writerId: { type: 'string' },
            firstSeq: { type: 'integer' },
            lastSeq: { type: 'integer' },
            attempts: { type: 'integer' },
            lastError: nullable({ type: 'string' }),
            failedAt: time,
            retryAt: { ...time, description: 'When the relay retries it by itself' },
          },
        },
      },
      acknowledgement: nullable({
        type: 'string',
        description: 'What counts as the sink having taken a batch (null for the alerts sink)',
      }),
      reconcile: nullable(ref('ExportReconcile')),
    },
  },
  ExportReconcile: {
    type: 'object',
    description: "The reconciler's last pass for the sink (R22); null before its first",
    required: [
      'checkedAt',
      'source',
      'periodFrom',
      'periodTo',
      'postgresRecords',
      'heldRecords',
      'missingRecords',
      'oldestMissing',
      'gapAlert',
      'gapSince',
      'reshipped',
      'error',
    ],
    properties: {
      checkedAt: time,
      source: {
        type: 'string',
        enum: ['bucket', 'acknowledgements'],
        description:
          'bucket: compared with the S3 listing; acknowledgements: with what the sink acknowledged',
      },
      periodFrom: time,
      periodTo: time,
      postgresRecords: { type: 'integer', minimum: 0, description: 'Records that occurred in the period' },
      heldRecords: { type: 'integer', minimum: 0, description: 'Of those, the records the sink holds' },
      missingRecords: { type: 'integer', minimum: 0 },
      oldestMissing: nullable(time),
      gapAlert: { type: 'boolean', description: 'A missing record is older than gapAlertSeconds' },
      gapSince: nullable(time),
      reshipped: { type: 'integer', minimum: 0, description: 'Batches the bucket lost, shipped again' },
      error: nullable({ type: 'string', description: 'Why the bucket could not be listed' }),
    },
  },
};

/** The export's part of the admin API's OpenAPI document; the gateway merges it in. */
export const EXPORT_OPENAPI: OpenApiFragment = { paths: EXPORT_PATHS, schemas: EXPORT_SCHEMAS };
