import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AuditWriter, verifyChains } from '@gatehouse/audit';
import { createDataSource, DEFAULT_SERVER_URL, type Database } from '@gatehouse/db';
import { auditConfig, openAuditDb, record, type AuditDb } from './helpers';

/**
 * The grants docs/audit.md gives for managed Postgres, applied verbatim to a scratch database: the
 * gateway's app role appends (also into a month nobody created yet) and reads, and is refused
 * UPDATE, DELETE and TRUNCATE by privilege before any trigger runs.
 */
describe('audit_event as the app role (INSERT and SELECT only)', () => {
  const role = `gatehouse_app_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let store: AuditDb;
  let app: Database;
  let writer: AuditWriter;

  const admin = async (sql: string) => {
    const client = new Client({ connectionString: DEFAULT_SERVER_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    store = await openAuditDb('audit_app_role');
    await admin(`CREATE ROLE ${role} LOGIN`);
    const [{ db } = {}] = await store.sql('SELECT current_database() AS db');
    await store.sql(`GRANT CONNECT ON DATABASE "${String(db)}" TO ${role}`);
    await store.sql(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await store.sql(`GRANT INSERT, SELECT ON audit_event TO ${role}`);
    await store.sql(`GRANT EXECUTE ON FUNCTION audit_ensure_partition(timestamptz) TO ${role}`);
    const url = new URL(store.url);
    url.username = role;
    app = await createDataSource(auditConfig(), { url: url.toString() });
    writer = new AuditWriter(app.dataSource, { queueSize: 100, batchSize: 10, flushMs: 1 });
    await writer.start();
  });

  afterAll(async () => {
    await app.close();
    await store.close();
    await admin(`DROP ROLE IF EXISTS ${role}`);
  });

  it('appends into a month nobody created yet (through audit_ensure_partition) and reads it back', async () => {
    const [{ who } = {}] = await app.dataSource.query('SELECT current_user AS who');
    expect(who).toBe(role);
    const future = record({ occurredAt: new Date('2033-05-20T10:00:00Z') });
    await writer.append([future, record()]);
    const rows = await app.dataSource.query(
      `SELECT tableoid::regclass::text AS part FROM audit_event WHERE id = $1`,
      [future.id],
    );
    expect(rows).toEqual([{ part: 'audit_event_y2033m05' }]);
    expect(await verifyChains((sql, params) => app.dataSource.query(sql, params))).toMatchObject({
      ok: true,
    });
  });

  it.each([
    ['UPDATE', `UPDATE audit_event SET outcome = 'denied'`],
    ['DELETE', `DELETE FROM audit_event`],
    ['TRUNCATE', `TRUNCATE audit_event`],
    ['UPDATE of a partition', `UPDATE audit_event_y2033m05 SET outcome = 'denied'`],
    [
      'CREATE of a partition',
      `CREATE TABLE audit_event_y2034m01 PARTITION OF audit_event FOR VALUES FROM ('2034-01-01') TO ('2034-02-01')`,
    ],
  ])('refuses %s', async (_what, sql) => {
    await expect(app.dataSource.query(sql)).rejects.toThrow(/permission denied|must be owner/);
  });
});
