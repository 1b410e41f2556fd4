import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Where a policy version is in its life: draft → proposed → approved → active → superseded, or rejected. */
export const POLICY_STATUSES = ['draft', 'proposed', 'approved', 'active', 'superseded', 'rejected'] as const;
export type PolicyStatus = (typeof POLICY_STATUSES)[number];

/**
 * One version of the whole policy: every file of the policy directory as it was submitted, and
 * who moved it through each step. Versions are never edited after they are created; a change
 * is a new draft.
 */
@Entity({ name: 'policy_version' })
@Check('CHK_policy_version_status', `status IN (${POLICY_STATUSES.map((s) => `'${s}'`).join(', ')})`)
// At most one active version, whatever the application does: a second concurrent activation fails here.
@Index('IDX_policy_version_one_active', ['status'], { unique: true, where: `status = 'active'` })
export class PolicyVersion {
  /** The version number people talk about (1, 2, …), from a sequence: concurrent drafts never collide. */
  @PrimaryGeneratedColumn('increment', { type: 'integer', name: 'number' })
  number!: number;

  @Column('text')
  status!: PolicyStatus;

  /** Path relative to the policy directory → file text. */
  @Column('jsonb')
  files!: Record<string, string>;

  /** Why this version exists (the commit message of `gatehouse policy push -m`). */
  @Column('text')
  message!: string;

  @Column('text', { name: 'author_subject' })
  authorSubject!: string;

  @Column('text', { name: 'author_name', nullable: true })
  authorName!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('text', { name: 'proposed_by_subject', nullable: true })
  proposedBySubject!: string | null;

  @Column('text', { name: 'proposed_by_name', nullable: true })
  proposedByName!: string | null;

  @Column('timestamptz', { name: 'proposed_at', nullable: true })
  proposedAt!: Date | null;

  @Column('text', { name: 'approved_by_subject', nullable: true })
  approvedBySubject!: string | null;

  @Column('text', { name: 'approved_by_name', nullable: true })
  approvedByName!: string | null;

  @Column('timestamptz', { name: 'approved_at', nullable: true })
  approvedAt!: Date | null;

  @Column('text', { name: 'rejected_by_subject', nullable: true })
  rejectedBySubject!: string | null;

  @Column('text', { name: 'rejected_by_name', nullable: true })
  rejectedByName!: string | null;

  @Column('timestamptz', { name: 'rejected_at', nullable: true })
  rejectedAt!: Date | null;

  /** The last activation (or rollback to this version). */
  @Column('text', { name: 'activated_by_subject', nullable: true })
  activatedBySubject!: string | null;

  @Column('text', { name: 'activated_by_name', nullable: true })
  activatedByName!: string | null;

  @Column('timestamptz', { name: 'activated_at', nullable: true })
  activatedAt!: Date | null;

  /** When another version replaced this one as the active version. */
  @Column('timestamptz', { name: 'superseded_at', nullable: true })
  supersededAt!: Date | null;

  /** The version that replaced it. */
  @Column('integer', { name: 'superseded_by', nullable: true })
  supersededBy!: number | null;
}
