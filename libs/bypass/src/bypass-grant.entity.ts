import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Where a grant is in its life. `pending-approval` (approval-first) → `active` → `revoked` or
 * `expired`; a pending grant nobody approved within its duration expires too. `expired` is
 * written lazily (a periodic sweep): whether a grant still lets calls through is decided by
 * comparing `expiresAt` with the time of each call, never by this column alone.
 */
export const GRANT_STATUSES = ['pending-approval', 'active', 'revoked', 'expired'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** `immediate`: break glass now, review afterwards; `approval-first`: a second person approves first. */
export const GRANT_MODES = ['immediate', 'approval-first'] as const;
export type GrantMode = (typeof GRANT_MODES)[number];

/**
 * One break-glass grant (issue 7, R51). Its scope, audience, reason and duration are fixed when
 * it is opened: nothing can widen or extend it (a new grant is needed); only its status moves,
 * and the people who approved, revoked and reviewed it are added.
 */
@Entity({ name: 'bypass_grant' })
@Check('CHK_bypass_grant_status', `status IN (${GRANT_STATUSES.map((s) => `'${s}'`).join(', ')})`)
@Check('CHK_bypass_grant_mode', `mode IN (${GRANT_MODES.map((s) => `'${s}'`).join(', ')})`)
@Index('IDX_bypass_grant_status', ['status'])
export class BypassGrant {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text')
  status!: GrantStatus;

  @Column('text')
  mode!: GrantMode;

  @Column('text')
  reason!: string;

  /** The incident's reference in the organisation's tracker (`INC-4711`), if given. */
  @Column('text', { nullable: true })
  incident!: string | null;

  /** Server name globs; `['*']` is every server. */
  @Column('text', { array: true })
  servers!: string[];

  /** Tool (prompt, resource URI) name globs; `['*']` is everything on those servers. */
  @Column('text', { array: true })
  tools!: string[];

  /** Covers every caller; otherwise only {@link users} and {@link groups}. */
  @Column('boolean')
  everyone!: boolean;

  /** Subjects (`sub`), matched exactly as the policy matches `subject.users`. */
  @Column('text', { array: true })
  users!: string[];

  @Column('text', { array: true })
  groups!: string[];

  @Column('boolean', { name: 'lifts_rate_limits' })
  liftsRateLimits!: boolean;

  @Column('integer', { name: 'duration_seconds' })
  durationSeconds!: number;

  @Column('timestamptz', { name: 'opened_at' })
  openedAt!: Date;

  @Column('text', { name: 'opened_by_issuer' })
  openedByIssuer!: string;

  @Column('text', { name: 'opened_by_subject' })
  openedBySubject!: string;

  @Column('text', { name: 'opened_by_name', nullable: true })
  openedByName!: string | null;

  /** When it took effect: at opening (immediate) or at approval (approval-first). */
  @Column('timestamptz', { name: 'activated_at', nullable: true })
  activatedAt!: Date | null;

  /** The exact end of its effect: activation + duration (or, while pending, opening + duration). */
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt!: Date;

  @Column('text', { name: 'approved_by_subject', nullable: true })
  approvedBySubject!: string | null;

  @Column('text', { name: 'approved_by_name', nullable: true })
  approvedByName!: string | null;

  @Column('timestamptz', { name: 'approved_at', nullable: true })
  approvedAt!: Date | null;

  @Column('text', { name: 'revoked_by_subject', nullable: true })
  revokedBySubject!: string | null;

  @Column('text', { name: 'revoked_by_name', nullable: true })
  revokedByName!: string | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt!: Date | null;

  /** Immediate grants: the post-hoc review must be signed off by then (overdue afterwards). */
  @Column('timestamptz', { name: 'review_due_at', nullable: true })
  reviewDueAt!: Date | null;

  @Column('text', { name: 'reviewed_by_subject', nullable: true })
  reviewedBySubject!: string | null;

  @Column('text', { name: 'reviewed_by_name', nullable: true })
  reviewedByName!: string | null;

  @Column('timestamptz', { name: 'reviewed_at', nullable: true })
  reviewedAt!: Date | null;

  @Column('text', { name: 'review_note', nullable: true })
  reviewNote!: string | null;
}
