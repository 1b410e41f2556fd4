import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One gateway process, as it announced itself; operators list live replicas from here. */
@Entity({ name: 'gateway_replica' })
export class GatewayReplica {
  /** Chosen by the replica at start, so it can be logged before the row is written. */
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  hostname!: string;

  @Column('integer')
  pid!: number;

  /** The gateway's package version. */
  @Column('text')
  version!: string;

  @Column('timestamptz', { name: 'started_at' })
  startedAt!: Date;

  /** Refreshed by the replica's heartbeat; a replica silent for a few intervals is gone. */
  @Column('timestamptz', { name: 'last_seen_at' })
  lastSeenAt!: Date;
}
