import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { principalKey, type Principal } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { BypassError, BypassErrorCode } from './bypass-error';
import { BypassEvent, type BypassAction } from './bypass-event.entity';
import { BypassGrant, type GrantStatus } from './bypass-grant.entity';
import type { OpenBody } from './dto';
import { GrantCache } from './grant-cache';
import type { BypassSettingsView } from './api-schemas';
import { BYPASS_SETTINGS, matcherOf, modeFor, type BypassSettings } from './settings';
import {
  eventView,
  grantView,
  type GrantCallView,
  type GrantCalls,
  type GrantDetail,
  type GrantView,
} from './views';

/** The most grants one list answers. */
export const MAX_LISTED = 1000;

/**
 * Break-glass grants (issue 7, R51): opening, approval, revocation and the post-hoc review, each
 * a status change and a history row in one transaction, then announced to every replica. There
 * is deliberately no way to change a grant's scope, audience or expiry: a new grant is needed.
 */
@Injectable()
export class BypassService {
  constructor(
    private readonly db: DataSource,
    private readonly cache: GrantCache,
    @Inject(BYPASS_SETTINGS) private readonly settings: BypassSettings,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The durations and, per upstream, the mode a grant reaching it takes. */
  settingsView(): BypassSettingsView {
    const upstreams = Object.keys(this.config.upstreams);
    return {
      defaultDurationSeconds: this.settings.defaultDurationSeconds,
      maxDurationSeconds: this.settings.maxDurationSeconds,
      reviewWindowSeconds: this.settings.reviewWindowSeconds,
      upstreams: upstreams.map((name) => ({
        name,
        mode: modeFor([name], upstreams, this.settings.modes, false),
      })),
    };
  }

  /** Opens a grant: active at once (immediate) or pending a second person's approval. */
  async open(body: OpenBody, by: Principal): Promise<GrantDetail> {
    const servers = unique(body.servers ?? ['*']);
    const tools = unique(body.tools ?? ['*']);
    const upstreams = Object.keys(this.config.upstreams);
    const reach = matcherOf(servers);
    if (!upstreams.some((u) => reach(u)))
      throw invalid(
        `body.servers ${JSON.stringify(servers)} match no upstream of this gateway (${upstreams.join(', ') || 'none'}); name one of them or a glob that matches it`,
      );
    const max = this.settings.maxDurationSeconds;
    const durationSeconds = body.durationSeconds ?? this.settings.defaultDurationSeconds;
    if (durationSeconds > max)
      throw invalid(
        `body.durationSeconds ${durationSeconds} is over the maximum of ${max} s (${max / 3600} h); open a shorter grant and a new one when it ends`,
      );
    const users = unique(body.users ?? []);
    const groups = unique(body.groups ?? []);
    const everyone = body.everyone ?? false;
    // The one-button default covers the person who pressed it, no one else.
    const onlyOpener = !everyone && users.length === 0 && groups.length === 0;
    const mode = modeFor(servers, upstreams, this.settings.modes, body.requireApproval ?? false);
    const now = new Date();
    const grant = this.db.getRepository(BypassGrant).create({
      status: mode === 'immediate' ? 'active' : 'pending-approval',
      mode,
      reason: body.reason.trim(),
      incident: body.incident ?? null,
      servers,
      tools,
      everyone,
      users: onlyOpener ? [by.subject] : users,
      groups,
      liftsRateLimits: body.liftRateLimits ?? false,
      durationSeconds,
      openedAt: now,
      openedByIssuer: by.issuer,
      openedBySubject: by.subject,
      openedByName: by.name ?? null,
      activatedAt: mode === 'immediate' ? now : null,
      expiresAt: new Date(now.getTime() + durationSeconds * 1000),
      reviewDueAt:
        mode === 'immediate' ? new Date(now.getTime() + this.settings.reviewWindowSeconds * 1000) : null,
    });
    const saved = await this.db.transaction(async (m) => {
      const row = await m.save(grant);
      await this.event(m, row.id, 'open', by, now, body.incident ? `incident ${body.incident}` : null);
      return row;
    });
    this.logger.warn(
      { grant: saved.id, mode, servers, tools, by: by.subject, expiresAt: saved.expiresAt },
      mode === 'immediate'
        ? 'bypass: break-glass grant opened and active; its review is due by the review window'
        : 'bypass: grant opened, waiting for a second person to approve it',
    );
    await this.cache.announce();
    return this.get(saved.id);
  }

  /** A second person approves a pending grant; its window starts now. */
  async approve(id: string, by: Principal, comment?: string): Promise<GrantDetail> {
    await this.step(id, 'approve', by, comment ?? null, (g, now) => {
      expectStatus(g, now, 'pending-approval', 'approved');
      if (samePerson(g, by))
        throw new BypassError(
          BypassErrorCode.SELF_APPROVAL,
          'you opened this grant, so you cannot approve it: another incident responder or an admin must',
        );
      if (named(g, by))
        throw new BypassError(
          BypassErrorCode.SELF_APPROVAL,
          'this grant names you among the people it lifts the policy for, so you cannot approve it: another incident responder or an admin must',
        );
      g.status = 'active';
      g.activatedAt = now;
      g.expiresAt = new Date(now.getTime() + g.durationSeconds * 1000);
      g.approvedBySubject = by.subject;
      g.approvedByName = by.name ?? null;
      g.approvedAt = now;
    });
    return this.get(id);
  }

  /** Ends a pending or active grant now; calls already past the policy finish, new ones are decided without it. */
  async revoke(id: string, by: Principal, reason?: string): Promise<GrantDetail> {
    await this.step(id, 'revoke', by, reason ?? null, (g, now) => {
      const status = grantView(g, now).status;
      if (status !== 'active' && status !== 'pending-approval')
        throw new BypassError(
          BypassErrorCode.INVALID_TRANSITION,
          `grant ${g.id} is ${status}, so there is nothing to revoke`,
        );
      g.status = 'revoked';
      g.revokedBySubject = by.subject;
      g.revokedByName = by.name ?? null;
      g.revokedAt = now;
    });
    return this.get(id);
  }

  /** Records the post-hoc review's sign-off, by someone other than the opener. */
  async review(id: string, by: Principal, note: string): Promise<GrantDetail> {
    await this.step(id, 'review', by, note, (g, now) => {
      if (grantView(g, now).status === 'pending-approval')
        throw new BypassError(
          BypassErrorCode.INVALID_TRANSITION,
          `grant ${g.id} never took effect (it is pending approval); revoke it instead of reviewing it`,
        );
      if (g.reviewedAt !== null)
        throw new BypassError(
          BypassErrorCode.INVALID_TRANSITION,
          `grant ${g.id} was already reviewed by ${g.reviewedByName ?? g.reviewedBySubject ?? 'someone'}`,
        );
      if (samePerson(g, by))
        throw new BypassError(
          BypassErrorCode.SELF_REVIEW,
          'you opened this grant, so you cannot review it: a different person must sign off its use',
        );
      if (named(g, by))
        throw new BypassError(
          BypassErrorCode.SELF_REVIEW,
          'this grant names you among the people it lifted the policy for, so you cannot review its use: a different person must',
        );
      g.reviewedBySubject = by.subject;
      g.reviewedByName = by.name ?? null;
      g.reviewedAt = now;
      g.reviewNote = note;
    });
    return this.get(id);
  }

  /**
   * Grants, newest first (at most {@link MAX_LISTED}); `overdue` keeps those whose review is past
   * due. Status is as of now: a grant past its `expiresAt` counts as expired before the sweep.
   */
  async list(filter: { status?: GrantStatus; overdue?: boolean }): Promise<GrantView[]> {
    const query = this.db.getRepository(BypassGrant).createQueryBuilder('g');
    switch (filter.status) {
      case undefined:
        break;
      case 'active':
      case 'pending-approval':
        query.andWhere('g.status = :status AND g.expires_at > now()', { status: filter.status });
        break;
      case 'expired':
        query.andWhere(
          `(g.status = 'expired' OR (g.status IN ('active', 'pending-approval') AND g.expires_at <= now()))`,
        );
        break;
      case 'revoked':
        query.andWhere(`g.status = 'revoked'`);
        break;
      default: {
        const unhandled: never = filter.status;
        throw new Error(`unknown grant status ${String(unhandled)}`);
      }
    }
    if (filter.overdue === true) query.andWhere('g.review_due_at < now() AND g.reviewed_at IS NULL');
    if (filter.overdue === false)
      query.andWhere(
        'NOT (g.review_due_at IS NOT NULL AND g.review_due_at < now() AND g.reviewed_at IS NULL)',
      );
    const rows = await query.orderBy('g.opened_at', 'DESC').take(MAX_LISTED).getMany();
    const now = new Date();
    return rows.map((g) => grantView(g, now));
  }

  async get(id: string): Promise<GrantDetail> {
    const grant = await this.db.getRepository(BypassGrant).findOne({ where: { id } });
    if (!grant) throw notFound(id);
    const events = await this.db
      .getRepository(BypassEvent)
      .find({ where: { grantId: id }, order: { at: 'ASC', id: 'ASC' } });
    return { ...grantView(grant, new Date()), history: events.map(eventView) };
  }

  /** Every audit record of a call made under the grant, oldest first (the post-incident review). */
  async calls(id: string, limit: number): Promise<GrantCalls> {
    const exists = await this.db.getRepository(BypassGrant).exists({ where: { id } });
    if (!exists) throw notFound(id);
    const rows = await this.db.query<CallRow[]>(
      `SELECT id, kind, call_id, occurred_at::text AS occurred_at, outcome, principal_subject, principal_name,
              principal_email, server, tool, method, action, decision, matched_rules, error_code
       FROM audit_event WHERE bypass_id = $1 ORDER BY occurred_at, seq LIMIT $2`,
      [id, limit + 1],
    );
    return {
      grantId: id,
      calls: rows.slice(0, limit).map(callView),
      truncated: rows.length > limit,
    };
  }

  private async step(
    id: string,
    action: BypassAction,
    by: Principal,
    comment: string | null,
    change: (grant: BypassGrant, now: Date) => void,
  ): Promise<void> {
    await this.db.transaction(async (m) => {
      const grant = await m
        .getRepository(BypassGrant)
        .findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!grant) throw notFound(id);
      const now = new Date();
      change(grant, now);
      await m.save(grant);
      await this.event(m, id, action, by, now, comment);
    });
    this.logger.warn({ grant: id, action, by: by.subject }, `bypass: grant ${id}: ${action}`);
    await this.cache.announce();
  }

  private async event(
    m: EntityManager,
    grantId: string,
    action: BypassAction,
    by: Principal,
    at: Date,
    comment: string | null,
  ): Promise<void> {
    await m.insert(BypassEvent, {
      grantId,
      action,
      actorSubject: by.subject,
      actorName: by.name ?? null,
      at,
      comment,
    });
  }
}

interface CallRow {
  id: string;
  kind: string;
  call_id: string;
  occurred_at: string;
  outcome: string;
  principal_subject: string;
  principal_name: string | null;
  principal_email: string | null;
  server: string | null;
  tool: string | null;
  method: string;
  action: string | null;
  decision: string | null;
  matched_rules: string[];
  error_code: number | null;
}

function callView(r: CallRow): GrantCallView {
  return {
    id: r.id,
    kind: r.kind,
    callId: r.call_id,
    occurredAt: r.occurred_at,
    outcome: r.outcome,
    principal: { subject: r.principal_subject, name: r.principal_name, email: r.principal_email },
    server: r.server,
    tool: r.tool,
    method: r.method,
    action: r.action,
    decision: r.decision,
    matchedRules: r.matched_rules,
    errorCode: r.error_code,
  };
}

/** Four eyes: the same issuer and subject as the opener. */
function samePerson(g: BypassGrant, p: Principal): boolean {
  return principalKey({ issuer: g.openedByIssuer, subject: g.openedBySubject }) === principalKey(p);
}

/**
 * Four eyes against the beneficiary (issue 13 point 8): a person the grant names in `users` gets
 * the lift, so their approval or review would be their own. Grants by group or for everyone are
 * not covered here: every approver would be a beneficiary of an `everyone` grant, so those keep
 * the opener-only rule (and their uses alert the SIEM like any other).
 */
function named(g: BypassGrant, p: Principal): boolean {
  return g.users.includes(p.subject);
}

function expectStatus(g: BypassGrant, now: Date, expected: GrantStatus, verb: string): void {
  const status = grantView(g, now).status;
  if (status !== expected)
    throw new BypassError(
      BypassErrorCode.INVALID_TRANSITION,
      `grant ${g.id} is ${status}, so it cannot be ${verb}${status === 'expired' ? '; open a new grant' : ''}`,
    );
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function invalid(message: string): BypassError {
  return new BypassError(BypassErrorCode.INVALID_REQUEST, message, [message]);
}

function notFound(id: string): BypassError {
  return new BypassError(BypassErrorCode.GRANT_NOT_FOUND, `there is no bypass grant "${id}"`);
}
