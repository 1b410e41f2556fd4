import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  MemoryTaskOwners,
  RedisTaskOwners,
  TASK_OWNER_MARGIN_MS,
  TASK_OWNER_MAX_TTL_MS,
  taskOwnerTtlMs,
  type TaskOwnerRecord,
  type TaskOwners,
} from './task-owners';

interface World {
  owners: TaskOwners;
  close(): Promise<void>;
}

const ALICE = 'https://idp.example.test\u0000alice';
const BOB = 'https://idp.example.test\u0000bob';

const record = (owner: string, taskId = randomUUID(), server = 'everything'): TaskOwnerRecord => ({
  owner,
  server,
  taskId,
  createdBy: { method: 'tools/call', params: { name: 'research', arguments: { topic: 'x' } } },
  createdAt: Date.now(),
});

describe('taskOwnerTtlMs', () => {
  it.each([
    ['a task ttl', 60_000, 60_000 + TASK_OWNER_MARGIN_MS],
    ['no ttl (unlimited)', null, TASK_OWNER_MAX_TTL_MS + TASK_OWNER_MARGIN_MS],
    ['a ttl past the maximum', TASK_OWNER_MAX_TTL_MS * 10, TASK_OWNER_MAX_TTL_MS + TASK_OWNER_MARGIN_MS],
    ['a nonsense ttl', 'soon', TASK_OWNER_MAX_TTL_MS + TASK_OWNER_MARGIN_MS],
    ['a negative ttl', -5, TASK_OWNER_MAX_TTL_MS + TASK_OWNER_MARGIN_MS],
  ])('keeps the owner at least as long as the task: %s', (_case, ttl, expected) => {
    expect(taskOwnerTtlMs(ttl)).toBe(expected);
  });
});

describe.each<[string, () => World]>([
  [
    'memory',
    () => {
      const owners = new MemoryTaskOwners();
      return { owners, close: async () => owners.close() };
    },
  ],
  [
    'redis',
    () => {
      const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: false });
      const prefix = `gh-task-owners-${randomUUID()}:`;
      return {
        owners: new RedisTaskOwners(redis, prefix),
        close: async () => {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
        },
      };
    },
  ],
])('%s task owners', (_kind, make) => {
  let world: World;
  beforeEach(() => {
    world = make();
  });
  afterEach(async () => world.close());

  it('13.3: a task id never changes hands: the first claim wins, a repeat by the same owner is fine', async () => {
    const mine = record(ALICE);
    expect(await world.owners.claim(mine, 60_000)).toBe(true);
    expect(await world.owners.claim({ ...mine, owner: BOB }, 60_000)).toBe(false);
    expect(await world.owners.claim(mine, 60_000)).toBe(true);
    expect(await world.owners.get('everything', mine.taskId)).toMatchObject({ owner: ALICE });
  });

  it('13.3: the same task id on two servers is two tasks', async () => {
    const id = randomUUID();
    expect(await world.owners.claim(record(ALICE, id, 'everything'), 60_000)).toBe(true);
    expect(await world.owners.claim(record(BOB, id, 'memory'), 60_000)).toBe(true);
    expect(await world.owners.get('everything', id)).toMatchObject({ owner: ALICE, server: 'everything' });
    expect(await world.owners.get('memory', id)).toMatchObject({ owner: BOB, server: 'memory' });
    expect(await world.owners.get('other', id)).toBeUndefined();
  });

  it('13.3: a page of a list is looked up in one call, in the order asked, unknown ids undefined', async () => {
    const a = record(ALICE);
    const b = record(BOB);
    await world.owners.claim(a, 60_000);
    await world.owners.claim(b, 60_000);
    const found = await world.owners.getMany([
      { server: 'everything', taskId: b.taskId },
      { server: 'everything', taskId: 'nobody' },
      { server: 'everything', taskId: a.taskId },
    ]);
    expect(found.map((r) => r?.owner)).toEqual([BOB, undefined, ALICE]);
    expect(await world.owners.getMany([])).toEqual([]);
  });

  it('13.3: an owner record expires with its ttl', async () => {
    const short = record(ALICE);
    await world.owners.claim(short, 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await world.owners.get('everything', short.taskId)).toBeUndefined();
    // Expired, the id can be claimed again (the upstream's task is gone by then too).
    expect(await world.owners.claim({ ...short, owner: BOB }, 60_000)).toBe(true);
  });
});
