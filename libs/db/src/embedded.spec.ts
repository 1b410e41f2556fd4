import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataSource, type Database } from './data-source';
import { DbError, DbErrorCode } from './db-error';
import { startEmbeddedPostgres } from './embedded-postgres';
import { poolOf, preparedQuery } from './prepared';
import { DATABASE } from './replica-registry.service';
import { MIGRATIONS, startDbApp, testConfig } from './__tests__/helpers';

/** The embedded database: PGlite in a temporary data folder, reached over its wire-protocol socket. */
describe('embedded PGlite database', () => {
  let template: string;
  let dataDir: string;
  // initdb takes seconds; tests that do not test a fresh folder start from a copy of one.
  beforeAll(async () => {
    template = mkdtempSync(join(tmpdir(), 'gatehouse-db-template-'));
    await (await startEmbeddedPostgres(join(template, 'pgdata'))).stop();
  });
  afterAll(() => {
    rmSync(template, { recursive: true, force: true });
  });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-db-'));
    cpSync(join(template, 'pgdata'), join(dataDir, 'pgdata'), { recursive: true });
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on a fresh folder, applies the migrations, and keeps a written row across a restart', async () => {
    rmSync(join(dataDir, 'pgdata'), { recursive: true });
    const config = testConfig({ dataDir });
    const first = await startDbApp(config);
    const marker = '4f1b7a52-1d3e-4a8e-9a57-0c1f3c2b9e10';
    try {
      const db = first.app.get<Database>(DATABASE);
      expect(db.mode).toBe('embedded');
      const messages = first.logs().map((l) => l.msg);
      expect(messages).toContain(`database: embedded PGlite at ${dataDir}/pgdata (single connection)`);
      expect(messages).toContain(`database: applied ${MIGRATIONS} migration(s)`);
      expect(await first.readiness.report()).toEqual({ ready: true, checks: { database: 'ok' } });
      await db.dataSource.query(
        `INSERT INTO gateway_replica (id, hostname, pid, version, started_at, last_seen_at)
         VALUES ($1, 'marker', 1, 'test', now(), now())`,
        [marker],
      );
    } finally {
      await first.close();
    }

    const second = await startDbApp(config);
    try {
      expect(second.logs().map((l) => l.msg)).toContain('database: schema is up to date');
      const rows = await second.app
        .get<Database>(DATABASE)
        .dataSource.query<Array<{ id: string }>>("SELECT id FROM gateway_replica WHERE hostname = 'marker'");
      expect(rows).toEqual([{ id: marker }]);
    } finally {
      await second.close();
    }
  });

  it('serves all queries through exactly one connection', async () => {
    const db = await createDataSource(testConfig({ dataDir }));
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => db.dataSource.query('SELECT $1::int AS n', [i])),
      );
      // Named prepared statements (the audit intent's INSERT) run on that one connection too.
      for (const n of [1, 2])
        expect(await preparedQuery(db.dataSource, 'embedded_probe', 'SELECT $1::int AS n', [n])).toEqual([
          { n },
        ]);
      const pool = poolOf(db.dataSource);
      expect(pool.options.max).toBe(1);
      expect(pool.totalCount).toBe(1);
      expect(await db.embedded?.connections()).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('keeps a rolled-back transaction apart from one committed at the same time', async () => {
    const db = await createDataSource(testConfig({ dataDir }));
    try {
      await db.dataSource.query('CREATE TABLE probe (name text)');
      const rolledBack = db.dataSource
        .transaction(async (tx) => {
          await tx.query("INSERT INTO probe VALUES ('rolled back')");
          // Gives the other transaction every chance to run in between, were it able to.
          await tx.query('SELECT pg_sleep(0.2)');
          throw new Error('abort');
        })
        .catch((err: unknown) => err);
      const committed = db.dataSource.transaction((tx) => tx.query("INSERT INTO probe VALUES ('committed')"));
      const [abort] = await Promise.all([rolledBack, committed]);
      expect(abort).toEqual(new Error('abort'));
      expect(await db.dataSource.query('SELECT name FROM probe')).toEqual([{ name: 'committed' }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a second database on a data folder that is in use', async () => {
    const db = await createDataSource(testConfig({ dataDir }));
    try {
      const failure = await startEmbeddedPostgres(join(dataDir, 'pgdata')).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(DbError);
      expect(failure).toMatchObject({ code: DbErrorCode.EMBEDDED_FAILED });
      expect((failure as Error).message).toContain(`in use by process ${process.pid}`);
      expect(await db.ping()).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('takes over a lock bearing its own pid that it does not hold, as after a container restart', async () => {
    writeFileSync(join(dataDir, 'pgdata.lock'), String(process.pid));
    const db = await createDataSource(testConfig({ dataDir }));
    try {
      expect(await db.ping()).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('takes over a data folder whose lock was left by a process that has exited', async () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(join(dataDir, 'pgdata.lock'), String(gone));
    const db = await createDataSource(testConfig({ dataDir }));
    try {
      expect(await db.ping()).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('runs PGlite in a child process: a crash there leaves this process serving, says how it died, and frees the folder', async () => {
    const first = await startEmbeddedPostgres(join(dataDir, 'pgdata'));
    expect(first.pid).toBeGreaterThan(0);
    expect(first.pid).not.toBe(process.pid);
    process.kill(first.pid, 'SIGSEGV');
    await expect(waitForDeath(first)).resolves.toMatch(/exited \(signal SIGSEGV\)/);
    await first.stop();
    const second = await startEmbeddedPostgres(join(dataDir, 'pgdata'));
    try {
      expect(await second.connections()).toBe(0);
    } finally {
      await second.stop();
    }
  });
});

/** Asks the server for its stats until that fails, and answers the failure's message. */
async function waitForDeath(pg: { connections(): Promise<number> }): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      await pg.connections();
    } catch (err) {
      return (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return 'still running';
}
