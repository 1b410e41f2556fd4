import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { PolicyVersion } from './policy-version.entity';

/** What happened to a version. `supersede` is written for the version an activation replaced. */
export const POLICY_ACTIONS = [
  'create',
  'propose',
  'approve',
  'reject',
  'activate',
  'rollback',
  'supersede',
  'import',
] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** One step in a version's history: who did what, when, and why. Rows are only ever added. */
@Entity({ name: 'policy_event' })
@Check('CHK_policy_event_action', `action IN (${POLICY_ACTIONS.map((a) => `'${a}'`).join(', ')})`)
@Index('IDX_policy_event_version', ['version'])
export class PolicyEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column('integer')
  version!: number;

  @ManyToOne(() => PolicyVersion, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'version', foreignKeyConstraintName: 'FK_policy_event_version' })
  policyVersion?: PolicyVersion;

  @Column('text')
  action!: PolicyAction;

  /** `sub` of the person or service account; `system` for the first-start import. */
  @Column('text', { name: 'actor_subject' })
  actorSubject!: string;

  @Column('text', { name: 'actor_name', nullable: true })
  actorName!: string | null;

  @Column('timestamptz')
  at!: Date;

  @Column('text', { nullable: true })
  comment!: string | null;
}
