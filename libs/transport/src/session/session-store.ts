import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

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
  readonly shared: boolean;
}

/** One replica only (embedded start): records and bus live in this process. */
export class MemorySessionStore implements SessionStore {
  readonly shared = false;
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

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.records.clear();
    this.listeners.clear();
  }
}

/** Shared by every replica: records as JSON with a sliding TTL, bus on Redis pub/sub. */
export class RedisSessionStore implements SessionStore {
  readonly shared = true;
  private readonly listeners = new Map<string, Set<(payload: string) => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {
    subscriber.on('message', (channel: string, payload: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(payload);
    });
  }

  private key(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    // GETEX reads and slides the TTL in one round trip.
    const raw = await this.redis.getex(this.key(id), 'EX', this.ttlSeconds);
    return raw ? (JSON.parse(raw) as SessionRecord) : undefined;
  }

  async peek(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw ? (JSON.parse(raw) as SessionRecord) : undefined;
  }

  async put(record: SessionRecord): Promise<void> {
    await this.redis.set(this.key(record.id), JSON.stringify(record), 'EX', this.ttlSeconds);
  }

  async delete(id: string): Promise<void> {
    await this.redis.del(this.key(id));
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

  async close(): Promise<void> {
    this.subscriber.disconnect();
    this.redis.disconnect();
  }
}
