import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { ConfigModule, configSchema } from '@gatehouse/config';
import { createDataSource, DbModule, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { createLogger, Metrics, ObservabilityModule } from '@gatehouse/observability';
import {
  AUDIT_SINK,
  AUDIT_WRITER_PROVIDERS,
  AuditWriter,
  verifyChains,
  type AuditSink,
  type AuditWriterOptions,
} from '@gatehouse/audit';
import { auditConfig, openAuditDb, record, type AuditDb } from './helpers';

describe('audit writer (real Postgres)', () => {
  let store: AuditDb;

  beforeAll(async () => {
    store = await openAuditDb('audit_writer');
  });

  afterAll(async () => {
    await store.close();
  });

  /** A started writer on the scratch database: one lane, small batches, unless `options` say otherwise. */
  const startWriter = async (options: Partial<AuditWriterOptions> = {}) => {
    const writer = new AuditWriter(store.db.dataSource, {
      queueSize: 100,
      batchSize: 10,
      flushMs: 1,
      lanes: 1,
      ...options,
    });
    await writer.start();
    return writer;
  };

  const chainOf = async (writerId: string) =>
    store.sql(`SELECT call_id, seq, xmin::text AS tx FROM audit_event WHERE writer_id = $1 ORDER BY seq`, [
      writerId,
    ]);

  it('stores every field of a record and the chain verifies', async () => {
    const writer = await startWriter({ flushMs: 5 });
    const full = record({
      kind: 'intent',
      principal: {
        subject: 'carol',
        issuer: 'https://idp.example.com',
        kind: 'user',
        groups: ['admin', 'ops'],
        certificateSubject: 'CN=carol,O=Example',
      },
      client: { name: 'cursor', version: '1.2', bridgeVersion: '0.1.0', ip: '192.0.2.1' },
      bypassId: 'bypass-7',
      errorCode: -32003,
      errorMessage: 'denied',
      adminAction: 'policy.activate',
      adminTarget: 'version 4',
    });
    await writer.append([full]);
    const [row] = await store.sql(`SELECT * FROM audit_event WHERE id = $1`, [full.id]);
    expect(row).toMatchObject({
      kind: 'intent',
      call_id: full.callId,
      principal_subject: 'carol',
      principal_groups: ['admin', 'ops'],
      certificate_subject: 'CN=carol,O=Example',
      client_bridge_version: '0.1.0',
      client_ip: '192.0.2.1',
      session: '0123456789abcdef',
      arguments: full.arguments,
      matched_rules: ['analysts-read'],
      policy_version: 3,
      bypass_id: 'bypass-7',
      rate_limit: { remaining: 99, limit: 100 },
      touched: ['public.orders'],
      error_code: -32003,
      gateway_us: '412',
      upstream_us: '12345',
      response_bytes: '2048',
      admin_action: 'policy.activate',
      admin_target: 'version 4',
      seq: '1',
    });
    expect((row?.occurred_at as Date).toISOString()).toBe(full.occurredAt.toISOString());
    expect(await verifyChains(store.sql, {})).toMatchObject({ ok: true });
  });

  it('writes appends made together in batches of batchSize, in append order', async () => {
    const writer = await startWriter({ queueSize: 1000, batchSize: 20, flushMs: 60_000 });
    const records = Array.from({ length: 50 }, () => record());
    await Promise.all(records.map((r) => writer.append([r])));
    const rows = await chainOf(writer.stats().chains[0]?.writerId ?? '');
    expect(rows.map((r) => r.call_id)).toEqual(records.map((r) => r.callId));
    expect(rows.map((r) => Number(r.seq))).toEqual(records.map((_, i) => i + 1));
    // Rows inserted by one statement share a transaction id.
    const sizes = [...new Set(rows.map((r) => r.tx))].map((tx) => rows.filter((r) => r.tx === tx).length);
    expect(sizes).toEqual([20, 20, 10]);
  });

  it('starts the INSERT of an append nobody else joins at the end of the event-loop turn, not later', async () => {
    const writer = await startWriter({ flushMs: 0 });
    // A call's outcome after its answer: nothing follows it, and nothing may hold it back (the
    // less time a record spends in memory, the less a crash can lose).
    const outcome = record({ kind: 'outcome' });
    const written = writer.append([outcome]);
    expect(writer.stats().queued).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.stats()).toMatchObject({ queued: 0, writing: 1 });
    await written;
    expect(await store.sql(`SELECT 1 FROM audit_event WHERE id = $1`, [outcome.id])).toHaveLength(1);
  });

  it('makes appends wait while the queue is full, then writes them all in order', async () => {
    const writer = await startWriter({ queueSize: 3, batchSize: 1 });
    const locker = new Client({ connectionString: store.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE');
    const records = Array.from({ length: 5 }, () => record());
    const first = writer.append([records[0] ?? record()]);
    await waitFor(async () => {
      const blocked = await store.sql(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO audit_event%'`,
      );
      return blocked.length === 1;
    });
    const rest = records.slice(1).map((r) => writer.append([r]));
    expect(writer.stats()).toMatchObject({ writing: 1, queued: 3, waiting: 1 });
    await locker.query('COMMIT');
    await locker.end();
    await Promise.all([first, ...rest]);
    const rows = await chainOf(writer.stats().chains[0]?.writerId ?? '');
    expect(rows.map((r) => r.call_id)).toEqual(records.map((r) => r.callId));
  });

  it('rejects appends not committed within timeoutMs when the database hangs, and never writes the queued ones', async () => {
    const writer = await startWriter({ batchSize: 1, timeoutMs: 300 });
    const locker = new Client({ connectionString: store.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE');
    const inFlight = record();
    const queued = record();
    const first = writer.append([inFlight]);
    await waitFor(
      async () =>
        (
          await store.sql(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO audit_event%'`,
          )
        ).length === 1,
    );
    const second = writer.append([queued]);
    await expect(first).rejects.toThrow('audit records not committed within 300 ms');
    await expect(second).rejects.toThrow('audit records not committed within 300 ms');
    expect(writer.stats()).toMatchObject({ queued: 0, writing: 1 });
    await locker.query('COMMIT');
    await locker.end();
    await writer.flush();
    // The INSERT that was already running commits once the lock goes; the withdrawn one never runs.
    const rows = await store.sql(`SELECT id FROM audit_event WHERE id = ANY($1::uuid[])`, [
      [inFlight.id, queued.id],
    ]);
    expect(rows).toEqual([{ id: inFlight.id }]);
    const later = record();
    await writer.append([later]);
    expect(await verifyChains(store.sql)).toMatchObject({ ok: true, broken: [] });
  });

  it('rejects appends while the database refuses connections, then starts a new chain that verifies', async () => {
    const writer = await startWriter();
    await writer.append([record(), record()]);
    const before = writer.stats().chains[0]?.writerId ?? '';
    const [{ name, pid } = {}] = await store.sql(
      'SELECT current_database() AS name, pg_backend_pid() AS pid',
    );
    const admin = new Client({ connectionString: DEFAULT_SERVER_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${String(name)}" ALLOW_CONNECTIONS false`);
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2`,
        [name, pid],
      );
      await expect(writer.append([record()])).rejects.toThrow(/audit records not written/);
    } finally {
      await admin.query(`ALTER DATABASE "${String(name)}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    const after = record();
    await writer.append([after]);
    expect(writer.stats().chains).toEqual([
      { writerId: expect.not.stringMatching(before ?? '') as unknown, seq: 1 },
    ]);
    expect(writer.stats().chains[0]?.writerId ?? '').not.toBe(before);
    const [row] = await store.sql('SELECT writer_id, seq FROM audit_event WHERE id = $1', [after.id]);
    expect(row).toEqual({ writer_id: writer.stats().chains[0]?.writerId ?? '', seq: '1' });
    expect(await verifyChains(store.sql)).toMatchObject({ ok: true, broken: [] });
  });

  it('keeps two writers on two connection pools apart: interleaved appends verify as two chains', async () => {
    const otherDb = await createDataSource(auditConfig(), { url: store.url });
    try {
      const a = new AuditWriter(store.db.dataSource, { queueSize: 50, batchSize: 7, flushMs: 1, lanes: 1 });
      const b = new AuditWriter(otherDb.dataSource, { queueSize: 50, batchSize: 5, flushMs: 1, lanes: 1 });
      await Promise.all([a.start(), b.start()]);
      const forA = Array.from({ length: 120 }, () =>
        record({ principal: { ...record().principal, subject: 'a' } }),
      );
      const forB = Array.from({ length: 120 }, () =>
        record({ principal: { ...record().principal, subject: 'b' } }),
      );
      await Promise.all(forA.flatMap((r, i) => [a.append([r]), b.append([forB[i] ?? record()])]));
      expect((await chainOf(a.stats().chains[0]?.writerId ?? '')).map((r) => r.call_id)).toEqual(
        forA.map((r) => r.callId),
      );
      expect((await chainOf(b.stats().chains[0]?.writerId ?? '')).map((r) => r.call_id)).toEqual(
        forB.map((r) => r.callId),
      );
      const report = await verifyChains(store.sql);
      expect(report).toMatchObject({ ok: true, broken: [] });
    } finally {
      await otherDb.close();
    }
  });

  it('writes two chains in parallel with two lanes, each in append order, and both verify', async () => {
    const writer = await startWriter({ queueSize: 1000, lanes: 2 });
    const records = Array.from({ length: 200 }, () => record());
    await Promise.all(records.map((r) => writer.append([r])));
    const chains = writer.stats().chains;
    expect(chains).toHaveLength(2);
    const order = new Map(records.map((r, i) => [r.callId, i]));
    let total = 0;
    for (const { writerId, seq } of chains) {
      const rows = await chainOf(writerId);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows).toHaveLength(seq);
      const positions = rows.map((r) => order.get(String(r.call_id)) ?? -1);
      expect(positions).toEqual([...positions].sort((x, y) => x - y));
      total += rows.length;
    }
    expect(total).toBe(200);
    expect(await verifyChains(store.sql)).toMatchObject({ ok: true, broken: [] });
  });

  it('writes what is queued when the application shuts down, before the database closes', async () => {
    const config = configSchema.parse({
      database: { url: store.url },
      audit: { flushMs: 600_000, batchSize: 1000 },
    });
    const app = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ config, file: undefined, secretKeys: new Set() }),
        ObservabilityModule.forRoot(createLogger('silent'), new Metrics(false)),
        DbModule.forRoot(),
      ],
      providers: AUDIT_WRITER_PROVIDERS,
    }).compile();
    await app.init();
    const sink = app.get<AuditSink>(AUDIT_SINK);
    const records = [record(), record(), record()];
    const written = sink.append(records);
    await app.close();
    await written;
    const rows = await store.sql(`SELECT id FROM audit_event WHERE id = ANY($1::uuid[])`, [
      records.map((r) => r.id),
    ]);
    expect(rows).toHaveLength(3);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not met');
}
