import type { SecurityAlert } from '@gatehouse/audit';

/** A grant's history row as the alerter reads it (`bypass_event` joined with `bypass_grant`). */
export interface GrantEventRow {
  grantId: string;
  action: 'open' | 'approve' | 'revoke' | 'expire';
  actorSubject: string;
  actorName: string | null;
  at: Date;
  comment: string | null;
  mode: string;
  reason: string;
  incident: string | null;
  servers: string[];
  tools: string[];
  expiresAt: Date;
  openedBySubject: string;
}

/** The first audit record carrying a grant's id. */
export interface FirstUseRow {
  grantId: string;
  recordId: string;
  occurredAt: Date;
  subject: string;
  server: string | null;
  tool: string | null;
  method: string;
}

/** Intent records under one grant in one summary window, by person, server and tool. */
export interface UseCountRow {
  grantId: string;
  /** Start of the window, epoch seconds. */
  windowStart: number;
  subject: string;
  server: string | null;
  tool: string | null;
  count: number;
  /** Some of the records counted (oldest first). */
  recordIds: string[];
}

/** The alert kind of each grant event; each happens at most once per grant. */
export const EVENT_KINDS = {
  open: 'bypass_opened',
  approve: 'bypass_approved',
  revoke: 'bypass_revoked',
  expire: 'bypass_expired',
} as const satisfies Record<GrantEventRow['action'], SecurityAlert['kind']>;

/** CEF-style severities: an opening or a first use wakes someone; an end is news. */
const SEVERITY: Record<(typeof EVENT_KINDS)[keyof typeof EVENT_KINDS], number> = {
  bypass_opened: 9,
  bypass_approved: 8,
  bypass_revoked: 5,
  bypass_expired: 4,
};

/** Record ids an alert names at most. */
const MAX_RECORD_IDS = 20;

/** `bypass/grants/<id>`: the API path, as the admin trail names the grant. */
export function grantTarget(grantId: string): string {
  return `bypass/grants/${grantId}`;
}

/** The deterministic id of a grant's first-use alert: one per grant, whoever derives it. */
export function firstUseId(grantId: string): string {
  return `bypass_first_use-${grantId}`;
}

/** The deterministic id of a grant's summary for the window starting at `windowStart` (epoch s). */
export function summaryId(grantId: string, windowStart: number): string {
  return `bypass_uses_summary-${grantId}-${new Date(windowStart * 1000).toISOString()}`;
}

/** The alert of an opening, approval, revocation or expiry, with the id `<kind>-<grant>`. */
export function eventAlert(e: GrantEventRow): SecurityAlert {
  const kind = EVENT_KINDS[e.action];
  const target = grantTarget(e.grantId);
  const scope = `servers ${e.servers.join(',')}, tools ${e.tools.join(',')}`;
  const who =
    e.actorName && e.actorName !== e.actorSubject ? `${e.actorName} (${e.actorSubject})` : e.actorSubject;
  const until = e.expiresAt.toISOString();
  let message: string;
  switch (e.action) {
    case 'open':
      message = `break-glass bypass opened by ${who} for ${target} (${
        e.mode === 'immediate' ? `active until ${until}` : 'waiting for a second person to approve'
      }; ${scope}${e.incident ? `; incident ${e.incident}` : ''}): ${e.reason}`;
      break;
    case 'approve':
      message = `break-glass bypass ${target} approved by ${who}, active until ${until} (opened by ${e.openedBySubject}; ${scope})`;
      break;
    case 'revoke':
      message = `break-glass bypass ${target} revoked by ${who}${e.comment ? `: ${e.comment}` : ''}`;
      break;
    case 'expire':
      message = `break-glass bypass ${target} expired at ${until} (opened by ${e.openedBySubject})`;
      break;
    default: {
      const unhandled: never = e.action;
      throw new Error(`unknown grant event ${String(unhandled)}`);
    }
  }
  return {
    id: `${kind}-${e.grantId}`,
    kind,
    occurredAt: e.at.toISOString(),
    severity: SEVERITY[kind],
    message,
    subject: e.actorSubject,
    recordIds: [],
    grantId: e.grantId,
  };
}

/** The alert of a grant's first use: the first audit record carrying its id. */
export function firstUseAlert(r: FirstUseRow): SecurityAlert {
  const what = r.tool ? `${r.server ?? '*'}/${r.tool}` : `${r.method}${r.server ? ` on ${r.server}` : ''}`;
  return {
    id: firstUseId(r.grantId),
    kind: 'bypass_first_use',
    occurredAt: r.occurredAt.toISOString(),
    severity: 8,
    message: `first call under break-glass bypass ${grantTarget(r.grantId)}: ${r.subject} called ${what}`,
    subject: r.subject,
    ...(r.server ? { server: r.server } : {}),
    ...(r.tool ? { tool: r.tool } : {}),
    recordIds: [r.recordId],
    grantId: r.grantId,
  };
}

/**
 * One summary per grant and window among `rows` (any order): the calls counted by person, server
 * and tool, most first. Windows without calls have no rows, so they get no summary.
 */
export function summaryAlerts(rows: readonly UseCountRow[], windowSeconds: number): SecurityAlert[] {
  const groups = new Map<string, UseCountRow[]>();
  for (const row of rows) {
    const key = summaryId(row.grantId, row.windowStart);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.entries()].map(([id, group]) => {
    const first = group[0] as UseCountRow;
    const uses = group
      .map((r) => ({ subject: r.subject, server: r.server, tool: r.tool, count: r.count }))
      .sort(
        (a, b) =>
          b.count - a.count ||
          a.subject.localeCompare(b.subject) ||
          `${a.server ?? ''}/${a.tool ?? ''}`.localeCompare(`${b.server ?? ''}/${b.tool ?? ''}`),
      );
    const count = uses.reduce((n, u) => n + u.count, 0);
    const bySubject = new Map<string, number>();
    for (const u of uses) bySubject.set(u.subject, (bySubject.get(u.subject) ?? 0) + u.count);
    const people = [...bySubject.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([subject, n]) => `${subject} ${n}`)
      .join(', ');
    const from = new Date(first.windowStart * 1000).toISOString();
    return {
      id,
      kind: 'bypass_uses_summary' as const,
      occurredAt: from,
      severity: 6,
      message: `${count} call${count === 1 ? '' : 's'} under break-glass bypass ${grantTarget(first.grantId)} in the ${windowSeconds} s from ${from}: ${people}`,
      count,
      windowSeconds,
      recordIds: group
        .flatMap((r) => r.recordIds)
        .sort()
        .slice(0, MAX_RECORD_IDS),
      grantId: first.grantId,
      uses,
    };
  });
}

/** Start (epoch seconds) of the window of `windowSeconds` that `at` falls in; windows are aligned to the epoch. */
export function windowStart(at: number, windowSeconds: number): number {
  return Math.floor(at / 1000 / windowSeconds) * windowSeconds;
}

/**
 * Longest wait between two delivery attempts (they back off 1, 2, 4, 8, then 10 s): a pager that
 * comes back is reached within this plus one poll, well inside the 60 s R51 allows.
 */
export const MAX_RETRY_SECONDS = 10;
