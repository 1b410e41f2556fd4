import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { BypassGrant } from './bypass-grant.entity';

/** What happened to a grant. */
export const BYPASS_ACTIONS = ['open', 'approve', 'revoke', 'expire', 'review'] as const;
export type BypassAction = (typeof BYPASS_ACTIONS)[number];

/** One step in a grant's history (opening, approval, revocation, expiry, review). Rows are only ever added. */
@Entity({ name: 'bypass_event' })
@Check('CHK_bypass_event_action', `action IN (${BYPASS_ACTIONS.map((a) => `'${a}'`).join(', ')})`)
@Index('IDX_bypass_event_grant', ['grantId'])
export class BypassEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column('uuid', { name: 'grant_id' })
  grantId!: string;

  @ManyToOne(() => BypassGrant, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'grant_id', foreignKeyConstraintName: 'FK_bypass_event_grant' })
  grant?: BypassGrant;

  @Column('text')
  action!: BypassAction;

  /** `sub` of the person; `system` for an expiry. */
  @Column('text', { name: 'actor_subject' })
  actorSubject!: string;

  @Column('text', { name: 'actor_name', nullable: true })
  actorName!: string | null;

  @Column('timestamptz')
  at!: Date;

  @Column('text', { nullable: true })
  comment!: string | null;
}
