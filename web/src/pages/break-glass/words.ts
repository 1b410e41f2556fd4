import type { components } from '../../api/schema';

/** A grant as the API lists it. */
export type Grant = components['schemas']['BypassGrant'];
export type GrantDetail = components['schemas']['BypassGrantDetail'];
export type GrantCalls = components['schemas']['BypassGrantCalls'];
/** The body of `POST /api/v1/bypass/grants`. */
export type OpenGrantBody = components['schemas']['OpenBypassGrant'];

/** The signed-in person, as `GET /api/v1/me` names them. */
export interface Viewer {
  sub: string;
  name?: string | undefined;
  roles: string[];
}

/**
 * The API's documented defaults (docs/bypass.md, the OpenAPI description of `OpenBypassGrant`):
 * the gateway has no endpoint exposing its `bypass:` settings yet, so the dialog always sends the
 * duration it states, and the server refuses one over its configured maximum with its reason.
 */
export const DEFAULT_DURATION_MINUTES = 60;
export const MAX_DURATION_MINUTES = 480;
export const REVIEW_WINDOW_HOURS = 72;
/** The server's rule for a reason (libs/bypass dto.ts): 20 characters once trimmed, and a real sentence. */
export const MIN_REASON_LENGTH = 20;

/** What the person chose in the dialog; everything but the reason starts at the API's default. */
export interface GrantChoice {
  reason: string;
  incident: string;
  servers: string[];
  tools: string[];
  /** `me` is the API default: the opener alone. */
  coverage: 'me' | 'people' | 'everyone';
  users: string[];
  groups: string[];
  durationMinutes: number;
  liftRateLimits: boolean;
  requireApproval: boolean;
}

/** The durations the dialog states and allows: the gateway's settings, or the documented defaults. */
export interface GrantLimits {
  defaultMinutes: number;
  maxMinutes: number;
  reviewHours: number;
}

export const DOCUMENTED_LIMITS: GrantLimits = {
  defaultMinutes: DEFAULT_DURATION_MINUTES,
  maxMinutes: MAX_DURATION_MINUTES,
  reviewHours: REVIEW_WINDOW_HOURS,
};

export function defaultChoice(defaultMinutes: number = DEFAULT_DURATION_MINUTES): GrantChoice {
  return {
    reason: '',
    incident: '',
    servers: ['*'],
    tools: ['*'],
    coverage: 'me',
    users: [],
    groups: [],
    durationMinutes: defaultMinutes,
    liftRateLimits: false,
    requireApproval: false,
  };
}

/** The request body: exactly what the dialog states, so the words and the grant cannot differ. */
export function openBody(choice: GrantChoice): OpenGrantBody {
  const body: OpenGrantBody = {
    reason: choice.reason.trim(),
    servers: choice.servers.length > 0 ? choice.servers : ['*'],
    tools: choice.tools.length > 0 ? choice.tools : ['*'],
    durationSeconds: Math.round(choice.durationMinutes * 60),
    liftRateLimits: choice.liftRateLimits,
    requireApproval: choice.requireApproval,
  };
  if (choice.incident.trim()) body.incident = choice.incident.trim();
  if (choice.coverage === 'everyone') body.everyone = true;
  if (choice.coverage === 'people') {
    body.users = choice.users;
    body.groups = choice.groups;
  }
  return body;
}

/** `Erin Evans (you)`, or the subject when the IdP gave no name. */
export function viewerName(viewer: Viewer): string {
  return `${viewer.name ?? viewer.sub} (you)`;
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Who a choice covers, in words: "Erin Evans (you)", "bob and group support", "everyone". */
export function coversPhrase(choice: GrantChoice, viewer: Viewer): string {
  if (choice.coverage === 'everyone') return 'everyone';
  if (choice.coverage === 'people' && choice.users.length + choice.groups.length > 0)
    return list([...choice.users, ...choice.groups.map((g) => `group ${g}`)]);
  return viewerName(viewer);
}

function isAll(globs: string[]): boolean {
  return globs.length === 0 || globs.includes('*');
}

/** "all servers", "server fs", "servers fs and db-*". */
export function serversPhrase(servers: string[]): string {
  if (isAll(servers)) return 'all servers';
  return `${servers.length === 1 ? 'server' : 'servers'} ${list(servers)}`;
}

/** "all tools", "tool write_file". */
export function toolsPhrase(tools: string[]): string {
  if (isAll(tools)) return 'all tools';
  return `${tools.length === 1 ? 'tool' : 'tools'} ${list(tools)}`;
}

/** "1 hour", "90 minutes" → "1 hour 30 minutes", "8 hours". */
export function durationPhrase(minutes: number): string {
  const whole = Math.max(0, Math.round(minutes));
  const h = Math.floor(whole / 60);
  const m = whole % 60;
  const parts: string[] = [];
  if (h > 0) parts.push(`${h} ${h === 1 ? 'hour' : 'hours'}`);
  if (m > 0 || h === 0) parts.push(`${m} ${m === 1 ? 'minute' : 'minutes'}`);
  return parts.join(' ');
}

/** The confirm button: "Open bypass for bob, all servers, 1 hour" (plus tools and rate limits when chosen). */
export function confirmText(choice: GrantChoice, viewer: Viewer): string {
  const parts = [
    `Open bypass for ${coversPhrase(choice, viewer)}`,
    serversPhrase(choice.servers),
    ...(isAll(choice.tools) ? [] : [toolsPhrase(choice.tools)]),
    durationPhrase(choice.durationMinutes),
  ];
  if (choice.liftRateLimits) parts.push('rate limits lifted');
  return parts.join(', ');
}

/** The viewer's time zone, as the browser knows it. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** "Tue 8 Dec, 14:32" in `zone`. */
export function localTime(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: zone,
  }).format(at);
}

/** Who someone is in a grant's history: their name, else their subject. */
export function actorName(actor: { subject: string; name: string | null } | null | undefined): string {
  if (!actor) return '—';
  return actor.name ?? actor.subject;
}

/** The grant's audience in words, from the API's view. */
export function grantCovers(grant: Grant): string {
  const covers = grant.covers;
  if (!covers) return '—';
  if (covers.everyone) return 'everyone';
  return list([...(covers.users ?? []), ...(covers.groups ?? []).map((g) => `group ${g}`)]) || '—';
}

/** The grant's scope in words: "all servers, all tools". */
export function grantScope(grant: Grant): string {
  return `${serversPhrase(grant.scope?.servers ?? ['*'])}, ${toolsPhrase(grant.scope?.tools ?? ['*'])}`;
}

/** True when the viewer is the grant's opener or a person it names (the server refuses their approve and review). */
export function involved(grant: Grant, viewer: Viewer): boolean {
  return grant.openedBy?.subject === viewer.sub || (grant.covers?.users ?? []).includes(viewer.sub);
}

const WRITERS = ['admin', 'incident-responder'];
const REVIEWERS = ['admin', 'incident-responder', 'auditor'];

/** May open, approve and revoke grants (the controller's roles). */
export function canWrite(viewer: Viewer): boolean {
  return viewer.roles.some((r) => WRITERS.includes(r));
}

export function canApprove(grant: Grant, viewer: Viewer): boolean {
  return canWrite(viewer) && grant.status === 'pending-approval' && !involved(grant, viewer);
}

export function canRevoke(grant: Grant, viewer: Viewer): boolean {
  return canWrite(viewer) && (grant.status === 'active' || grant.status === 'pending-approval');
}

export function canReview(grant: Grant, viewer: Viewer): boolean {
  return (
    viewer.roles.some((r) => REVIEWERS.includes(r)) &&
    grant.status !== 'pending-approval' &&
    !grant.review?.reviewedAt &&
    !involved(grant, viewer)
  );
}
