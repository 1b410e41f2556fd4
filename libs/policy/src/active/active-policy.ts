import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LOGGER, type Logger } from '@gatehouse/observability';
import { PolicyCompiler } from '../lifecycle/compiler';
import { FirstStartImport } from '../lifecycle/first-start';
import { formatProblems } from '../lifecycle/policy-error';
import { PolicyVersion } from '../lifecycle/policy-version.entity';
import { filesOf } from '../lifecycle/views';
import type { CompiledPolicy, PolicySource } from '../types';
import { ActivationBus } from './activation-bus';

/** How often a replica compares its version with the database's active one (missed announcements). */
export const ACTIVE_CHECK_MS = Symbol('ACTIVE_CHECK_MS');
export const DEFAULT_ACTIVE_CHECK_MS = 5_000;

/** Called with the newly loaded policy (undefined: there is none any more). */
export type ActivePolicyListener = (policy: CompiledPolicy | undefined) => void;

/**
 * The compiled active policy version of this replica. Loaded at start (after the first-start
 * import), reloaded when any replica announces an activation or rollback, and checked against the
 * database every {@link DEFAULT_ACTIVE_CHECK_MS} in case an announcement was missed.
 */
@Injectable()
export class ActivePolicy implements PolicySource, OnModuleInit, OnApplicationShutdown {
  private policy: CompiledPolicy | undefined;
  private loaded: Date | undefined;
  /** An active version that failed to load; not retried until the active version changes. */
  private broken: number | undefined;
  private readonly listeners = new Set<ActivePolicyListener>();
  /** Reloads run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly compiler: PolicyCompiler,
    private readonly firstStart: FirstStartImport,
    private readonly bus: ActivationBus,
    @Inject(ACTIVE_CHECK_MS) private readonly checkMs: number,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The policy to decide with; undefined when no version is active (every call is then denied). */
  current(): CompiledPolicy | undefined {
    return this.policy;
  }

  /** When this replica loaded {@link current}. */
  loadedAt(): Date | undefined {
    return this.loaded;
  }

  /** Calls `listener` after every change of {@link current}; returns the unsubscribe function. */
  onChange(listener: ActivePolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onModuleInit(): Promise<void> {
    await this.firstStart.run();
    await this.reload('start');
    await this.bus.subscribe((version) => void this.reload(`announcement of version ${version}`));
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.bus.close();
    await this.queue;
  }

  /** After an activation or rollback on this replica: load it here, then tell the others. */
  async announce(version: number): Promise<void> {
    await this.reload(`activation of version ${version}`);
    await this.bus.publish(version);
  }

  /** Loads the database's active version unless it is the one already loaded. */
  reload(reason: string): Promise<void> {
    const next = this.queue.then(() => this.load(reason));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The safety net: a cheap look at the active number, a reload only when it differs. */
  private async check(): Promise<void> {
    try {
      const rows = await this.db.query<Array<{ number: number }>>(
        `SELECT number FROM policy_version WHERE status = 'active'`,
      );
      if (rows[0]?.number !== this.loadedNumber()) await this.reload('periodic check');
    } catch (err) {
      this.logger.warn({ err }, 'policy: the periodic check of the active version failed; will retry');
    }
  }

  private loadedNumber(): number | undefined {
    return this.policy?.version ?? this.broken;
  }

  private async load(reason: string): Promise<void> {
    const row = await this.db.getRepository(PolicyVersion).findOne({ where: { status: 'active' } });
    if (this.loaded !== undefined && row?.number === this.loadedNumber()) return;
    let next: CompiledPolicy | undefined;
    this.broken = undefined;
    if (row) {
      // Activation checks this, so only an engine that grew stricter gets here: fail closed.
      try {
        const parsed = this.compiler.parse(filesOf(row));
        if (!parsed.ok) throw new Error(`it no longer parses:\n${formatProblems(parsed.problems)}`);
        next = this.compiler.compile(parsed.document, row.number);
      } catch (err) {
        this.broken = row.number;
        this.logger.error(
          { err, version: row.number },
          `policy: active version ${row.number} cannot be loaded; every call is denied until a valid version is activated`,
        );
      }
    }
    const previous = this.policy?.version;
    this.policy = next;
    this.loaded = new Date();
    this.logger.info(
      { version: next?.version ?? null, previous: previous ?? null, reason },
      next
        ? `policy: version ${next.version} is active on this replica (${reason})`
        : `policy: no active version (${reason}); every call is denied`,
    );
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.logger.error({ err }, 'policy: an active-policy listener failed');
      }
    }
  }
}
