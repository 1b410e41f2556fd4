import type { Redis } from 'ioredis';

/**
 * Who created one upstream task, and with which call. Written when the upstream answers a
 * task-augmented request with a CreateTaskResult, read by every `tasks/*` call on any replica.
 */
export interface TaskOwnerRecord {
  /** The principal that created the task ({@link principalKey}); nobody else may touch it. */
  owner: string;
  /** The upstream that holds the task; its task ids are only unique there. */
  server: string;
  /** The task id as the upstream knows it. */
  taskId: string;
  /**
   * The request that created the task, as the upstream saw it (tool name unqualified, without
   * `task` and `_meta`): the policy decides every later task call as if it were this call again.
   */
  createdBy: { method: string; params: Record<string, unknown> };
  createdAt: number;
}

/** Task ownership, shared by every replica (Redis) or by the one process (embedded start). */
export interface TaskOwners {
  /**
   * Records a task for `ttlMs` (the task's own ttl plus a margin). False when the id is already
   * recorded for another principal: a task never changes hands, whatever the upstream says.
   */
  claim(record: TaskOwnerRecord, ttlMs: number): Promise<boolean>;
  get(server: string, taskId: string): Promise<TaskOwnerRecord | undefined>;
  /** One lookup for a page of a list; the answer is in the order asked. */
  getMany(keys: Array<{ server: string; taskId: string }>): Promise<Array<TaskOwnerRecord | undefined>>;
}

/** The longest a task's owner is kept: also what a task without a ttl (`null`, unlimited) gets. */
export const TASK_OWNER_MAX_TTL_MS = 7 * 24 * 3600 * 1000;
/** Kept this much longer than the task itself, so the record never goes before the task. */
export const TASK_OWNER_MARGIN_MS = 60_000;

/** How long to keep the owner of a task the upstream gave `ttl` (ms, or null for unlimited). */
export function taskOwnerTtlMs(ttl: unknown): number {
  const own = typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : TASK_OWNER_MAX_TTL_MS;
  return Math.min(own, TASK_OWNER_MAX_TTL_MS) + TASK_OWNER_MARGIN_MS;
}

/** The one key per task: a server name never contains a NUL, so `server` and `taskId` cannot blur. */
function keyOf(server: string, taskId: string): string {
  return `${server}\u0000${taskId}`;
}

/** One replica only (embedded start). */
export class MemoryTaskOwners implements TaskOwners {
  private readonly records = new Map<string, { record: TaskOwnerRecord; expires: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** Drops every record past its time; returns how many went. */
  sweep(now = Date.now()): number {
    let dropped = 0;
    for (const [key, entry] of this.records) {
      if (entry.expires < now) {
        this.records.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  async claim(record: TaskOwnerRecord, ttlMs: number): Promise<boolean> {
    const held = await this.get(record.server, record.taskId);
    if (held && held.owner !== record.owner) return false;
    this.records.set(keyOf(record.server, record.taskId), { record, expires: Date.now() + ttlMs });
    return true;
  }

  async get(server: string, taskId: string): Promise<TaskOwnerRecord | undefined> {
    const entry = this.records.get(keyOf(server, taskId));
    return entry && entry.expires >= Date.now() ? entry.record : undefined;
  }

  async getMany(
    keys: Array<{ server: string; taskId: string }>,
  ): Promise<Array<TaskOwnerRecord | undefined>> {
    return Promise.all(keys.map((k) => this.get(k.server, k.taskId)));
  }

  close(): void {
    clearInterval(this.sweeper);
    this.records.clear();
  }
}

/** Shared by every replica: `<prefix>task:<server>:<taskId>` as JSON, expiring with the task. */
export class RedisTaskOwners implements TaskOwners {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(server: string, taskId: string): string {
    // Server names are [a-z0-9-] (config validates them), so the first ':' after the prefix ends it.
    return `${this.prefix}task:${server}:${taskId}`;
  }

  async claim(record: TaskOwnerRecord, ttlMs: number): Promise<boolean> {
    const key = this.key(record.server, record.taskId);
    // NX: the first claim wins on every replica at once; a repeat by the same owner is harmless.
    const set = await this.redis.set(key, JSON.stringify(record), 'PX', Math.ceil(ttlMs), 'NX');
    if (set === 'OK') return true;
    const held = await this.get(record.server, record.taskId);
    return held?.owner === record.owner;
  }

  async get(server: string, taskId: string): Promise<TaskOwnerRecord | undefined> {
    return parse(await this.redis.get(this.key(server, taskId)), server, taskId);
  }

  async getMany(
    keys: Array<{ server: string; taskId: string }>,
  ): Promise<Array<TaskOwnerRecord | undefined>> {
    if (keys.length === 0) return [];
    const raws = await this.redis.mget(...keys.map((k) => this.key(k.server, k.taskId)));
    return raws.map((raw, i) => parse(raw, keys[i]?.server, keys[i]?.taskId));
  }
}

/** A record is only believed for the exact server and id it was asked for. */
function parse(
  raw: string | null | undefined,
  server: string | undefined,
  taskId: string | undefined,
): TaskOwnerRecord | undefined {
  if (!raw) return undefined;
  const record = JSON.parse(raw) as TaskOwnerRecord;
  return record.server === server && record.taskId === taskId ? record : undefined;
}
