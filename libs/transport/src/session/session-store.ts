import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MemoryTaskOwners, RedisTaskOwners, type TaskOwners } from './task-owners';

/** What every replica needs to serve a client session; kept in Redis so no replica is special. */
export interface SessionRecord {
  id: string;
  /** `*` for the aggregated endpoint, else the one upstream it passes through to. */
  target: string;
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  clientCapabilities: Record<string, unknown>;
  createdAt: number;
  /** The principal that opened the session ({@link principalKey}); nobody else may use it (R6). */
  owner: string;
  /** Resource URIs (as the upstream knows them) this session subscribed to, by server; replayed on a new replica. */
  subscriptions: Record<string, string[]>;
  /** Last level set with logging/setLevel, by server; replayed on a new replica. */
  logLevels: Record<string, string>;
}

/** 256 random bits, base64url: unguessable, and never an authenticator on its own (R6). */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** Storage for session records plus a per-session message bus between replicas. */
export interface SessionStore {
  /** Reads a record and slides its idle TTL: only for requests from the client itself. */
  get(id: string): Promise<SessionRecord | undefined>;
  /** Reads a record without touching its TTL: for the gateway's own bookkeeping. */
  peek(id: string): Promise<SessionRecord | undefined>;
  put(record: SessionRecord): Promise<void>;
  delete(id: string): Promise<void>;
  /** Publishes a message for whichever replica holds the session's outbound stream. */
  publish(channel: string, payload: string): Promise<void>;
  subscribe(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * 32 random bytes every replica of the deployment shares under `name`, made by whichever asks
   * first (key material when the configuration gives none, e.g. for list cursors).
   */
  sharedSecret(name: string): Promise<Buffer>;
  readonly shared: boolean;
  /** Who owns each upstream task, on the same storage (and so the same replicas) as the sessions. */
  readonly tasks: TaskOwners;
}

/** One replica only (embedded start): records and bus live in this process. */
export class MemorySessionStore implements SessionStore {
  readonly shared = false;
  readonly tasks = new MemoryTaskOwners();
  private readonly records = new Map<string, { record: SessionRecord; expires: number }>();
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly ttlMs: number) {
    // Abandoned sessions (never deleted by their client) are forgotten, as Redis expires them.
    this.sweeper = setInterval(() => this.sweep(), Math.min(ttlMs, 60_000));
    this.sweeper.unref();
  }

  /** Drops every record idle past its TTL; returns how many went. */
  sweep(now = Date.now()): number {
    let dropped = 0;
    for (const [id, entry] of this.records) {
      if (entry.expires < now) {
        this.records.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  get size(): number {
    return this.records.size;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const entry = this.records.get(id);
    if (!entry) return undefined;
    if (entry.expires < Date.now()) {
      this.records.delete(id);
      return undefined;
    }
    entry.expires = Date.now() + this.ttlMs;
    return entry.record;
  }

  async peek(id: string): Promise<SessionRecord | undefined> {
    const entry = this.records.get(id);
    return entry && entry.expires >= Date.now() ? entry.record : undefined;
  }

  async put(record: SessionRecord): Promise<void> {
    this.records.set(record.id, { record, expires: Date.now() + this.ttlMs });
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }

  async publish(channel: string, payload: string): Promise<void> {
    for (const listener of this.listeners.get(channel) ?? []) listener(payload);
  }

  async subscribe(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(onMessage);
    return async () => {
      set.delete(onMessage);
      if (set.size === 0) this.listeners.delete(channel);
    };
  }

  async ping(): Promise<void> {}

  private readonly secrets = new Map<string, Buffer>();

  async sharedSecret(name: string): Promise<Buffer> {
    let secret = this.secrets.get(name);
    if (!secret) this.secrets.set(name, (secret = randomBytes(32)));
    return secret;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.records.clear();
    this.listeners.clear();
    this.tasks.close();
  }
}

/** How long a replica reuses a session record it read from Redis before reading it again. */
export const SESSION_CACHE_MS = 2000;

/** The bus channel on which a replica says a session record changed or went (payload: its id). */
const CHANGED_CHANNEL = 'session-changed';

/**
 * Shared by every replica: records as JSON with a sliding TTL, bus on Redis pub/sub.
 *
 * A replica keeps each record it read for up to `cacheMs`, so a client's calls in a row cost no
 * Redis round trip each (the session lookup was one on every request). A record changed or deleted
 * anywhere is dropped from every replica's cache at once (`session-changed` on the bus, published
 * before the change is answered); `cacheMs` bounds how stale a record can be if that message is
 * lost (a subscriber reconnecting). A read from Redis slides the TTL, so a session in use is slid at
 * least every `cacheMs`.
 */
export class RedisSessionStore implements SessionStore {
  readonly shared = true;
  readonly tasks: TaskOwners;
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();
  private readonly cache = new Map<string, { record: SessionRecord; until: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly watching: Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly cacheMs = SESSION_CACHE_MS,
  ) {
    this.tasks = new RedisTaskOwners(redis, prefix);
    subscriber.on('message', (channel: string, payload: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(payload);
    });
    // A failed subscription leaves records at most cacheMs stale; the bus reports its own errors.
    this.watching = this.subscribe(CHANGED_CHANNEL, (id) => this.cache.delete(id)).catch(() => undefined);
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.cacheMs * 5));
    this.sweeper.unref();
  }

  private key(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  /** Drops cached records past their time, so sessions that went quiet do not stay in memory. */
  private sweep(now = Date.now()): void {
    for (const [id, entry] of this.cache) if (entry.until <= now) this.cache.delete(id);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const cached = this.cache.get(id);
    if (cached && cached.until > Date.now()) return cached.record;
    // GETEX reads and slides the TTL in one round trip.
    const raw = await this.redis.getex(this.key(id), 'EX', this.ttlSeconds);
    if (!raw) {
      this.cache.delete(id);
      return undefined;
    }
    const record = JSON.parse(raw) as SessionRecord;
    if (this.cacheMs > 0) this.cache.set(id, { record, until: Date.now() + this.cacheMs });
    return record;
  }

  async peek(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw ? (JSON.parse(raw) as SessionRecord) : undefined;
  }

  async put(record: SessionRecord): Promise<void> {
    this.cache.delete(record.id);
    await this.redis.set(this.key(record.id), JSON.stringify(record), 'EX', this.ttlSeconds);
    await this.publish(CHANGED_CHANNEL, record.id);
  }

  async delete(id: string): Promise<void> {
    this.cache.delete(id);
    await this.redis.del(this.key(id));
    await this.publish(CHANGED_CHANNEL, id);
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.redis.publish(this.prefix + channel, payload);
  }

  async subscribe(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
    const full = this.prefix + channel;
    let set = this.listeners.get(full);
    if (!set) {
      this.listeners.set(full, (set = new Set()));
      await this.subscriber.subscribe(full);
    }
    set.add(onMessage);
    return async () => {
      set.delete(onMessage);
      if (set.size === 0) {
        this.listeners.delete(full);
        await this.subscriber.unsubscribe(full);
      }
    };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async sharedSecret(name: string): Promise<Buffer> {
    const key = `${this.prefix}secret:${name}`;
    // SET NX: the first replica's bytes win, every other replica reads them back.
    await this.redis.set(key, randomBytes(32).toString('base64'), 'NX');
    const value = await this.redis.get(key);
    if (!value) throw new Error(`the shared secret ${key} vanished from Redis`);
    return Buffer.from(value, 'base64');
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.cache.clear();
    await this.watching;
    this.subscriber.disconnect();
    this.redis.disconnect();
  }
}
