import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AuditWriter, chainHash, contentRow, contentRowFromDb, verifyChains } from '@gatehouse/audit';
import { auditCommand, runAuditVerify } from '../../apps/cli/src/commands/audit.command';
import { runCli } from '../../apps/cli/src/auth/__tests__/cli';
import { openAuditDb, record, type AuditDb } from './helpers';

/**
 * Tampering as an attacker with superuser rights would: the append-only triggers are switched off
 * for the session (session_replication_role = replica), then rows are edited, deleted, reordered
 * or inserted. Each case writes its own chain on its own day and verifies that day only.
 */
describe('gatehouse audit verify (real Postgres)', () => {
  let store: AuditDb;
  let attacker: Client;
  let day = 0;

  beforeAll(async () => {
    store = await openAuditDb('audit_verify');
    attacker = new Client({ connectionString: store.url });
    await attacker.connect();
    await attacker.query('SET session_replication_role = replica');
  });

  afterAll(async () => {
    await attacker.end();
    await store.close();
  });

  /**
   * Six records of one new writer on a day of their own; returns the day's range and the rows by
   * seq. `elsewhere` records (by index) carry a time a year away from the day (a year later, so
   * no other case's range holds them), as a fallback upload written late carries its own time.
   */
  async function chain(elsewhere: number[] = []) {
    day += 1;
    const from = new Date(Date.UTC(2030, 0, day));
    const to = new Date(Date.UTC(2030, 0, day + 1));
    const writer = new AuditWriter(store.db.dataSource, {
      queueSize: 100,
      batchSize: 4,
      flushMs: 1,
      lanes: 1,
    });
    const records = Array.from({ length: 6 }, (_, i) =>
      record({
        occurredAt: new Date(from.getTime() + i * 60_000 + (elsewhere.includes(i) ? 365 * 86_400_000 : 0)),
      }),
    );
    await Promise.all(records.map((r) => writer.append([r])));
    const writerId = writer.stats().chains[0]?.writerId ?? '';
    const ids = records.map((r) => r.id);
    return { from, to, writerId, ids };
  }

  async function cli(flags: { from?: Date; to?: Date }) {
    let out = '';
    let err = '';
    const status = await runAuditVerify(
      { ...flags, databaseUrl: store.url },
      {},
      {
        out: (text) => void (out += text),
        err: (text) => void (err += text),
      },
    );
    return { status, out, err };
  }

  it('passes an untouched trail with exit 0', async () => {
    const { from, to } = await chain();
    await chain();
    const whole = await cli({});
    expect(whole).toEqual({ status: 0, out: 'ok  12 record(s) in 2 chain(s) verify\n', err: '' });
    expect(await cli({ from, to })).toMatchObject({
      status: 0,
      out: 'ok  6 record(s) in 1 chain(s) verify\n',
    });
  });

  it('checks a chain that enters the range against its predecessor outside it', async () => {
    const { from, to, ids } = await chain();
    const mid = new Date(from.getTime() + 3 * 60_000);
    expect(await verifyChains(store.sql, { from: mid, to })).toMatchObject({ ok: true, records: 3 });
    await attacker.query('DELETE FROM audit_event WHERE id = $1', [ids[2]]);
    expect((await verifyChains(store.sql, { from: mid, to })).broken).toEqual([
      expect.objectContaining({ seq: 4, id: ids[3], problem: expect.stringContaining('seq 3 missing') }),
    ]);
  });

  it("checks records written between the range's records with a time outside it, instead of calling them deleted", async () => {
    const { from, to, writerId, ids } = await chain([2, 3]);
    expect(await verifyChains(store.sql, { from, to })).toMatchObject({ ok: true, chains: 1, records: 6 });
    await attacker.query(`UPDATE audit_event SET arguments = '{"sql":"SELECT 2"}' WHERE id = $1`, [ids[3]]);
    expect((await verifyChains(store.sql, { from, to })).broken).toEqual([
      { writerId, seq: 4, id: ids[3], problem: 'hash does not match the record: it was edited' },
    ]);
  });

  it('names an edited record', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query(`UPDATE audit_event SET arguments = '{"sql":"SELECT 2"}' WHERE id = $1`, [ids[2]]);
    const run = await cli({ from, to });
    expect(run.status).toBe(1);
    expect(run.out).toBe(
      `BROKEN  writer ${writerId} seq 3 id ${ids[2]}: hash does not match the record: it was edited\n` +
        'FAIL  1 broken chain(s); 6 record(s) in 1 chain(s)\n',
    );
  });

  it('names the next record when an edited record got a recomputed hash', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query(`UPDATE audit_event SET outcome = 'denied' WHERE id = $1`, [ids[2]]);
    const { rows } = await attacker.query('SELECT * FROM audit_event WHERE id = $1', [ids[2]]);
    const edited = rows[0] as Record<string, unknown>;
    const rehashed = chainHash(edited.prev_hash as Buffer, writerId, 3, contentRowFromDb(edited));
    await attacker.query('UPDATE audit_event SET hash = $2 WHERE id = $1', [ids[2], rehashed]);
    expect((await verifyChains(store.sql, { from, to })).broken).toEqual([
      {
        writerId,
        seq: 4,
        id: ids[3],
        problem: 'prev_hash is not the hash of seq 3: records were removed, inserted or reordered',
      },
    ]);
  });

  it('names the gap when a record was deleted', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query('DELETE FROM audit_event WHERE id = $1', [ids[2]]);
    const run = await cli({ from, to });
    expect(run.status).toBe(1);
    expect(run.out).toContain(
      `BROKEN  writer ${writerId} seq 4 id ${ids[3]}: seq 3 missing: records were deleted\n`,
    );
  });

  it('names a chain whose first record was deleted', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query('DELETE FROM audit_event WHERE id = $1', [ids[0]]);
    expect((await verifyChains(store.sql, { from, to })).broken).toEqual([
      {
        writerId,
        seq: 2,
        id: ids[1],
        problem: "seq 1 missing before the chain's first record in range: records were deleted",
      },
    ]);
  });

  it('names reordered records', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query(
      'UPDATE audit_event SET seq = CASE WHEN id = $1 THEN 4 ELSE 3 END WHERE id IN ($1, $2)',
      [ids[2], ids[3]],
    );
    expect((await verifyChains(store.sql, { from, to })).broken).toEqual([
      {
        writerId,
        seq: 3,
        id: ids[3],
        problem: 'prev_hash is not the hash of seq 2: records were removed, inserted or reordered',
      },
    ]);
  });

  it('names a record inserted in the middle, with the later records renumbered', async () => {
    const { from, to, writerId, ids } = await chain();
    const [third] = (
      await attacker.query('SELECT hash, occurred_at FROM audit_event WHERE id = $1', [ids[2]])
    ).rows as Array<Record<string, unknown>>;
    await attacker.query('UPDATE audit_event SET seq = seq + 1 WHERE writer_id = $1 AND seq >= 4', [
      writerId,
    ]);
    const forged = contentRow(record({ id: randomUUID(), occurredAt: third?.occurred_at as Date }));
    const hash = chainHash(third?.hash as Buffer, writerId, 4, forged);
    await insertRaw({ ...forged, writer_id: writerId, seq: 4, prev_hash: third?.hash, hash });
    const report = await verifyChains(store.sql, { from, to });
    expect(report.records).toBe(7);
    expect(report.broken).toEqual([
      {
        writerId,
        seq: 5,
        id: ids[3],
        problem: 'prev_hash is not the hash of seq 4: records were removed, inserted or reordered',
      },
    ]);
  });

  it('names a record inserted with a sequence number already taken', async () => {
    const { from, to, writerId, ids } = await chain();
    const [third] = (
      await attacker.query('SELECT hash, occurred_at FROM audit_event WHERE id = $1', [ids[2]])
    ).rows as Array<Record<string, unknown>>;
    const forgedId = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    const forged = contentRow(record({ id: forgedId, occurredAt: third?.occurred_at as Date }));
    const hash = chainHash(third?.hash as Buffer, writerId, 4, forged);
    await insertRaw({ ...forged, writer_id: writerId, seq: 4, prev_hash: third?.hash, hash });
    const report = await verifyChains(store.sql, { from, to });
    expect(report.broken).toEqual([
      {
        writerId,
        seq: 4,
        id: forgedId,
        problem: `seq 4 appears twice (ids ${ids[3]} and ${forgedId}): a record was inserted`,
      },
    ]);
  });

  it('runs as `gatehouse audit verify --from --to --database-url` and sets the exit status', async () => {
    const { from, to, writerId, ids } = await chain();
    await attacker.query(`UPDATE audit_event SET touched = '{}' WHERE id = $1`, [ids[5]]);
    let out = '';
    const io = { out: (text: string) => void (out += text), err: (text: string) => void (out += text) };
    const argv = [
      'verify',
      '--from',
      from.toISOString(),
      '--to',
      to.toISOString(),
      '--database-url',
      store.url,
    ];
    try {
      await auditCommand(io, {}).parseAsync(argv, { from: 'user' });
      expect(process.exitCode).toBe(1);
      expect(out).toContain(`BROKEN  writer ${writerId} seq 6 id ${ids[5]}: hash does not match the record`);
      out = '';
      // The first two days hold the untouched chains of the first test.
      await auditCommand(io, { DATABASE_URL: store.url }).parseAsync(['verify', '--to', '2030-01-03'], {
        from: 'user',
      });
      expect(process.exitCode).toBe(0);
      expect(out).toBe('ok  12 record(s) in 2 chain(s) verify\n');
    } finally {
      process.exitCode = undefined;
    }
  });

  it('exits 2 from the built CLI when the check cannot run (bad time, no database), 1 when tampered', async () => {
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const cliRun = runCli(['audit', 'verify', ...args], env);
      return { status: await cliRun.exit, out: cliRun.stdout(), err: cliRun.stderr() };
    };
    expect(await run(['--from', 'yesterday'])).toMatchObject({
      status: 2,
      err: expect.stringContaining('"yesterday" is not a time') as unknown,
    });
    expect(await run([])).toMatchObject({
      status: 2,
      err: expect.stringContaining('no database') as unknown,
    });
    expect(await run([], { DATABASE_URL: store.url })).toMatchObject({
      status: 1,
      out: expect.stringContaining('FAIL  ') as unknown,
    });
  });

  async function insertRaw(row: Record<string, unknown>): Promise<void> {
    const json = Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : v]),
    );
    await attacker.query(
      'INSERT INTO audit_event SELECT * FROM jsonb_populate_recordset(NULL::audit_event, $1::jsonb)',
      [JSON.stringify([json])],
    );
  }
});
