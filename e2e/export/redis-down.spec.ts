import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import {
  AuditWriter,
  ExportRuntime,
  S3Archive,
  S3Delivery,
  verifyS3,
  type ExportQuery,
} from '@gatehouse/audit';
import { createLogger } from '@gatehouse/observability';
import { openAuditDb, record, type AuditDb } from '../audit-store/helpers';
import { freePort } from '../transport/processes';
import { startS3Server, type S3Server } from './s3-server';
import { ed25519Pem, exportConfig, queuePrefix, waitFor } from './support';

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
  let store: AuditDb;
  let s3: S3Server;
  let writer: AuditWriter;
  let runtime: ExportRuntime;
  let archive: S3Archive;
  const query: ExportQuery = (sql, params) => store.sql(sql, params);

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
    store = await openAuditDb('audit_export_redis');
    s3 = await startS3Server();
    archive = new S3Archive(s3.options);
    writer = new AuditWriter(store.db.dataSource, { queueSize: 1000, batchSize: 5, flushMs: 1 });
    await writer.start();
    runtime = new ExportRuntime({
      dataSource: store.db.dataSource,
      redisUrl: `redis://127.0.0.1:${port}`,
      config: exportConfig(s3, prefix, key.privatePem),
      logger: createLogger('silent'),
      roles: { relay: true, processors: true },
      deliveries: [new S3Delivery(new S3Archive(s3.options))],
    });
    await runtime.start();
  });

  afterAll(async () => {
    await runtime.stop();
    await writer.flush();
    archive.close();
    await s3.close();
    await store.close();
    if (redis.exitCode === null && redis.signalCode === null) await stopRedis();
  });

  it('keeps writing the trail while Redis is down and exports everything once Redis is back empty', async () => {
    await writer.append(Array.from({ length: 10 }, () => record()));
    await waitFor('the first records in S3', async () => (await runtime.backlog())[0]?.undelivered === 0);

    // Batches stay pending: S3 refuses while jobs exist only in the Redis about to vanish.
    s3.failing = true;
    await writer.append(Array.from({ length: 20 }, () => record()));
    await waitFor('pending batches', async () => ((await runtime.backlog())[0]?.pendingBatches ?? 0) > 0);
    await stopRedis();
    // The trail does not depend on Redis: appends still commit.
    await writer.append(Array.from({ length: 10 }, () => record()));
    s3.failing = false;

    await startRedis();
    await waitFor(
      'S3 to hold every record',
      async () => (await runtime.backlog())[0]?.undelivered === 0,
      60_000,
    );
    const report = await verifyS3(archive, query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(40);
  });
});
