import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import {
  assertNoEviction,
  ExportRuntime,
  queueName,
  verifyS3,
  type SignedCheckpoint,
} from '@gatehouse/audit';
import { createLogger } from '@gatehouse/observability';
import { runAuditVerify } from '../../apps/cli/src/commands/audit.command';
import { record } from '../audit-store/helpers';
import { freePort } from '../transport/processes';
import {
  ed25519Pem,
  exportConfig,
  flushPrefix,
  queuePrefix,
  REDIS_URL,
  startS3Export,
  waitFor,
  type S3ExportFixture,
} from './support';

/**
 * The S3 export against real parts: Postgres (scratch database), Redis (a queue prefix of this
 * file's own), and s3rver behind a proxy that records every request and can answer 503.
 */
describe('audit export to S3 (R18, R19, R21, R23, R24)', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('s3export');
  let fx: S3ExportFixture;

  beforeAll(async () => {
    fx = await startS3Export({ database: 'audit_export_s3', prefix, signingKey: key.privatePem });
  });
  afterAll(() => fx.close());

  it('ships every record to S3 exactly once, with manifests and a signed checkpoint', async () => {
    await Promise.all(
      Array.from({ length: 6 }, () => fx.writer.append([record(), record(), record(), record(), record()])),
    );
    await fx.caughtUp();
    await waitFor('a checkpoint in S3', async () => (await fx.archive.list('checkpoints/')).length > 0);
    const report = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(30);
    const objects = await fx.archive.list('audit/');
    expect(objects.length).toBe((await fx.archive.list('manifests/')).length);
    for (const object of objects) expect(fx.successfulPuts(`/${fx.s3.bucket}/${object}`)).toBe(1);
  });

  it('puts every object under Object Lock COMPLIANCE with the configured retention and a SHA-256 checksum (R19)', () => {
    const puts = fx.s3.seen.filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThan(0);
    const minimum = Date.now() + 29 * 86_400_000;
    for (const put of puts) {
      expect(put.headers['x-amz-object-lock-mode']).toBe('COMPLIANCE');
      expect(Date.parse(String(put.headers['x-amz-object-lock-retain-until-date']))).toBeGreaterThan(minimum);
      expect(put.headers['x-amz-checksum-sha256']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(put.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    }
  });

  it('keeps retrying while S3 answers 503, then delivers each object once', async () => {
    fx.s3.failing = true;
    await fx.writer.append(Array.from({ length: 20 }, () => record()));
    await waitFor('S3 to refuse some requests', () => fx.s3.refused > 3);
    await waitFor('a failed attempt in the outbox', async () => {
      const [row] = await fx.store.sql(
        `SELECT count(*)::int AS n FROM audit_export_batch WHERE status = 'pending' AND last_error LIKE '%HTTP 503%'`,
      );
      return Number(row?.n) > 0;
    });
    expect((await fx.runtime.backlog())[0]?.lastError).toMatch(/HTTP 503/);
    fx.s3.failing = false;
    await fx.caughtUp();
    const report = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(await fx.total());
    for (const object of await fx.archive.list('audit/'))
      expect(fx.successfulPuts(`/${fx.s3.bucket}/${object}`)).toBe(1);
  });

  it('re-enqueues from the outbox after the queue is flushed from Redis', async () => {
    fx.s3.failing = true;
    await fx.writer.append(Array.from({ length: 15 }, () => record()));
    const redis = new Redis(REDIS_URL);
    try {
      await waitFor(
        'jobs in Redis',
        async () => (await redis.keys(`${prefix}:${queueName('s3')}:*`)).length > 3,
      );
    } finally {
      redis.disconnect();
    }
    expect(await flushPrefix(prefix)).toBeGreaterThan(0);
    fx.s3.failing = false;
    await fx.caughtUp();
    const report = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(await fx.total());
  });

  it('lists a batch that failed every attempt as a dead letter and retries it after the cool-down', async () => {
    fx.s3.failing = true;
    await fx.writer.append(Array.from({ length: 3 }, () => record()));
    await waitFor(
      'a dead letter',
      async () => ((await fx.runtime.backlog())[0]?.deadLetters.length ?? 0) > 0,
    );
    const [dead] = (await fx.runtime.backlog())[0]?.deadLetters ?? [];
    expect(dead?.jobId).not.toContain(':');
    expect(dead?.attempts).toBe(4);
    expect(dead?.lastError).toMatch(/HTTP 503/);
    fx.s3.failing = false;
    await fx.caughtUp();
    expect((await fx.runtime.backlog())[0]?.deadLetters).toEqual([]);
    expect((await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem })).problems).toEqual([]);
  });

  it('gatehouse audit verify --s3 passes on the archive and names nothing', async () => {
    await waitFor('the export to catch up', async () => (await fx.undelivered()) === 0);
    const dir = mkdtempSync(join(tmpdir(), 'verify-s3-'));
    writeFileSync(join(dir, 'public.pem'), key.publicPem);
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
      },
      { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      io,
    );
    expect(out.join('')).toMatch(
      /ok {2}S3: \d+ record\(s\) in \d+ object\(s\), [1-9]\d* checkpoint\(s\) verify/,
    );
    expect(code).toBe(0);
  });

  it('ships a batch again when its object is gone from the bucket (R22 reconciler)', async () => {
    await fx.caughtUp();
    const [object] = await fx.archive.list('audit/');
    expect(object).toBeDefined();
    await fx.archive.client.send(new DeleteObjectCommand({ Bucket: fx.s3.bucket, Key: object }));
    expect((await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem })).ok).toBe(false);
    const [report] = await fx.runtime.reconcileOnce();
    expect(report).toMatchObject({ sink: 's3', source: 'bucket', gapAlert: false });
    expect(report?.reshipped).toHaveLength(1);
    expect(report?.missingRecords).toBeGreaterThan(0);
    await waitFor(
      'the object back in the bucket',
      async () => (await fx.archive.head(object ?? '')) !== undefined,
    );
    await fx.caughtUp();
    expect((await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem })).problems).toEqual([]);
  });

  it('detects the newest records of a chain deleted from Postgres after a checkpoint covered them (R18)', async () => {
    await waitFor('a checkpoint in S3 covering every chain head', async () => {
      const [latest] = await fx.store.sql(
        `SELECT body FROM audit_export_checkpoint WHERE status = 'done' ORDER BY number DESC LIMIT 1`,
      );
      if (!latest) return false;
      const covered = (JSON.parse(String(latest.body)) as SignedCheckpoint).body.heads;
      const heads = await fx.store.sql(`SELECT writer_id, last_seq FROM audit_chain_head`);
      return heads.every((h) =>
        covered.some((c) => c.writerId === h.writer_id && c.seq === Number(h.last_seq)),
      );
    });
    await fx.runtime.stop();
    const [head] = await fx.store.sql(
      `SELECT writer_id, last_seq FROM audit_chain_head ORDER BY last_seq DESC LIMIT 1`,
    );
    // A superuser removing the tail of a chain: triggers off, so the append-only rule is bypassed.
    await fx.store.sql(`SET session_replication_role = replica`);
    await fx.store.sql(`DELETE FROM audit_event WHERE writer_id = $1 AND seq = $2`, [
      head?.writer_id,
      head?.last_seq,
    ]);
    await fx.store.sql(`SET session_replication_role = origin`);
    const report = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/is gone from Postgres: records were deleted/);
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    const code = await runAuditVerify(
      {
        databaseUrl: fx.store.url,
        s3: true,
        bucket: fx.s3.bucket,
        endpoint: fx.s3.endpoint,
        pathStyle: true,
      },
      { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      io,
    );
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/S3 {2}.*not in Postgres/);
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

describe('the Redis check at start (R23)', () => {
  it('refuses a Redis whose maxmemory-policy may evict jobs, naming the fix', async () => {
    const port = await freePort();
    const server = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--maxmemory-policy', 'allkeys-lru'],
      {
        stdio: 'ignore',
      },
    );
    const redis = new Redis({ port, lazyConnect: true, retryStrategy: (n) => (n > 50 ? null : 100) });
    try {
      await waitFor('redis-server to accept connections', async () => {
        try {
          await redis.connect();
          return true;
        } catch {
          return false;
        }
      });
      await expect(assertNoEviction(redis)).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await expect(assertNoEviction(redis)).resolves.toBeUndefined();
    } finally {
      redis.disconnect();
      server.kill('SIGTERM');
    }
  });
});
