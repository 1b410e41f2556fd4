import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  MemorySessionStore,
  newSessionId,
  RedisSessionStore,
  type SessionRecord,
  type SessionStore,
} from './session-store';

const record = (id = newSessionId()): SessionRecord => ({
  id,
  target: '*',
  protocolVersion: '2025-11-25',
  clientInfo: { name: 't', version: '1' },
  clientCapabilities: {},
  createdAt: Date.now(),
  owner: 'https://idp.example.test|alice',
  subscriptions: {},
  logLevels: {},
});

describe('session ids', () => {
  it('are 256 random bits, base64url, and never repeat', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSessionId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(Buffer.from(id, 'base64url')).toHaveLength(32);
  });
});

describe('MemorySessionStore', () => {
  it('forgets sessions idle past their TTL, on read and in the background sweep', async () => {
    const store = new MemorySessionStore(1000);
    const a = record();
    const b = record();
    await store.put(a);
    await store.put(b);
    expect(store.sweep(Date.now() + 500)).toBe(0);
    expect(store.sweep(Date.now() + 5000)).toBe(2);
    expect(store.size).toBe(0);
    expect(await store.get(a.id)).toBeUndefined();
    await store.close();
  });
});

describe('MemorySessionStore TTL', () => {
  it('slides the TTL on get but not on peek, so bookkeeping never keeps a session alive', async () => {
    const store = new MemorySessionStore(1000);
    const s = record();
    const putAt = Date.now();
    await store.put(s);
    await new Promise((r) => setTimeout(r, 600));
    await store.peek(s.id);
    // Had the peek slid the TTL, the record would live until ~putAt + 1600.
    expect(store.sweep(putAt + 1100)).toBe(1);
    await store.put(s);
    await new Promise((r) => setTimeout(r, 600));
    const gotAt = Date.now();
    await store.get(s.id);
    // The get did slide it: still there just after the original deadline.
    expect(store.sweep(gotAt + 500)).toBe(0);
    await store.close();
  });
});

describe('RedisSessionStore (real Redis)', () => {
  const prefix = `test-${randomUUID()}:`;
  let store: SessionStore;
  let other: SessionStore;
  const redis = () => new Redis('redis://127.0.0.1:6379');

  beforeAll(() => {
    store = new RedisSessionStore(redis(), redis(), prefix, 60);
    other = new RedisSessionStore(redis(), redis(), prefix, 60);
  });
  afterAll(async () => {
    const r = redis();
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
    await store.close();
    await other.close();
  });

  it('slides the TTL on get but not on peek', async () => {
    const r = redis();
    const s = record();
    await store.put(s);
    await r.expire(`${prefix}session:${s.id}`, 5);
    await store.peek(s.id);
    expect(await r.ttl(`${prefix}session:${s.id}`)).toBeLessThanOrEqual(5);
    await store.get(s.id);
    expect(await r.ttl(`${prefix}session:${s.id}`)).toBeGreaterThan(5);
    r.disconnect();
  });

  it('shares records between stores (replicas) and deletes them for all', async () => {
    const s = record();
    await store.put(s);
    expect((await other.get(s.id))?.id).toBe(s.id);
    await other.delete(s.id);
    expect(await store.get(s.id)).toBeUndefined();
  });

  it("serves a client's requests in a row from the replica's cache: one Redis read per cache period", async () => {
    const r = redis();
    const monitor = await r.monitor();
    const s = record();
    const seen: string[] = [];
    // Only what this test's stores send for this session counts, in the order Redis ran it.
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1] === `${prefix}session:${s.id}`) seen.push(args[0]?.toLowerCase() ?? '');
    });
    const cached = new RedisSessionStore(redis(), redis(), prefix, 60, 60_000);
    try {
      await store.put(s);
      for (let i = 0; i < 5; i++) expect((await cached.get(s.id))?.id).toBe(s.id);
      // The peek runs after every get, so once MONITOR reports it, it has reported all of them.
      await cached.peek(s.id);
      await until(() => seen.includes('get'), 'MONITOR to report the peek');
      expect(seen.filter((command) => command === 'getex')).toHaveLength(1);
    } finally {
      monitor.disconnect();
      r.disconnect();
      await cached.close();
    }
  });

  it('drops a cached record at once when another replica deletes or changes it, not when its cache period ends', async () => {
    const a = new RedisSessionStore(redis(), redis(), prefix, 60, 60_000);
    const b = new RedisSessionStore(redis(), redis(), prefix, 60, 60_000);
    try {
      const gone = record();
      await a.put(gone);
      expect((await a.get(gone.id))?.id).toBe(gone.id);
      await b.delete(gone.id);
      await until(
        async () => (await a.get(gone.id)) === undefined,
        'the deletion to reach the other replica',
      );

      const changed = record();
      await a.put(changed);
      expect((await a.get(changed.id))?.logLevels).toEqual({});
      await b.put({ ...changed, logLevels: { db: 'debug' } });
      await until(
        async () => (await a.get(changed.id))?.logLevels.db === 'debug',
        'the change to reach the other replica',
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reads a record again once its cache period is over, sliding its TTL', async () => {
    const r = redis();
    const short = new RedisSessionStore(redis(), redis(), prefix, 60, 50);
    try {
      const s = record();
      await short.put(s);
      await short.get(s.id);
      await r.expire(`${prefix}session:${s.id}`, 5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await short.get(s.id);
      expect(await r.ttl(`${prefix}session:${s.id}`)).toBeGreaterThan(5);
    } finally {
      r.disconnect();
      await short.close();
    }
  });

  it('carries bus messages from one replica to another, and stops after unsubscribe', async () => {
    const got: string[] = [];
    const unsubscribe = await other.subscribe('out:abc', (p) => got.push(p));
    await store.publish('out:abc', 'hello');
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['hello']);
    await unsubscribe();
    await store.publish('out:abc', 'late');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['hello']);
  });
});

/** Polls a condition another connection makes true (pub/sub, MONITOR); fails after 5 s. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 10) {
    if (waited > 5_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
