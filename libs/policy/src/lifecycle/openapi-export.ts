import { errorResponses, json, nullable, ref } from './openapi-common';

/**
 * The audit export's health route (issue 6, served by `@gatehouse/audit`'s export module): the
 * backlog of each sink, for the console and monitoring (R32).
 */

const ERRORS: Record<number, string> = {
  401: 'NOT_SIGNED_IN / SESSION_ENDED / TOKEN_REJECTED (with WWW-Authenticate)',
  403: 'ROLE_REQUIRED: needs the console role auditor or admin',
};

export const EXPORT_PATHS = {
  '/api/v1/export/health': {
    get: {
      tags: ['audit'],
      operationId: 'getExportHealth',
      summary:
        'Per export sink (S3, SIEM): lag, backlog, last success and error, dead letters (roles: auditor, admin)',
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

export const EXPORT_SCHEMAS = {
  ExportHealth: {
    type: 'object',
    required: ['enabled', 'lagAlertSeconds', 'sinks'],
    properties: {
      enabled: { type: 'boolean' },
      lagAlertSeconds: { type: 'number', description: 'export.lagAlertSeconds' },
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
    },
  },
};
