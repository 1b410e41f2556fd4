import { Injectable } from '@nestjs/common';
import { createTwoFilesPatch } from 'diff';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import type { Principal } from '@gatehouse/auth';
import { ActivePolicy } from '../active/active-policy';
import type { PolicyDocument, PolicyFile } from '../types';
import { PolicyCompiler } from './compiler';
import { formatProblems, PolicyError, PolicyErrorCode } from './policy-error';
import { clock, record } from './history';
import { PolicyEvent, type PolicyAction } from './policy-event.entity';
import { PolicyVersion, type PolicyStatus } from './policy-version.entity';
import {
  detailOf,
  filesOf,
  summaryOf,
  type PolicyDiff,
  type PolicyVersionDetail,
  type PolicyVersionSummary,
} from './views';

/** Who asks for a step: the fields of a principal the lifecycle looks at. */
export type PolicyActor = Pick<Principal, 'subject' | 'name' | 'roles'>;

/**
 * Serialises activations across every replica: held for the length of one activation's
 * transaction (pg_advisory_xact_lock), so two concurrent activations run one after the other.
 */
export const ACTIVATION_LOCK = 0x6761_7465_0001n;

/** Approving needs one of these roles, and being neither the author nor the proposer. */
const APPROVER_ROLES = new Set(['policy-approver', 'admin']);

/**
 * Policy versions in Postgres and the steps between them: draft → proposed → approved → active →
 * superseded (or rejected), rollback to an earlier version, and diffs. Every step is one
 * transaction that updates the version and records who, when and why in `policy_event`.
 */
@Injectable()
export class PolicyLifecycle {
  constructor(
    private readonly db: DataSource,
    private readonly compiler: PolicyCompiler,
    private readonly active: ActivePolicy,
  ) {}

  /** Every version, newest first, without file texts. */
  async list(): Promise<PolicyVersionSummary[]> {
    const versions = await this.db.getRepository(PolicyVersion).find({ order: { number: 'DESC' } });
    return versions.map(summaryOf);
  }

  /** One version without its files. */
  async summary(number: number): Promise<PolicyVersionSummary> {
    return summaryOf(await this.find(this.db.manager, number));
  }

  /** One version with its files and history. */
  async get(number: number): Promise<PolicyVersionDetail> {
    const version = await this.find(this.db.manager, number);
    const events = await this.db
      .getRepository(PolicyEvent)
      .find({ where: { version: number }, order: { id: 'ASC' } });
    return detailOf(version, events);
  }

  /**
   * Stores the files as a new draft. Files with problems are refused with every problem
   * (file, line, column) and nothing is stored.
   */
  async createDraft(files: PolicyFile[], message: string, actor: PolicyActor): Promise<PolicyVersionDetail> {
    this.check(files);
    const number = await this.db.transaction(async (em) => {
      const now = await clock(em);
      const version = await em.getRepository(PolicyVersion).save(
        em.getRepository(PolicyVersion).create({
          status: 'draft',
          files: Object.fromEntries(files.map((f) => [f.path, f.text])),
          message,
          authorSubject: actor.subject,
          authorName: actor.name ?? null,
          createdAt: now,
        }),
      );
      await record(em, version.number, 'create', actor, now, message);
      return version.number;
    });
    return this.get(number);
  }

  /** draft → proposed. */
  propose(number: number, actor: PolicyActor, comment?: string): Promise<PolicyVersionDetail> {
    return this.step(number, ['draft'], 'propose', actor, comment, (v, now) => {
      v.status = 'proposed';
      v.proposedBySubject = actor.subject;
      v.proposedByName = actor.name ?? null;
      v.proposedAt = now;
    });
  }

  /**
   * proposed → approved, by a second person: never the author nor the proposer (four eyes), and
   * only with the `policy-approver` or `admin` role.
   */
  approve(number: number, actor: PolicyActor, comment?: string): Promise<PolicyVersionDetail> {
    return this.step(number, ['proposed'], 'approve', actor, comment, (v, now) => {
      if (!actor.roles.some((role) => APPROVER_ROLES.has(role))) {
        throw new PolicyError(
          PolicyErrorCode.APPROVER_ROLE_REQUIRED,
          `approving a policy version needs the policy-approver or admin role; ${actor.subject} has ${actor.roles.join(', ') || 'no console role'}`,
        );
      }
      if (v.authorSubject === actor.subject) {
        throw new PolicyError(
          PolicyErrorCode.APPROVAL_BY_AUTHOR,
          `four eyes: ${actor.subject} wrote version ${v.number} and cannot approve it; another policy-approver or admin must`,
        );
      }
      if (v.proposedBySubject === actor.subject) {
        throw new PolicyError(
          PolicyErrorCode.APPROVAL_BY_PROPOSER,
          `four eyes: ${actor.subject} proposed version ${v.number} and cannot approve it; another policy-approver or admin must`,
        );
      }
      v.status = 'approved';
      v.approvedBySubject = actor.subject;
      v.approvedByName = actor.name ?? null;
      v.approvedAt = now;
    });
  }

  /** draft, proposed or approved → rejected (final). */
  reject(number: number, actor: PolicyActor, comment?: string): Promise<PolicyVersionDetail> {
    return this.step(number, ['draft', 'proposed', 'approved'], 'reject', actor, comment, (v, now) => {
      v.status = 'rejected';
      v.rejectedBySubject = actor.subject;
      v.rejectedByName = actor.name ?? null;
      v.rejectedAt = now;
    });
  }

  /** approved → active; the active version becomes superseded. Every replica follows within 2 s. */
  activate(number: number, actor: PolicyActor, comment?: string): Promise<PolicyVersionDetail> {
    return this.switchTo(number, ['approved'], 'activate', actor, comment);
  }

  /**
   * Re-activates an earlier approved or superseded version, recorded as `rollback` with its reason.
   * An approved version goes as it would by {@link activate}. A superseded one was replaced by a
   * later four-eyes decision, and its approval was spent on its first activation: bringing it back
   * needs a second person now. So it goes back only by someone who neither wrote, proposed nor
   * approved it, and only if a second person approved it at all (an imported version was never
   * approved by anyone: push its files as a new version). Either way two people stand behind
   * the version that becomes active: its approver, and whoever rolls back to it.
   */
  rollback(number: number, actor: PolicyActor, comment: string): Promise<PolicyVersionDetail> {
    return this.switchTo(number, ['approved', 'superseded'], 'rollback', actor, comment, (target) => {
      if (target.status === 'superseded') checkRollbackFourEyes(target, actor);
    });
  }

  /** The unified diff of every file that differs between two versions (added, removed, changed). */
  async diff(from: number, to: number): Promise<PolicyDiff> {
    const [a, b] = await Promise.all([this.find(this.db.manager, from), this.find(this.db.manager, to)]);
    const paths = [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])].sort();
    const files: PolicyDiff['files'] = [];
    for (const path of paths) {
      const before = a.files[path];
      const after = b.files[path];
      if (before === after) continue;
      files.push({
        path,
        change: before === undefined ? 'added' : after === undefined ? 'removed' : 'modified',
        patch: createTwoFilesPatch(
          before === undefined ? '/dev/null' : `a/${path}`,
          after === undefined ? '/dev/null' : `b/${path}`,
          before ?? '',
          after ?? '',
          `version ${from}`,
          `version ${to}`,
        ),
      });
    }
    return { from, to, files };
  }

  /** Parses the files; any problem refuses them with every position. */
  private check(files: PolicyFile[]): PolicyDocument {
    const parsed = this.compiler.parse(files);
    if (parsed.ok) return parsed.document;
    throw new PolicyError(
      PolicyErrorCode.POLICY_INVALID,
      `the policy has ${parsed.problems.length} problem(s):\n${formatProblems(parsed.problems)}`,
      parsed.problems,
    );
  }

  /** One status change under a row lock, recorded as an event. */
  private async step(
    number: number,
    from: PolicyStatus[],
    action: PolicyAction,
    actor: PolicyActor,
    comment: string | undefined,
    apply: (v: PolicyVersion, now: Date) => void,
  ): Promise<PolicyVersionDetail> {
    await this.db.transaction(async (em) => {
      const version = await this.find(em, number, true);
      expectStatus(version, from, action);
      const now = await clock(em);
      apply(version, now);
      await em.getRepository(PolicyVersion).save(version);
      await record(em, number, action, actor, now, comment);
    });
    return this.get(number);
  }

  /** Activation and rollback: the one active version changes in one transaction. */
  private async switchTo(
    number: number,
    from: PolicyStatus[],
    action: 'activate' | 'rollback',
    actor: PolicyActor,
    comment: string | undefined,
    allowed: (target: PolicyVersion) => void = () => undefined,
  ): Promise<PolicyVersionDetail> {
    try {
      await this.db.transaction(async (em) => {
        await em.query('SELECT pg_advisory_xact_lock($1)', [ACTIVATION_LOCK.toString()]);
        const target = await this.find(em, number, true);
        expectStatus(target, from, action);
        allowed(target);
        // The engine may have grown stricter since the draft was checked: what activates must compile.
        this.compiler.compile(this.check(filesOf(target)), number);
        const now = await clock(em);
        const versions = em.getRepository(PolicyVersion);
        const previous = await versions.findOne({
          where: { status: 'active' },
          lock: { mode: 'pessimistic_write' },
        });
        if (previous) {
          previous.status = 'superseded';
          previous.supersededAt = now;
          previous.supersededBy = number;
          await versions.save(previous);
          await record(em, previous.number, 'supersede', actor, now, `replaced by version ${number}`);
        }
        target.status = 'active';
        target.activatedBySubject = actor.subject;
        target.activatedByName = actor.name ?? null;
        target.activatedAt = now;
        target.supersededAt = null;
        target.supersededBy = null;
        await versions.save(target);
        await record(em, number, action, actor, now, comment);
      });
    } catch (err) {
      // The one-active index: a replica that activated without the lock (it cannot, but the
      // database is the last word) loses cleanly instead of leaving two active versions.
      if (err instanceof QueryFailedError && (err.driverError as { code?: string }).code === '23505') {
        throw new PolicyError(
          PolicyErrorCode.CONCURRENT_ACTIVATION,
          `another activation changed the active version while version ${number} was being activated; look again and retry`,
        );
      }
      throw err;
    }
    await this.active.announce(number);
    return this.get(number);
  }

  private async find(em: EntityManager, number: number, lock = false): Promise<PolicyVersion> {
    const version = await em.getRepository(PolicyVersion).findOne({
      where: { number },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!version) {
      throw new PolicyError(PolicyErrorCode.VERSION_NOT_FOUND, `there is no policy version ${number}`);
    }
    return version;
  }
}

/** See {@link PolicyLifecycle.rollback}: who may bring a superseded version back. */
function checkRollbackFourEyes(target: PolicyVersion, actor: PolicyActor): void {
  const fresh = `push its files as a new version (draft → propose → approve by a second person → activate)`;
  if (target.approvedBySubject === null || target.approvedBySubject === target.authorSubject) {
    throw new PolicyError(
      PolicyErrorCode.ROLLBACK_NEEDS_SECOND_PERSON,
      `four eyes: version ${target.number} was never approved by a second person (author ${target.authorSubject}), so it cannot be rolled back to; ${fresh}`,
    );
  }
  const roles: Array<[string | null, string]> = [
    [target.authorSubject, 'wrote'],
    [target.proposedBySubject, 'proposed'],
    [target.approvedBySubject, 'approved'],
  ];
  const role = roles.find(([subject]) => subject === actor.subject);
  if (role) {
    throw new PolicyError(
      PolicyErrorCode.ROLLBACK_NEEDS_SECOND_PERSON,
      `four eyes: ${actor.subject} ${role[1]} version ${target.number} and cannot bring it back alone; another policy-approver or admin who neither wrote, proposed nor approved it must roll back, or ${fresh}`,
    );
  }
}

function expectStatus(version: PolicyVersion, from: PolicyStatus[], action: PolicyAction): void {
  if (from.includes(version.status)) return;
  throw new PolicyError(
    PolicyErrorCode.INVALID_TRANSITION,
    `cannot ${action} version ${version.number}: it is ${version.status}, and ${action} needs ${from.join(' or ')}`,
  );
}
