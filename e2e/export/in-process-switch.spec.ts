import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  AUDIT_SINK,
  ExportRuntime,
  ExportService,
  queueName,
  S3Archive,
  S3Delivery,
  verifyS3,
  type AuditSink,
} from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { createScratchDatabase, DEFAULT_SERVER_URL, type ScratchDatabase } from '@gatehouse/db';
import { createLogger, Metrics } from '@gatehouse/observability';
import { DataSource } from 'typeorm';
import { AppModule } from '../../apps/gateway/src/app.module';
import { record } from '../audit-store/helpers';
import { transportDefaults } from '../transport/processes';
import { startS3Server, type S3Server } from './s3-server';
import { ed25519Pem, exportConfig, flushPrefix, queuePrefix, REDIS_URL, waitFor } from './support';

/** The real gateway's root module on Fastify with this export configuration, its logs kept in `logs`. */
async function exportGateway(
  db: ScratchDatabase,
  s3: S3Server,
  options: { inProcess: boolean; prefix: string; signingKey: string },
  logs: Array<{ level: number; msg: string }>,
): Promise<NestFastifyApplication> {
  const loaded = parseConfigText(
    transportDefaults(
      [
        'log:\n  level: info',
        `database:\n  url: ${JSON.stringify(db.url)}`,
        `redis:\n  url: ${REDIS_URL}`,
        'export:',
        '  enabled: true',
        `  inProcess: ${options.inProcess}`,
        `  queuePrefix: ${options.prefix}`,
        '  relayIntervalMs: 100',
        '  batchSize: 5',
        '  batchMaxWaitMs: 0',
        `  s3: { bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, retentionDays: 30 }`,
        `  checkpoints:\n    signingKey: ${JSON.stringify(options.signingKey)}`,
        '',
      ].join('\n'),
    ),
    {},
  );
  const logger = createLogger('info', {
    write: (line: string) => {
      logs.push(JSON.parse(line) as (typeof logs)[number]);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(loaded, logger, new Metrics()),
    new FastifyAdapter(),
    { logger: ['error', 'warn'] },
  );
  await app.init();
  return app;
}

/**
 * The config switch of issue 6 point 1 in its other position: with `export.inProcess: false` the
 * real gateway (its root module on Fastify, scratch Postgres, Redis, s3rver) exports nothing
 * itself and says so; its health still answers from the outbox tables, and a separate export
 * process (the worker's runtime, relay and processors) ships what the gateway recorded.
 */
describe('a gateway with export.inProcess false leaves the export to the workers', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('notinproc');
  const logs: Array<{ level: number; msg: string }> = [];
  let db: ScratchDatabase;
  let s3: S3Server;
  let app: NestFastifyApplication;
  let worker: ExportRuntime | undefined;

  beforeAll(async () => {
    s3 = await startS3Server();
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_export_notinproc');
    app = await exportGateway(db, s3, { inProcess: false, prefix, signingKey: key.privatePem }, logs);
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await db?.drop();
    await s3?.close();
    await flushPrefix(prefix);
  });

  it('records and reports the backlog but ships nothing until a worker runs', async () => {
    expect(
      logs.some((l) => /left to `npm run worker` processes \(export\.inProcess is false\)/.test(l.msg)),
    ).toBe(true);
    const sink = app.get<AuditSink>(AUDIT_SINK);
    const records = Array.from({ length: 12 }, () => record());
    await sink.append(records);
    const dataSource = app.get(DataSource);
    // The gateway's own records (its first-start policy import, replica events) besides these
    // twelve; they may still be arriving, so each check counts the table just before and after.
    const countAll = async () => {
      const [{ n = 0 } = {}] = await dataSource.query<Array<{ n?: number }>>(
        `SELECT count(*)::int AS n FROM audit_event`,
      );
      return n;
    };
    expect(await countAll()).toBeGreaterThanOrEqual(12);
    const health = app.get(ExportService);
    const s3Backlog = async () => (await health.health()).sinks.find((s) => s.sink === 's3');
    /** Nothing shipped: the backlog is every record in the table. */
    const expectAllUndelivered = async () => {
      const before = await countAll();
      const backlog = await s3Backlog();
      const after = await countAll();
      expect(backlog?.undelivered).toBeGreaterThanOrEqual(before);
      expect(backlog?.undelivered).toBeLessThanOrEqual(after);
      expect(backlog?.pendingBatches).toBe(0);
    };
    await expectAllUndelivered();
    // Ten relay intervals: an in-process relay would have cut batches and queued jobs by now.
    await new Promise((ok) => setTimeout(ok, 1_000));
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(s3.seen).toEqual([]);
    await expectAllUndelivered();

    // A worker (the same runtime apps/worker starts) on the same database and Redis ships it all.
    worker = new ExportRuntime({
      dataSource,
      redisUrl: REDIS_URL,
      config: exportConfig(s3, prefix, key.privatePem),
      logger: createLogger('silent'),
      roles: { relay: true, processors: true },
      deliveries: [new S3Delivery(new S3Archive(s3.options))],
    });
    await worker.start();
    await waitFor('the worker to ship every record', async () => (await s3Backlog())?.undelivered === 0);
    const archive = new S3Archive(s3.options);
    try {
      const report = await verifyS3(archive, (sql, params) => dataSource.query(sql, params), {
        publicKey: key.publicPem,
      });
      expect(report.problems).toEqual([]);
      expect(report.records).toBe(await countAll());
    } finally {
      archive.close();
    }
  });
});

/**
 * With `export.inProcess` (the default) the gateway starts its export in the background, so calls
 * never wait for Redis. A gateway shut down before that start finished must not leave the relay
 * and the BullMQ workers running after it (they kept the process alive).
 */
describe('a gateway shut down while its in-process export is still starting', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('closestart');
  const logs: Array<{ level: number; msg: string }> = [];
  let db: ScratchDatabase;
  let s3: S3Server;

  beforeAll(async () => {
    s3 = await startS3Server();
    db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_export_closestart');
  });

  afterAll(async () => {
    await db?.drop();
    await s3?.close();
    await flushPrefix(prefix);
  });

  it('stops the export that finished starting after the shutdown: no worker is left on its queue', async () => {
    const app = await exportGateway(db, s3, { inProcess: true, prefix, signingKey: key.privatePem }, logs);
    await app.close();
    await waitFor('the in-process export to finish starting', () =>
      logs.some((l) => /audit export: shipping to s3/.test(l.msg)),
    );
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(queueName('s3'), { connection, prefix });
    try {
      await waitFor(
        'no export worker left on the queue',
        async () => (await queue.getWorkers()).length === 0,
      );
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
