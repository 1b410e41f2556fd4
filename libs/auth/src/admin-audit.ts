import { SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './principal';

/**
 * The port through which admin actions (policy transitions, console sign-in and sign-out, session
 * revocation, audit queries) reach the audit trail (issue 5 point 5). It lives here, in the lowest
 * lib that both the policy and the console code depend on; `@gatehouse/audit` implements it and
 * provides it globally under {@link ADMIN_AUDIT}.
 *
 * The rule it serves: an admin action takes effect only after its "attempt" record is committed.
 * {@link AdminAudit.begin} resolves once that record is durable and rejects with
 * {@link AdminAuditUnavailableError} when it cannot be; the caller then refuses the action (HTTP
 * 503 `AUDIT_UNAVAILABLE`) and changes nothing. The ending record is queued, not awaited.
 */
export interface AdminAudit {
  /** Commits the attempt record (outcome `allowed`); rejects with {@link AdminAuditUnavailableError}. */
  begin(entry: AdminAuditEntry): Promise<AdminAuditTicket>;
  /**
   * Records an action refused before it ran (outcome `denied`, e.g. a missing console role), as
   * one record. Never rejects: the action is refused whatever happens to the record.
   */
  refused(entry: AdminAuditEntry, refusal: AdminAuditFailure): Promise<void>;
}

/** The attempt of one action; {@link done} writes its ending record with the same call id. */
export interface AdminAuditTicket {
  readonly callId: string;
  /** Queues the ending record (`ok`, or `error` with code and message); never throws. */
  done(result: AdminAuditResult): void;
}

/** Who acted: a person or service from a token or console session, or the gateway itself. */
export interface AdminActor {
  kind: Principal['kind'] | 'system';
  issuer: string;
  subject: string;
  name?: string;
  email?: string;
  groups: string[];
  certificateSubject?: string;
}

/** What one admin action is; the implementation redacts {@link details} (R20) before storing them. */
export interface AdminAuditEntry {
  /** Dotted name: `policy.approve`, `console.login`, `audit.query`, … */
  action: string;
  /** What it acts on: `policy/versions/3`, `console-sessions/alice`, `events`, … */
  target?: string;
  actor: AdminActor;
  /** The request's details worth keeping (body fields, query), before redaction. */
  details?: Record<string, unknown>;
  /** HTTP method, or `startup` for what the gateway does by itself. */
  method: string;
  client?: { ip?: string; userAgent?: string };
}

export interface AdminAuditFailure {
  /** HTTP status the caller got, when there is one. */
  status?: number;
  /** The refusal's code (`APPROVAL_BY_AUTHOR`, `ROLE_REQUIRED`, …). */
  code: string;
  message: string;
}

/** How an action ended; `target` of `ok` is the target as known only afterwards (a new version's number). */
export type AdminAuditResult =
  { outcome: 'ok'; target?: string } | ({ outcome: 'error' } & AdminAuditFailure);

/** Provides {@link AdminAudit}; `@gatehouse/audit`'s AuditModule binds it globally. */
export const ADMIN_AUDIT = Symbol('ADMIN_AUDIT');

/** The code of the refusal when the trail cannot take the attempt record. */
export const AUDIT_UNAVAILABLE = 'AUDIT_UNAVAILABLE';

/** The attempt record could not be committed: refuse the action, change nothing. */
export class AdminAuditUnavailableError extends Error {
  override readonly name = 'AdminAuditUnavailableError';
  readonly code = AUDIT_UNAVAILABLE;

  constructor(action: string, options?: ErrorOptions) {
    super(
      `the audit trail cannot record ${action} right now, so it was not done and nothing changed; try again shortly`,
      options,
    );
  }
}

/** How a route describes its action to {@link AdminAction}; each function sees the raw request. */
export interface AdminActionOptions {
  target?: (req: FastifyRequest) => string | undefined;
  /** Defaults to the path parameters, query and body that are present. */
  details?: (req: FastifyRequest) => Record<string, unknown> | undefined;
  /** The target as known from the handler's answer (e.g. a created version's number). */
  resultTarget?: (result: unknown) => string | undefined;
}

export interface AdminActionMeta extends AdminActionOptions {
  action: string;
}

export const ADMIN_ACTION_KEY = 'gatehouse:admin-action';

/**
 * Marks a handler as an admin action: the audit's global interceptor commits the attempt record
 * before the handler runs (503 `AUDIT_UNAVAILABLE` if it cannot) and queues the ending record
 * after, and the console guard records role refusals of it as `denied`.
 * `@AdminAction('policy.approve', { target: (req) => ... })`.
 */
export function AdminAction(action: string, options: AdminActionOptions = {}): MethodDecorator {
  return SetMetadata<string, AdminActionMeta>(ADMIN_ACTION_KEY, { action, ...options });
}

/** The actor of a principal from a token or console session. */
export function adminActor(p: Principal): AdminActor {
  return {
    kind: p.kind,
    issuer: p.issuer,
    subject: p.subject,
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.email !== undefined ? { email: p.email } : {}),
    groups: p.groups,
    ...(p.certificate ? { certificateSubject: p.certificate.subject } : {}),
  };
}

/** Who acts when nobody did: the gateway itself (first-start import). */
export const SYSTEM_ADMIN_ACTOR: AdminActor = {
  kind: 'system',
  issuer: 'gatehouse',
  subject: 'system',
  name: 'Gatehouse',
  groups: [],
};

/** The client address and user agent of a request. */
export function adminClient(req: FastifyRequest): { ip?: string; userAgent?: string } {
  const agent = req.headers['user-agent'];
  return {
    ...(req.ip ? { ip: req.ip } : {}),
    ...(typeof agent === 'string' && agent !== '' ? { userAgent: agent.slice(0, 256) } : {}),
  };
}

/**
 * The entry of a marked handler for one request. A target or details function that throws (a
 * malformed request) does not stop the record: the raw request details are kept instead, and the
 * handler's own refusal becomes the ending record.
 */
export function adminEntry(meta: AdminActionMeta, req: FastifyRequest, actor: AdminActor): AdminAuditEntry {
  let target: string | undefined;
  let details: Record<string, unknown> | undefined;
  try {
    target = meta.target?.(req);
  } catch {
    target = undefined;
  }
  try {
    details = meta.details ? meta.details(req) : requestDetails(req);
  } catch {
    details = requestDetails(req);
  }
  return {
    action: meta.action,
    ...(target !== undefined ? { target } : {}),
    actor,
    ...(details !== undefined ? { details } : {}),
    method: req.method,
    client: adminClient(req),
  };
}

/** Path parameters, query and body of a request, each only when present. */
export function requestDetails(req: FastifyRequest): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, value] of [
    ['params', req.params],
    ['query', req.query],
    ['body', req.body],
  ] as const) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'object' && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
