import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { ExportRuntime, reconcileStates, verifyS3, type ReconcileState } from '@gatehouse/audit';
import { createLogger } from '@gatehouse/observability';
import { runAuditVerify } from '../../apps/cli/src/commands/audit.command';
import { record } from '../audit-store/helpers';
import {
  ed25519Pem,
  exportConfig,
  queuePrefix,
  REDIS_URL,
  startS3Export,
  waitFor,
  type S3ExportFixture,
} from './support';

/**
 * The reconciler (R22) on its own schedule against real parts: Postgres (scratch database), Redis
 * (this file's queue prefix) and s3rver behind the recording proxy, which can refuse everything
 * (503) or only uploads. Time is compressed through the configuration: a pass every second, a gap
 * alert for a record missing longer than 2 s, one hour of records per pass.
 */
describe('the export reconciler (R22)', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('reconcile');
  const logs: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  let fx: S3ExportFixture;
  /** Waits for a pass that began after `since` and satisfies `check`; returns its state. */
  const pass = async (what: string, since: number, check: (s: ReconcileState) => boolean) => {
    let found: ReconcileState | undefined;
    await waitFor(what, async () => {
      const s = (await reconcileStates(fx.query)).get('s3');
      if (s && s.periodTo.getTime() > since && check(s)) found = s;
      return found !== undefined;
    });
    if (!found) throw new Error(what);
    return found;
  };
  const matching = (s: ReconcileState) =>
    s.source === 'bucket' && !s.gapAlert && s.missingRecords === 0 && s.error === null;

  beforeAll(async () => {
    fx = await startS3Export({
      database: 'audit_reconcile',
      prefix,
      signingKey: key.privatePem,
      logger: createLogger('info', {
        write: (line: string) => {
          logs.push(JSON.parse(line) as (typeof logs)[number]);
        },
      }),
      overrides: {
        reconcile: { intervalSeconds: 1, lookbackHours: 1, gapAlertSeconds: 2 },
        lagAlertSeconds: 1,
      },
    });
  });
  afterAll(() => fx.close());

  it('raises the gap alert while S3 answers 503 for longer than the threshold, clears it after, and the counts match', async () => {
    await pass('a pass with every record in the bucket', Date.now(), matching);

    const mark = logs.length;
    fx.s3.failing = true;
    await fx.writer.append(Array.from({ length: 20 }, () => record()));
    const down = await pass(
      'the gap alert while S3 refuses',
      Date.now(),
      (s) => s.gapAlert && s.source === 'acknowledgements',
    );
    expect(down.error).toMatch(/could not be listed.*HTTP 503/);
    expect(down.missingRecords).toBeGreaterThanOrEqual(20);
    expect(down.gapSince).not.toBeNull();
    // S3 stays down across several passes: the alert stays raised, from the same moment, and is logged once.
    const later = await pass(
      'three more passes with S3 down',
      (down.gapSince?.getTime() ?? 0) + 3000,
      (s) => s.gapAlert,
    );
    expect(later.gapSince).toEqual(down.gapSince);
    expect(logs.slice(mark).filter((l) => l.level === 50 && /s3 lacks \d+ record/.test(l.msg))).toHaveLength(
      1,
    );
    // The lag alert (R32), the outbox's own view: one error log naming the sink's last error.
    const lagAlerts = logs.slice(mark).filter((l) => l.level === 50 && /s3 is \d+ s behind/.test(l.msg));
    expect(lagAlerts).toHaveLength(1);
    expect(lagAlerts[0]).toMatchObject({ sink: 's3', lastError: expect.stringMatching(/HTTP 503/) });

    fx.s3.failing = false;
    const back = await pass('the gap to close once S3 is back', Date.now(), matching);
    const records = await fx.total();
    expect(back).toMatchObject({ postgresRecords: records, heldRecords: records, gapSince: null });
    expect(logs.some((l) => l.level === 30 && /s3 gap closed/.test(l.msg))).toBe(true);
    expect(logs.slice(mark).some((l) => l.level === 30 && /audit export: s3 caught up/.test(l.msg))).toBe(
      true,
    );
    const verified = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(verified.problems).toEqual([]);
    expect(verified.records).toBe(records);
  });

  it('finds an object removed from the bucket on its own schedule and ships it again under the same key', async () => {
    await fx.caughtUp();
    const [object] = await fx.archive.list('audit/');
    if (!object) throw new Error('no object in the bucket');
    expect(fx.successfulPuts(`/${fx.s3.bucket}/${object}`)).toBe(1);
    await fx.archive.client.send(new DeleteObjectCommand({ Bucket: fx.s3.bucket, Key: object }));

    await waitFor('the object back in the bucket', async () => (await fx.archive.head(object)) !== undefined);
    expect(fx.successfulPuts(`/${fx.s3.bucket}/${object}`)).toBe(2);
    expect(logs.some((l) => l.level === 50 && l.key === object && /is not in the bucket/.test(l.msg))).toBe(
      true,
    );
    await fx.caughtUp();
    const after = await pass('a pass with every record back', Date.now(), matching);
    expect(after.heldRecords).toBe(await fx.total());
    expect((await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem })).problems).toEqual([]);
  });

  it('alerts on records with no manifest in the bucket older than the threshold, from the bucket listing', async () => {
    fx.s3.failingPuts = true;
    const old = Array.from({ length: 5 }, () => record({ occurredAt: new Date(Date.now() - 10_000) }));
    await fx.writer.append(old);
    const gap = await pass('the gap alert from the listing', Date.now(), (s) => s.gapAlert);
    // The bucket answered the listing: the comparison is against it, not against the acknowledgements.
    expect(gap).toMatchObject({ source: 'bucket', error: null, missingRecords: 5 });
    expect(gap.oldestMissingAt?.getTime()).toBeLessThan(Date.now() - 9_000);
    const alert = logs.filter((l) => l.level === 50 && /s3 lacks 5 record/.test(l.msg)).at(-1);
    const seqs = await fx.store.sql(`SELECT writer_id, seq FROM audit_event WHERE id = ANY($1::uuid[])`, [
      old.map((r) => r.id),
    ]);
    const first = alert?.firstMissing as { writerId: string; firstSeq: number; lastSeq: number };
    expect(seqs).toContainEqual({ writer_id: first.writerId, seq: String(first.firstSeq) });

    fx.s3.failingPuts = false;
    const back = await pass('the gap to close once uploads work', Date.now(), matching);
    expect(back.heldRecords).toBe(await fx.total());
  });

  it('gatehouse audit verify --s3 --from/--to compares only the records of that period', async () => {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    const then = hoursAgo(3);
    await fx.writer.append(Array.from({ length: 6 }, () => record({ occurredAt: then })));
    await fx.caughtUp();
    // Stopped, so nothing ships the removed object again.
    await fx.runtime.stop();
    const [lost] = (await fx.archive.list('audit/')).filter((k) =>
      k.startsWith(`audit/${then.toISOString().slice(0, 13).replace(/[-T]/g, '/')}/`),
    );
    if (!lost) throw new Error('no object from three hours ago');
    await fx.archive.client.send(new DeleteObjectCommand({ Bucket: fx.s3.bucket, Key: lost }));

    const dir = mkdtempSync(join(tmpdir(), 'verify-s3-period-'));
    writeFileSync(join(dir, 'public.pem'), key.publicPem);
    const verify = async (period: { from?: Date; to?: Date }) => {
      const out: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
      const code = await runAuditVerify(
        {
          databaseUrl: fx.store.url,
          s3: true,
          bucket: fx.s3.bucket,
          endpoint: fx.s3.endpoint,
          pathStyle: true,
          publicKey: join(dir, 'public.pem'),
          ...period,
        },
        { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
        io,
      );
      return { code, text: out.join('') };
    };

    const recent = await verify({ from: hoursAgo(1) });
    expect(recent.text).toMatch(/ok {2}S3: \d+ record\(s\) in \d+ object\(s\) from .* to now/);
    expect(recent.code).toBe(0);
    const earlier = await verify({ to: hoursAgo(2) });
    expect(earlier.text).toContain(`S3  ${lost}: missing`);
    expect(earlier.code).toBe(1);
    expect((await verify({})).code).toBe(1);
    fx.runtime = new ExportRuntime({
      dataSource: fx.store.db.dataSource,
      redisUrl: REDIS_URL,
      config: exportConfig(fx.s3, prefix, key.privatePem),
      logger: createLogger('silent'),
      roles: { relay: false, processors: false },
    });
    await fx.runtime.start();
  });
});
