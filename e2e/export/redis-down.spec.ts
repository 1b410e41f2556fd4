import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { verifyS3, type AuditWriter, type ExportRuntime } from '@gatehouse/audit';
import { record } from '../audit-store/helpers';
import { freePort } from '../transport/processes';
import { ed25519Pem, queuePrefix, startS3Export, waitFor, type S3ExportFixture } from './support';

/**
 * R31 and R23 with a Redis of this test's own (a redis-server process without persistence): Redis
 * goes away, records keep being written and the relay pauses; Redis comes back empty (everything
 * queued is gone, like a flush) and the relay re-enqueues from the outbox until S3 has every record.
 */
describe('Redis down, then back empty (R23, R31)', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('redisdown');
  let port: number;
  let redis: ChildProcess;
  let fx: S3ExportFixture;
  let writer: AuditWriter;
  let runtime: ExportRuntime;

  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
    await waitFor('redis-server', async () => {
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      }
    });
    probe.disconnect();
  };
  const stopRedis = () =>
    new Promise<void>((ok) => {
      redis.once('exit', () => ok());
      redis.kill('SIGKILL');
    });

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    fx = await startS3Export({
      database: 'audit_export_redis',
      prefix,
      signingKey: key.privatePem,
      redisUrl: `redis://127.0.0.1:${port}`,
    });
    ({ writer, runtime } = fx);
  });

  afterAll(async () => {
    await fx.close();
    if (redis.exitCode === null && redis.signalCode === null) await stopRedis();
  });

  it('keeps writing the trail while Redis is down and exports everything once Redis is back empty', async () => {
    await writer.append(Array.from({ length: 10 }, () => record()));
    await waitFor('the first records in S3', async () => (await runtime.backlog())[0]?.undelivered === 0);

    // Batches stay pending: S3 refuses while jobs exist only in the Redis about to vanish.
    fx.s3.failing = true;
    await writer.append(Array.from({ length: 20 }, () => record()));
    await waitFor('pending batches', async () => ((await runtime.backlog())[0]?.pendingBatches ?? 0) > 0);
    await stopRedis();
    // The trail does not depend on Redis: appends still commit.
    await writer.append(Array.from({ length: 10 }, () => record()));
    fx.s3.failing = false;

    await startRedis();
    await waitFor(
      'S3 to hold every record',
      async () => (await runtime.backlog())[0]?.undelivered === 0,
      60_000,
    );
    const report = await verifyS3(fx.archive, fx.query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(40);
  });
});
