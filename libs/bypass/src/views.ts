import type { BypassEvent, BypassAction } from './bypass-event.entity';
import type { BypassGrant, GrantMode, GrantStatus } from './bypass-grant.entity';

/** A person named in a grant's history. */
export interface ActorView {
  subject: string;
  name: string | null;
}

/** A grant as the API shows it. */
export interface GrantView {
  id: string;
  /** As of the request: an active grant past its `expiresAt` shows `expired` even before the sweep writes it. */
  status: GrantStatus;
  /** Lets calls through right now. */
  effective: boolean;
  mode: GrantMode;
  reason: string;
  incident: string | null;
  scope: { servers: string[]; tools: string[] };
  covers: { everyone: boolean; users: string[]; groups: string[] };
  lifts: { policyDenies: true; rateLimits: boolean };
  durationSeconds: number;
  openedBy: ActorView;
  openedAt: Date;
  activatedAt: Date | null;
  expiresAt: Date;
  approvedBy: ActorView | null;
  approvedAt: Date | null;
  revokedBy: ActorView | null;
  revokedAt: Date | null;
  review: {
    required: boolean;
    dueAt: Date | null;
    /** Due and not signed off. */
    overdue: boolean;
    reviewedBy: ActorView | null;
    reviewedAt: Date | null;
    note: string | null;
  };
}

export interface GrantEventView {
  action: BypassAction;
  actor: ActorView;
  at: Date;
  comment: string | null;
}

export interface GrantDetail extends GrantView {
  history: GrantEventView[];
}

/** One audit record of a call made under a grant. */
export interface GrantCallView {
  id: string;
  kind: string;
  callId: string;
  occurredAt: string;
  outcome: string;
  principal: { subject: string; name: string | null; email: string | null };
  server: string | null;
  tool: string | null;
  method: string;
  action: string | null;
  decision: string | null;
  matchedRules: string[];
  errorCode: number | null;
}

export interface GrantCalls {
  grantId: string;
  calls: GrantCallView[];
  /** More calls than `limit` were made; page with a smaller window in the audit API. */
  truncated: boolean;
}

function actor(subject: string | null, name: string | null): ActorView | null {
  return subject === null ? null : { subject, name };
}

/** The API's view of a grant at `now`. */
export function grantView(g: BypassGrant, now: Date): GrantView {
  const lapsed = (g.status === 'active' || g.status === 'pending-approval') && g.expiresAt <= now;
  const status: GrantStatus = lapsed ? 'expired' : g.status;
  return {
    id: g.id,
    status,
    effective: status === 'active' && g.activatedAt !== null && g.activatedAt <= now,
    mode: g.mode,
    reason: g.reason,
    incident: g.incident,
    scope: { servers: g.servers, tools: g.tools },
    covers: { everyone: g.everyone, users: g.users, groups: g.groups },
    lifts: { policyDenies: true, rateLimits: g.liftsRateLimits },
    durationSeconds: g.durationSeconds,
    openedBy: { subject: g.openedBySubject, name: g.openedByName },
    openedAt: g.openedAt,
    activatedAt: g.activatedAt,
    expiresAt: g.expiresAt,
    approvedBy: actor(g.approvedBySubject, g.approvedByName),
    approvedAt: g.approvedAt,
    revokedBy: actor(g.revokedBySubject, g.revokedByName),
    revokedAt: g.revokedAt,
    review: {
      required: g.reviewDueAt !== null,
      dueAt: g.reviewDueAt,
      overdue: g.reviewDueAt !== null && g.reviewedAt === null && g.reviewDueAt < now,
      reviewedBy: actor(g.reviewedBySubject, g.reviewedByName),
      reviewedAt: g.reviewedAt,
      note: g.reviewNote,
    },
  };
}

export function eventView(e: BypassEvent): GrantEventView {
  return {
    action: e.action,
    actor: { subject: e.actorSubject, name: e.actorName },
    at: e.at,
    comment: e.comment,
  };
}
