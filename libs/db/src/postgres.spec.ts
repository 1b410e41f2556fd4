import { hostname } from 'node:os';
import { createDataSource, type Database } from './data-source';
import { DbError, DbErrorCode } from './db-error';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from './migration-tools';
import { DATABASE, ReplicaRegistry } from './replica-registry.service';
import { closedPort } from '../../../e2e/support/closed-port';
import { tcpProxy } from '../../../e2e/support/tcp-proxy';
import { eventually, MIGRATIONS, startDbApp, testConfig } from './__tests__/helpers';

/** Integration tests against the real Postgres at 127.0.0.1:5432, one database per test. */
describe('database on real Postgres', () => {
  const scratches: ScratchDatabase[] = [];
  const scratch = async () => {
    const db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_test_db');
    scratches.push(db);
    return db.url;
  };
  afterAll(async () => {
    for (const db of scratches) await db.drop();
  });

  it('applies the migrations to an empty database once and finds nothing pending after', async () => {
    const db = await createDataSource(testConfig({ database: { url: await scratch() } }));
    try {
      expect(db.mode).toBe('postgres');
      const applied = await db.migrate();
      expect(applied).toHaveLength(MIGRATIONS);
      expect(applied[0]).toMatch(/^CreateGatewayReplica\d{13}$/);
      const columns = await db.dataSource.query<Array<{ column_name: string; data_type: string }>>(
        `SELECT column_name, data_type FROM information_schema.columns
         WHERE table_name = 'gateway_replica' ORDER BY ordinal_position`,
      );
      expect(columns).toEqual([
        { column_name: 'id', data_type: 'uuid' },
        { column_name: 'hostname', data_type: 'text' },
        { column_name: 'pid', data_type: 'integer' },
        { column_name: 'version', data_type: 'text' },
        { column_name: 'started_at', data_type: 'timestamp with time zone' },
        { column_name: 'last_seen_at', data_type: 'timestamp with time zone' },
      ]);
      expect(await db.migrate()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('lets only one of several replicas starting together apply each migration', async () => {
    const url = await scratch();
    const dbs = await Promise.all([1, 2, 3].map(() => createDataSource(testConfig({ database: { url } }))));
    try {
      const results = await Promise.all(dbs.map((db) => db.migrate()));
      expect(results.flat()).toHaveLength(MIGRATIONS);
      const rows = await dbs[0]!.dataSource.query<unknown[]>('SELECT name FROM migrations');
      expect(rows).toHaveLength(MIGRATIONS);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('records this replica at start, heartbeats, lists it as live and removes it at shutdown', async () => {
    const url = await scratch();
    const started = await startDbApp(testConfig({ database: { url } }), 50);
    const registry = started.app.get(ReplicaRegistry);
    const query = async () => {
      const probe = await createDataSource(testConfig({ database: { url } }));
      try {
        return await probe.dataSource.query<
          Array<{ id: string; hostname: string; pid: number; started_at: Date; last_seen_at: Date }>
        >('SELECT * FROM gateway_replica');
      } finally {
        await probe.close();
      }
    };
    try {
      const [first] = await query();
      expect(first).toMatchObject({ id: registry.id, hostname: hostname(), pid: process.pid });
      await eventually(async () => {
        const [row] = await query();
        return row && row.last_seen_at > first!.last_seen_at ? row : undefined;
      });
      expect((await registry.live()).map((r) => r.id)).toEqual([registry.id]);
    } finally {
      await started.close();
    }
    expect(await query()).toEqual([]);
  });

  it('writes the replica row again when a heartbeat finds it gone', async () => {
    const started = await startDbApp(testConfig({ database: { url: await scratch() } }));
    try {
      const registry = started.app.get(ReplicaRegistry);
      await started.app.get<Database>(DATABASE).dataSource.query('DELETE FROM gateway_replica');
      await registry.heartbeat();
      expect((await registry.live()).map((r) => r.id)).toEqual([registry.id]);
    } finally {
      await started.close();
    }
  });

  it('reports the database ready and logs which database is in use without its password', async () => {
    const url = new URL(await scratch());
    // The server trusts loopback, so the password is ignored; it is here to prove it is never logged.
    url.password = 'pw-that-must-not-leak';
    const started = await startDbApp(testConfig({ database: { url: url.toString(), poolSize: 3 } }));
    try {
      expect(await started.readiness.report()).toEqual({ ready: true, checks: { database: 'ok' } });
      const text = JSON.stringify(started.logs());
      expect(text).not.toContain('pw-that-must-not-leak');
      expect(started.logs().map((l) => l.msg)).toContain(
        `database: Postgres at ${url.toString().replace('pw-that-must-not-leak', 'redacted')} (pool of 3)`,
      );
    } finally {
      await started.close();
    }
  });

  it('R30: reports the database not ready while Postgres cannot be reached, and ready again when it can', async () => {
    const target = new URL(await scratch());
    const proxy = await tcpProxy(Number(target.port), '127.0.0.1');
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const started = await startDbApp(testConfig({ database: { url: viaProxy.toString() } }));
    try {
      expect((await started.readiness.report()).ready).toBe(true);
      await proxy.close();
      const down = await started.readiness.report();
      expect(down.ready).toBe(false);
      expect(down.checks.database).not.toBe('ok');
      await proxy.reopen();
      expect(await started.readiness.report()).toEqual({ ready: true, checks: { database: 'ok' } });
    } finally {
      await started.close();
      await proxy.close();
    }
  });

  it('refuses to start when Postgres does not answer, naming the fix and hiding the password', async () => {
    const closed = await closedPort();
    const failure = await createDataSource(
      testConfig({ database: { url: `postgres://gatehouse:hunter2@127.0.0.1:${closed}/gatehouse` } }),
    ).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(DbError);
    expect(failure).toMatchObject({ code: DbErrorCode.CONNECT_FAILED });
    expect((failure as Error).message).toContain('ECONNREFUSED');
    expect((failure as Error).message).toContain('Fix: start Postgres or correct DATABASE_URL');
    expect((failure as Error).message).not.toContain('hunter2');
  });

  it('leaves an empty database alone when database.migrate is false, and says what to run', async () => {
    const url = await scratch();
    const failure = await startDbApp(testConfig({ database: { url, migrate: false } })).catch(
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ code: DbErrorCode.SCHEMA_OUT_OF_DATE });
    expect((failure as Error).message).toContain('npm run migration:run');
    const db = await createDataSource(testConfig({ database: { url } }));
    try {
      const [row] = await db.dataSource.query<Array<{ t: string | null }>>(
        "SELECT to_regclass('migrations')::text AS t",
      );
      expect(row?.t).toBeNull();
    } finally {
      await db.close();
    }
  });
});
