import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AuditWriter, ExportRuntime, S3Archive, S3Delivery, type ExportQuery } from '@gatehouse/audit';
import { configSchema, type GatehouseConfig } from '@gatehouse/config';
import { createLogger, type Logger } from '@gatehouse/observability';
import { openAuditDb, type AuditDb } from '../audit-store/helpers';
import { waitFor } from '../support/wait-for';
import { startS3Server, type S3Server } from './s3-server';

export { waitFor };

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A fresh Ed25519 signing key as PEM, and its public half. */
export function ed25519Pem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A BullMQ prefix of its own for one test file (no `:`). */
export function queuePrefix(name: string): string {
  return `t-${name}-${randomUUID().slice(0, 8)}`;
}

/**
 * `export.*` for tests: small batches, a fast relay, short backoff and lock, checkpoints every
 * second, against the given S3 server.
 */
export function exportConfig(
  s3: S3Server,
  prefix: string,
  signingKey: string,
  overrides: Record<string, unknown> = {},
): GatehouseConfig['export'] {
  return configSchema.parse({
    redis: { url: REDIS_URL },
    export: {
      enabled: true,
      queuePrefix: prefix,
      relayIntervalMs: 100,
      batchSize: 7,
      batchMaxWaitMs: 0,
      backoffMs: 100,
      attempts: 4,
      deadLetterRetrySeconds: 2,
      jobLockMs: 2000,
      s3: {
        bucket: s3.options.bucket,
        region: s3.options.region,
        endpoint: s3.options.endpoint,
        forcePathStyle: true,
        retentionDays: s3.options.retentionDays,
      },
      checkpoints: { intervalSeconds: 1, signingKey },
      ...overrides,
    },
  }).export;
}

/** Deletes every Redis key of one BullMQ prefix: a Redis flush as far as this test's queues know. */
export async function flushPrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

/** One S3 export against real parts, as most export suites need it. */
export interface S3ExportFixture {
  store: AuditDb;
  s3: S3Server;
  /** A client of the bucket for the test's own reads (list, get, delete behind the exporter's back). */
  archive: S3Archive;
  writer: AuditWriter;
  /** The runtime under test; a test may stop it and put another in its place, which close() stops. */
  runtime: ExportRuntime;
  query: ExportQuery;
  /** Records in `audit_event`. */
  total(): Promise<number>;
  /** Records of the `s3` sink not delivered yet. */
  undelivered(): Promise<number>;
  /** Waits until the `s3` sink has every record. */
  caughtUp(): Promise<void>;
  /** Successful PUTs of one object path, as the recording proxy saw them. */
  successfulPuts(path: string): number;
  /** Stops the runtime, writes what is queued, closes everything and removes the queue's keys. */
  close(): Promise<void>;
}

/**
 * A scratch database with an audit writer (batches of 5), s3rver behind the recording proxy, and an
 * ExportRuntime running relay and processors on `prefix` with {@link exportConfig} and `overrides`.
 */
export async function startS3Export(options: {
  database: string;
  prefix: string;
  signingKey: string;
  redisUrl?: string;
  logger?: Logger;
  overrides?: Record<string, unknown>;
}): Promise<S3ExportFixture> {
  const store = await openAuditDb(options.database);
  const s3 = await startS3Server();
  const archive = new S3Archive(s3.options);
  const writer = new AuditWriter(store.db.dataSource, { queueSize: 1000, batchSize: 5, flushMs: 1 });
  await writer.start();
  const runtime = new ExportRuntime({
    dataSource: store.db.dataSource,
    redisUrl: options.redisUrl ?? REDIS_URL,
    config: exportConfig(s3, options.prefix, options.signingKey, options.overrides),
    logger: options.logger ?? createLogger('silent'),
    roles: { relay: true, processors: true },
    // s3rver's credentials; in production they come from the AWS default chain.
    deliveries: [new S3Delivery(new S3Archive(s3.options))],
  });
  await runtime.start();
  const fixture: S3ExportFixture = {
    store,
    s3,
    archive,
    writer,
    runtime,
    query: (sql, params) => store.sql(sql, params),
    total: async () => Number((await store.sql(`SELECT count(*)::int AS n FROM audit_event`))[0]?.n),
    undelivered: async () =>
      (await fixture.runtime.backlog()).find((b) => b.sink === 's3')?.undelivered ?? -1,
    caughtUp: () => waitFor('the export to catch up', async () => (await fixture.undelivered()) === 0),
    successfulPuts: (path) =>
      s3.seen.filter((r) => r.method === 'PUT' && r.path.split('?')[0] === path && r.status === 200).length,
    close: async () => {
      await fixture.runtime.stop();
      await writer.flush();
      archive.close();
      await s3.close();
      await store.close();
      await flushPrefix(options.prefix);
    },
  };
  return fixture;
}
