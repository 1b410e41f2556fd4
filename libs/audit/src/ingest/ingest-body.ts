import { z } from 'zod';
import { SERVER_NAME } from '@gatehouse/config';
import {
  INGEST_DEFAULT_MAX_AGE_MS,
  INGEST_MAX_CALLS,
  INGEST_MAX_DURATION_MS,
  INGEST_MAX_ERROR_MESSAGE,
  INGEST_MAX_FUTURE_MS,
  INGEST_MAX_PARAMS_BYTES,
  INGEST_METHODS,
  type IngestRequest,
} from './contract';
import { IngestError, IngestErrorCode, type IngestIssue } from './ingest-error';

/** Deepest nesting accepted in a call's params (the MCP endpoint's default `server.maxJsonDepth`). */
const MAX_PARAMS_DEPTH = 64;

const nonEmpty = (max: number) => z.string().min(1, 'must not be empty').max(max);
const object = z.record(z.string(), z.unknown());

/** What each method's params must carry for the policy to decide and the trail to name the call. */
const PARAMS_BY_METHOD: Partial<Record<(typeof INGEST_METHODS)[number], z.ZodType>> = {
  'tools/call': z.looseObject({ name: nonEmpty(500), arguments: object.optional() }),
  'prompts/get': z.looseObject({ name: nonEmpty(500), arguments: object.optional() }),
  'resources/read': z.looseObject({ uri: nonEmpty(4096) }),
  'resources/subscribe': z.looseObject({ uri: nonEmpty(4096) }),
  'resources/unsubscribe': z.looseObject({ uri: nonEmpty(4096) }),
  'completion/complete': z.looseObject({
    ref: z.union([
      z.looseObject({ type: z.literal('ref/prompt'), name: nonEmpty(500) }),
      z.looseObject({ type: z.literal('ref/resource'), uri: nonEmpty(4096) }),
    ]),
  }),
};

function depth(value: unknown, level = 0): number {
  if (level > MAX_PARAMS_DEPTH || value === null || typeof value !== 'object') return level;
  let deepest = level + 1;
  for (const v of Object.values(value)) deepest = Math.max(deepest, depth(v, level + 1));
  return deepest;
}

const call = z
  .strictObject({
    id: z.uuid('must be a UUID'),
    server: z
      .string()
      .regex(
        SERVER_NAME,
        'a gateway upstream name: a-z, 0-9 and "-", starting with a letter (bridge: --as <name>)',
      ),
    method: z.enum(INGEST_METHODS, `must be one of ${INGEST_METHODS.join(', ')}`),
    params: object,
    startedAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with an offset' }),
    durationMs: z.number().finite().min(0).max(INGEST_MAX_DURATION_MS),
    status: z.enum(['ok', 'error']),
    errorCode: z.number().int().optional(),
    errorMessage: z.string().max(INGEST_MAX_ERROR_MESSAGE).optional(),
    responseBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.status === 'error' && c.errorCode === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['errorCode'],
        message: 'required when status is error (-32603 for a transport failure of the direct server)',
      });
    }
    if (c.status === 'ok' && (c.errorCode !== undefined || c.errorMessage !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.errorCode !== undefined ? 'errorCode' : 'errorMessage'],
        message: 'only for status error',
      });
    }
    const shape = PARAMS_BY_METHOD[c.method];
    const checked = shape?.safeParse(c.params);
    for (const issue of checked && !checked.success ? checked.error.issues : []) {
      ctx.addIssue({ code: 'custom', path: ['params', ...issue.path], message: issue.message });
    }
    if (depth(c.params) > MAX_PARAMS_DEPTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['params'],
        message: `nested deeper than ${MAX_PARAMS_DEPTH} levels`,
      });
    } else if (Buffer.byteLength(JSON.stringify(c.params)) > INGEST_MAX_PARAMS_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['params'],
        message: `larger than ${INGEST_MAX_PARAMS_BYTES} bytes as JSON`,
      });
    }
  })
  .meta({ id: 'IngestCall' });

/** `POST /api/v1/audit/ingest`: the contract's shapes and limits (the time window and upstreams are checked after). */
export const ingestBody = z
  .strictObject({
    mode: z.enum(['shadow', 'fallback'], 'must be shadow or fallback'),
    // Hosts fill clientInfo as they please: bounded, but an empty value is no reason to refuse a spool.
    client: z
      .strictObject({ name: z.string().max(200).optional(), version: z.string().max(200).optional() })
      .optional(),
    bridgeVersion: z.string().max(100).optional(),
    calls: z
      .array(call)
      .min(1, 'at least one call')
      .max(INGEST_MAX_CALLS, `at most ${INGEST_MAX_CALLS} calls per request; upload the rest in another`),
  })
  .meta({ id: 'IngestRequest' });

/** `calls[3].params.name` from zod's `['calls', 3, 'params', 'name']`. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, part) =>
      typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part),
    '',
  );
}

/** What a gateway takes beyond the contract's shapes: its time window and its upstreams. */
export interface IngestLimits {
  /** Oldest `startedAt` taken, before `now` (default {@link INGEST_DEFAULT_MAX_AGE_MS}). */
  maxAgeMs?: number;
  /** Latest start or end taken, after `now` (default {@link INGEST_MAX_FUTURE_MS}). */
  maxFutureMs?: number;
  /** The gateway's upstream names; absent: any valid name (the bridge's own checks). */
  servers?: ReadonlySet<string>;
}

/** `7 days`, `36 hours`, `90 s`: a window as people read it. */
function span(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hours`;
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Reads an ingest body (all of it, or nothing): the contract's shapes and limits; each call's
 * `startedAt` at most `maxAgeMs` old, and its start and end (`startedAt + durationMs`) at most
 * `maxFutureMs` ahead of `now`; each `server` one of `servers`. Throws INVALID_REQUEST naming
 * every offending call index and field.
 */
export function parseIngestRequest(value: unknown, now: Date, limits: IngestLimits = {}): IngestRequest {
  const maxAgeMs = limits.maxAgeMs ?? INGEST_DEFAULT_MAX_AGE_MS;
  const maxFutureMs = limits.maxFutureMs ?? INGEST_MAX_FUTURE_MS;
  const result = ingestBody.safeParse(value ?? undefined);
  const issues: IngestIssue[] = result.success
    ? []
    : result.error.issues.map((i) => ({
        path: pathOf(i.path) || 'body',
        message: i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : i.message,
      }));
  if (result.success) {
    result.data.calls.forEach((c, index) => {
      const at = Date.parse(c.startedAt);
      if (at > now.getTime() + maxFutureMs) {
        issues.push({
          path: `calls[${index}].startedAt`,
          message: `more than ${span(maxFutureMs)} in the future (check the bridge's clock)`,
        });
      } else if (at + c.durationMs > now.getTime() + maxFutureMs) {
        // The outcome record is stamped startedAt + durationMs: it must not lie in the future either.
        issues.push({
          path: `calls[${index}].durationMs`,
          message: `the call would end more than ${span(maxFutureMs)} in the future (startedAt + durationMs)`,
        });
      } else if (at < now.getTime() - maxAgeMs) {
        issues.push({
          path: `calls[${index}].startedAt`,
          message: `older than ${span(maxAgeMs)} (audit.ingest.maxAgeHours); such calls are not accepted by the endpoint`,
        });
      }
      if (limits.servers && !limits.servers.has(c.server)) {
        issues.push({
          path: `calls[${index}].server`,
          message: `this gateway has no upstream named "${c.server}"; report calls under the upstream name the gateway uses (bridge: --as <name>)`,
        });
      }
    });
  }
  if (!result.success || issues.length > 0) {
    const shown = issues.slice(0, 20);
    throw new IngestError(
      IngestErrorCode.INVALID_REQUEST,
      `invalid ingest request, nothing stored: ${shown.map((i) => `${i.path}: ${i.message}`).join('; ')}${
        issues.length > shown.length ? `; and ${issues.length - shown.length} more` : ''
      }`,
      shown,
    );
  }
  return result.data;
}
