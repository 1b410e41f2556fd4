import { createHash } from 'node:crypto';
import { AUDIT_REDACT_LIMITS, redactBoundedText } from '@gatehouse/observability';
import type { AuditRecord } from '../types';

/** Version tag hashed first, so a future encoding can never collide with this one. */
export const CANONICAL_VERSION = 'gatehouse-audit-v1';

/** `prev_hash` of the first record of every chain: 32 zero bytes. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/** The content columns of `audit_event`, in the order they are hashed. */
export const CONTENT_COLUMNS = [
  'id',
  'kind',
  'call_id',
  'occurred_at',
  'outcome',
  'principal_subject',
  'principal_issuer',
  'principal_kind',
  'principal_name',
  'principal_email',
  'principal_groups',
  'certificate_subject',
  'client_name',
  'client_version',
  'client_bridge_version',
  'client_ip',
  'session',
  'server',
  'tool',
  'method',
  'action',
  'arguments',
  'decision',
  'matched_rules',
  'policy_version',
  'bypass_id',
  'rate_limit',
  'touched',
  'error_code',
  'error_message',
  'gateway_us',
  'upstream_us',
  'response_bytes',
  'trace_id',
  'admin_action',
  'admin_target',
] as const;

export type ContentColumn = (typeof CONTENT_COLUMNS)[number];

/** JSON values only: what a row holds after a round trip through Postgres. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One row's content columns, normalised (ISO times, plain numbers, JSON objects, null for absent). */
export type ContentRow = Record<ContentColumn, Json>;

const INTEGER_COLUMNS = new Set<ContentColumn>([
  'policy_version',
  'error_code',
  'gateway_us',
  'upstream_us',
  'response_bytes',
]);

/**
 * The row the writer stores for `record`, normalised the way it will read back from Postgres.
 * Every string in it, JSON keys included, is made storable here ({@link storableText}): this is the
 * one door every record goes through, whoever built it (pipeline, ingest, admin actions). The
 * texts a client or an upstream chose (a resource URI in `tool`, an upstream's error message, touched
 * resources, the client's name, version and bridge version, the method, a trace id taken from a
 * header, an admin target) are also scanned for secrets here
 * (R20), bounded and marked like arguments; arguments are redacted where records are built, since
 * configured paths apply to them.
 */
export function contentRow(record: AuditRecord): ContentRow {
  const p = record.principal;
  const c = record.client;
  const int = (n: number | undefined) => (n === undefined ? null : Math.round(n));
  // Column by column rather than one walk over a built row: this runs for every record.
  const text = (value: string | undefined) => (value === undefined ? null : storableText(value));
  const texts = (values: readonly string[]) => values.map(storableText);
  const chosen = (value: string | undefined) => (value === undefined ? null : storableText(scrub(value)));
  return {
    id: storableText(record.id.toLowerCase()),
    kind: storableText(record.kind),
    call_id: storableText(record.callId),
    occurred_at: record.occurredAt.toISOString(),
    outcome: storableText(record.outcome),
    principal_subject: storableText(p.subject),
    principal_issuer: storableText(p.issuer),
    principal_kind: storableText(p.kind),
    principal_name: text(p.name),
    principal_email: text(p.email),
    principal_groups: texts(p.groups),
    certificate_subject: text(p.certificateSubject),
    client_name: chosen(c.name),
    client_version: chosen(c.version),
    client_bridge_version: chosen(c.bridgeVersion),
    client_ip: text(c.ip),
    session: text(record.session),
    server: text(record.server),
    tool: chosen(record.tool),
    method: storableText(scrub(record.method)),
    action: text(record.action),
    arguments: jsonOrNull(record.arguments),
    decision: text(record.decision),
    matched_rules: texts(record.matchedRules),
    policy_version: int(record.policyVersion),
    bypass_id: text(record.bypassId),
    rate_limit: jsonOrNull(record.rateLimit),
    touched: record.touched.map((t) => storableText(scrub(t))),
    error_code: int(record.errorCode),
    error_message: chosen(record.errorMessage),
    gateway_us: int(record.gatewayUs),
    upstream_us: int(record.upstreamUs),
    response_bytes: int(record.responseBytes),
    trace_id: chosen(record.traceId),
    admin_action: text(record.adminAction),
    admin_target: chosen(record.adminTarget),
  };
}

function scrub(value: string): string {
  return redactBoundedText(value, AUDIT_REDACT_LIMITS.maxStringScan);
}

/** The content columns of a row as `pg` returns it (Dates, bigint strings), normalised. */
export function contentRowFromDb(row: Record<string, unknown>): ContentRow {
  const out = {} as Record<ContentColumn, Json>;
  for (const column of CONTENT_COLUMNS) {
    const value = row[column];
    if (value === null || value === undefined) out[column] = null;
    else if (value instanceof Date) out[column] = value.toISOString();
    else if (INTEGER_COLUMNS.has(column)) out[column] = Number(value);
    else out[column] = value as Json;
  }
  return out;
}

/**
 * The canonical encoding: the UTF-8 JSON text of the array
 * `[CANONICAL_VERSION, writer_id, seq, ...content columns in CONTENT_COLUMNS order]`, where
 * objects have their keys sorted (by UTF-16 code units) at every depth, times are ISO 8601 UTC
 * with milliseconds, absent values are `null`, and there is no whitespace.
 */
export function canonical(writerId: string, seq: number, row: ContentRow): string {
  return stable([CANONICAL_VERSION, writerId.toLowerCase(), seq, ...CONTENT_COLUMNS.map((c) => row[c])]);
}

/** `sha256(prev_hash || canonical(row))`. */
export function chainHash(prevHash: Buffer, writerId: string, seq: number, row: ContentRow): Buffer {
  return createHash('sha256')
    .update(prevHash)
    .update(canonical(writerId, seq, row), 'utf8')
    .digest();
}

/** A row as `audit_event` takes it: the content columns and the chain columns. */
export type ChainedRow = ContentRow & { writer_id: string; seq: number; prev_hash: string; hash: string };

/**
 * `record` as the `seq`-th row of chain `writerId`, after the record whose hash is `prev`: its
 * stored row (content and chain columns, hashes as bytea hex) and its own hash, which the next
 * record chains after.
 */
export function chainedRow(
  record: AuditRecord,
  writerId: string,
  seq: number,
  prev: Buffer,
): { row: ChainedRow; hash: Buffer } {
  const content = contentRow(record);
  const hash = chainHash(prev, writerId, seq, content);
  // Adding the chain columns in place: copying the row into a new object costs more than the hash.
  const row = content as ChainedRow;
  row.writer_id = writerId;
  row.seq = seq;
  row.prev_hash = byteaHex(prev);
  row.hash = byteaHex(hash);
  return { row, hash };
}

function byteaHex(bytes: Buffer): string {
  return `\\x${bytes.toString('hex')}`;
}

/** JSON text with object keys sorted at every depth; built by concatenation (it runs per record). */
function stable(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + stable(value[i] as Json);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    out += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:${stable(value[key] as Json)}`;
  }
  return `${out}}`;
}

/** A JSON round trip: drops undefined and functions, turns Dates into strings, as jsonb would. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
// NUL is what Postgres text cannot hold: matching it is the point of this expression.
// eslint-disable-next-line no-control-regex
const NUL_OR_SURROGATE = /[\u0000\uD800-\uDFFF]/;
const ESCAPED_NUL_OR_SURROGATE = /\\u(?:0000|d[89a-f])/i;

/**
 * `value` as Postgres can store it: NUL (text cannot hold it) and lone UTF-16 surrogates (jsonb
 * refuses their `\ud800` escapes) become U+FFFD. The writer sends a whole group-commit batch as
 * one jsonb parameter, so one such string from a client or an upstream would otherwise fail every
 * caller's records in that batch.
 */
export function storableText(value: string): string {
  // Almost every string has neither; one scan settles it.
  if (!NUL_OR_SURROGATE.test(value)) return value;
  const text = value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

function storable(value: Json): Json {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[storableText(k)] = storable(v);
    return out;
  }
  return value;
}

/**
 * A JSON round trip (as jsonb would store it), made storable. JSON.stringify escapes NUL and lone
 * surrogates (`\u0000`, `\ud800`), so text without such an escape needs no walk at all.
 */
function jsonOrNull(value: Record<string, unknown> | undefined): Json {
  if (value === undefined) return null;
  const json = JSON.stringify(value);
  const parsed = JSON.parse(json) as Json;
  return ESCAPED_NUL_OR_SURROGATE.test(json) ? storable(parsed) : parsed;
}
