import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LOGGER, type Logger } from '@gatehouse/observability';
import type { Database } from './data-source';
import { DbError, DbErrorCode } from './db-error';
import { GatewayReplica } from './gateway-replica.entity';
import { SOURCE_ROOT } from './paths';

/** Injection token for the open {@link Database}. */
export const DATABASE = Symbol('DATABASE');
/** Injection token for the replica heartbeat interval in milliseconds. */
export const REPLICA_HEARTBEAT_MS = Symbol('REPLICA_HEARTBEAT_MS');

/** How often a replica refreshes `last_seen_at` unless configured otherwise. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * Records this gateway replica in `gateway_replica` at start and refreshes its `last_seen_at`
 * on a timer, so operators can list the replicas that are alive. Times come from the database
 * clock, so replicas with skewed clocks still compare fairly.
 */
@Injectable()
export class ReplicaRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  /** This replica's id, fixed for the life of the process. */
  readonly id = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REPLICA_HEARTBEAT_MS) private readonly heartbeatMs: number,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.record();
    } catch (err) {
      throw new DbError(
        DbErrorCode.SCHEMA_OUT_OF_DATE,
        `cannot record this replica in gateway_replica: ${err instanceof Error ? err.message : String(err)}. ` +
          'Fix: apply the migrations (npm run migration:run) or set database.migrate: true',
        { cause: err },
      );
    }
    this.timer = setInterval(() => {
      // A slow database must not pile up heartbeats; the next tick tries again.
      this.beating ??= this.heartbeat()
        .catch((err: unknown) => this.logger.warn({ err, replica: this.id }, 'replica heartbeat failed'))
        .finally(() => (this.beating = undefined));
    }, this.heartbeatMs);
    // The heartbeat alone must never keep the process alive.
    this.timer.unref();
  }

  /** Writes this replica's row (again, if a cleanup removed it). */
  async record(): Promise<void> {
    await this.db.dataSource.query(
      `INSERT INTO gateway_replica (id, hostname, pid, version, started_at, last_seen_at)
       VALUES ($1, $2, $3, $4, now(), now())
       ON CONFLICT (id) DO UPDATE SET last_seen_at = now()`,
      [this.id, hostname(), process.pid, VERSION],
    );
  }

  /** Refreshes `last_seen_at`; re-creates the row if it has gone. */
  async heartbeat(): Promise<void> {
    // TypeORM answers an UPDATE with [rows, affected row count].
    const [, affected] = await this.db.dataSource.query<[unknown, number]>(
      'UPDATE gateway_replica SET last_seen_at = now() WHERE id = $1',
      [this.id],
    );
    if (affected === 0) await this.record();
  }

  /** Replicas seen within the last `withinMs` (default: three heartbeats), oldest first. */
  async live(withinMs = 3 * this.heartbeatMs): Promise<GatewayReplica[]> {
    return this.db.dataSource
      .getRepository(GatewayReplica)
      .createQueryBuilder('r')
      .where('r.last_seen_at > now() - make_interval(secs => :secs)', { secs: withinMs / 1000 })
      .orderBy('r.started_at', 'ASC')
      .getMany();
  }

  /** Stops the heartbeat and removes this replica from the list; the database closes after. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    try {
      await this.db.dataSource.query('DELETE FROM gateway_replica WHERE id = $1', [this.id]);
    } catch (err) {
      // A row left behind ages out of live(); shutdown goes on.
      this.logger.warn({ err, replica: this.id }, 'could not remove replica row at shutdown');
    }
  }
}

const VERSION = readVersion();

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(SOURCE_ROOT, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
