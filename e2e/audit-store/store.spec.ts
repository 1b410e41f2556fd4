import { AuditWriter } from '@gatehouse/audit';
import { openAuditDb, record, type AuditDb } from './helpers';

describe('audit_event table (real Postgres, as the owner)', () => {
  let store: AuditDb;
  let writer: AuditWriter;

  beforeAll(async () => {
    store = await openAuditDb('audit_store');
    writer = new AuditWriter(store.db.dataSource, { queueSize: 100, batchSize: 10, flushMs: 1 });
    await writer.start();
  });

  afterAll(async () => {
    await store.close();
  });

  const partitions = async () =>
    (
      await store.sql(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_event'::regclass ORDER BY c.relname`,
      )
    ).map((r) => String(r.relname));

  it('has partitions for this month and the next after the migration', async () => {
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const name = (d: Date) => `audit_event_y${d.toISOString().slice(0, 4)}m${d.toISOString().slice(5, 7)}`;
    expect(await partitions()).toEqual(expect.arrayContaining([name(now), name(next)]));
  });

  it('creates the partition of each new month it writes to and stores rows there', async () => {
    const march = record({ occurredAt: new Date('2031-03-31T23:59:59.999Z') });
    const april = record({ occurredAt: new Date('2031-04-01T00:00:00.000Z') });
    await writer.append([march, april]);
    expect(await partitions()).toEqual(
      expect.arrayContaining(['audit_event_y2031m03', 'audit_event_y2031m04']),
    );
    const rows = await store.sql(
      `SELECT id, tableoid::regclass::text AS part FROM audit_event WHERE id = ANY($1::uuid[])`,
      [[march.id, april.id]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.part]))).toEqual({
      [march.id]: 'audit_event_y2031m03',
      [april.id]: 'audit_event_y2031m04',
    });
  });

  it('creates a month once when two writers reach it together', async () => {
    const [a, b] = await Promise.all([
      store.sql(`SELECT audit_ensure_partition('2032-06-15T00:00:00Z')`),
      store.db.dataSource.query(`SELECT audit_ensure_partition('2032-06-02T00:00:00Z')`),
    ]);
    expect(a).toEqual([{ audit_ensure_partition: 'audit_event_y2032m06' }]);
    expect(b).toEqual(a);
  });

  describe('append-only, even for the owner (R16)', () => {
    const existing = record({ occurredAt: new Date('2031-03-10T12:00:00Z') });

    beforeAll(async () => {
      await writer.append([existing]);
      const [me] = await store.sql(
        `SELECT rolsuper, pg_get_userbyid(relowner) = current_user AS owner FROM pg_roles, pg_class
         WHERE rolname = current_user AND relname = 'audit_event'`,
      );
      expect(me).toEqual({ rolsuper: true, owner: true });
    });

    it.each([
      ['UPDATE on the table', `UPDATE audit_event SET outcome = 'denied' WHERE id = $1`, 'UPDATE'],
      ['UPDATE on a partition', `UPDATE audit_event_y2031m03 SET outcome = 'denied' WHERE id = $1`, 'UPDATE'],
      ['DELETE on the table', `DELETE FROM audit_event WHERE id = $1`, 'DELETE'],
      ['DELETE on a partition', `DELETE FROM audit_event_y2031m03 WHERE id = $1`, 'DELETE'],
    ])('rejects %s', async (_what, sql, op) => {
      await expect(store.sql(sql, [existing.id])).rejects.toThrow(
        `audit_event is append-only: ${op} is not allowed`,
      );
      const [row] = await store.sql(`SELECT outcome FROM audit_event WHERE id = $1`, [existing.id]);
      expect(row).toEqual({ outcome: 'ok' });
    });

    it.each([
      ['the table', 'audit_event'],
      ['a partition the migration created', partitionOfNow()],
      ['a partition the writer created', 'audit_event_y2031m03'],
    ])('rejects TRUNCATE of %s', async (_what, table) => {
      await expect(store.sql(`TRUNCATE ${table}`)).rejects.toThrow(
        'audit_event is append-only: TRUNCATE is not allowed',
      );
      const [row] = await store.sql(`SELECT count(*)::int AS n FROM audit_event WHERE id = $1`, [
        existing.id,
      ]);
      expect(row).toEqual({ n: 1 });
    });
  });
});

function partitionOfNow(): string {
  const iso = new Date().toISOString();
  return `audit_event_y${iso.slice(0, 4)}m${iso.slice(5, 7)}`;
}
