import type { Principal } from '@gatehouse/auth';
import type { BypassCover } from '@gatehouse/policy';
import { matcherOf } from './settings';

/** What the matcher needs of a grant (an active `BypassGrant` row). */
export interface GrantScope {
  id: string;
  servers: string[];
  tools: string[];
  everyone: boolean;
  users: string[];
  groups: string[];
  liftsRateLimits: boolean;
  /** When it took effect; a grant before its activation covers nothing. */
  activatedAt: Date | null;
  expiresAt: Date;
}

/** A grant compiled once per load: its globs and who it covers, checked per call without allocation. */
export class CompiledGrant {
  readonly id: string;
  readonly liftsRateLimits: boolean;
  private readonly from: number;
  private readonly until: number;
  private readonly server: (name: string) => boolean;
  private readonly tool: (name: string) => boolean;
  private readonly everyone: boolean;
  private readonly users: Set<string>;
  private readonly groups: Set<string>;

  constructor(grant: GrantScope) {
    this.id = grant.id;
    this.liftsRateLimits = grant.liftsRateLimits;
    this.from = grant.activatedAt?.getTime() ?? Number.POSITIVE_INFINITY;
    this.until = grant.expiresAt.getTime();
    this.server = matcherOf(grant.servers);
    this.tool = matcherOf(grant.tools);
    this.everyone = grant.everyone;
    this.users = new Set(grant.users);
    this.groups = new Set(grant.groups);
  }

  /** Whether this grant lets the call through at `now` (epoch ms): the window is [activatedAt, expiresAt). */
  covers(principal: Principal, server: string, tool: string, now: number): boolean {
    if (now < this.from || now >= this.until) return false;
    if (!this.server(server) || !this.tool(tool)) return false;
    return this.everyone || this.coversPerson(principal);
  }

  /** Still worth keeping in memory at `now`. */
  live(now: number): boolean {
    return now < this.until;
  }

  /**
   * By subject, exactly, as the policy matches `subject.users`: an e-mail claim is not an identity
   * (an IdP may let people set it), so it never selects who a grant covers.
   */
  private coversPerson(p: Principal): boolean {
    if (this.users.has(p.subject)) return true;
    return p.groups.some((g) => this.groups.has(g));
  }
}

/** A grant covering the call, as the pipeline's cover; undefined when none does. */
export function coverOf(
  grants: readonly CompiledGrant[],
  principal: Principal,
  server: string,
  tool: string,
  now: number,
): BypassCover | undefined {
  let found: CompiledGrant | undefined;
  for (const grant of grants) {
    if (!grant.covers(principal, server, tool, now)) continue;
    // Of several covering grants, one that lifts rate limits wins: the caller's incident needs it.
    if (!found || (grant.liftsRateLimits && !found.liftsRateLimits)) found = grant;
  }
  return found ? { grantId: found.id, liftsRateLimits: found.liftsRateLimits } : undefined;
}
