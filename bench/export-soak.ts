/**
 * `npm run bench:export [-- --records 1000000] [--out file]`: ships N generated audit records
 * (default 1 million) through the export to S3 (s3rver, files on local disk) and syslog (Debian's
 * rsyslogd over TCP, JSON payloads), and reports records/s per sink and the lag (age of the
 * oldest undelivered record) seen while the trail was being written.
 *
 * Records are written by the real AuditWriter as fast as it goes (32 concurrent appends of 500),
 * while the real ExportRuntime (relay + BullMQ workers, local Redis) exports them with the default
 * batch size. At the end the whole archive is checked with verifyS3. Writes
 * `bench/reports/<YYYY-MM-DD>-export.md`. Needs local Postgres, Redis (noeviction) and rsyslogd.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import {
  AuditWriter,
  configuredDeliveries,
  ExportRuntime,
  S3Archive,
  S3Delivery,
  verifyS3,
} from '@gatehouse/audit';
import { configSchema } from '@gatehouse/config';
import { createDataSource, createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { createLogger } from '@gatehouse/observability';
import { startS3Server } from '../e2e/export/s3-server';
import { ed25519Pem } from '../e2e/export/support';
import { sampleRecord } from './audit-sample';
import { startRsyslog } from '../e2e/support/rsyslog';

const REDIS_URL = 'redis://127.0.0.1:6379';
const WRITERS = 8;
const APPEND = 500;

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const total = Number(flag('--records') ?? 1_000_000);
  const date = new Date().toISOString().slice(0, 10);
  const out = flag('--out') ?? join('bench', 'reports', `${date}-export.md`);
  const prefix = `bench-export-${randomUUID().slice(0, 8)}`;
  const load0 = loadavg()[0] ?? 0;

  const scratch = await createScratchDatabase(process.env.DATABASE_URL ?? DEFAULT_SERVER_URL, 'bench_export');
  const s3 = await startS3Server();
  const rsyslog = await startRsyslog();
  const key = ed25519Pem();
  const config = configSchema.parse({
    database: { url: scratch.url },
    redis: { url: REDIS_URL },
    export: {
      enabled: true,
      queuePrefix: prefix,
      relayIntervalMs: 250,
      batchMaxWaitMs: 1000,
      s3: { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, retentionDays: 1 },
      checkpoints: { intervalSeconds: 60, signingKey: key.privatePem },
      siem: { soc: { type: 'syslog', host: '127.0.0.1', port: rsyslog.port, format: 'json' } },
    },
  });
  const db = await createDataSource(config, { url: scratch.url });
  await db.migrate();
  // A soak measures throughput: appends may wait longer than the hot-path bound (R30).
  const writer = new AuditWriter(db.dataSource, { ...config.audit, timeoutMs: 120_000 });
  await writer.start();
  const archive = new S3Archive(s3.options);
  const runtime = new ExportRuntime({
    dataSource: db.dataSource,
    redisUrl: REDIS_URL,
    config: config.export,
    logger: createLogger('warn'),
    roles: { relay: true, processors: true },
    // S3 with s3rver's credentials; the SIEM and alert deliveries as the configuration makes them.
    deliveries: [
      new S3Delivery(archive),
      ...configuredDeliveries({ ...config.export, s3: undefined }, (sql, params) =>
        db.dataSource.query(sql, params),
      ),
    ],
  });
  await runtime.start();

  const started = Date.now();
  let written = 0;
  let n = 0;
  const write = async () => {
    while (n < total) {
      const size = Math.min(APPEND, total - n);
      const batch = Array.from({ length: size }, (_, i) => sampleRecord(n + i));
      n += size;
      await writer.append(batch);
      written += size;
    }
  };
  const maxLag = new Map<string, number>();
  const doneAt = new Map<string, number>();
  let writtenAt = 0;
  const poll = setInterval(() => {
    void runtime.backlog().then((all) => {
      for (const b of all) {
        const lag = b.oldestUndelivered ? (Date.now() - b.oldestUndelivered.getTime()) / 1000 : 0;
        maxLag.set(b.sink, Math.max(maxLag.get(b.sink) ?? 0, lag));
        if (written >= total && b.undelivered === 0 && !doneAt.has(b.sink)) doneAt.set(b.sink, Date.now());
      }
    });
  }, 1000);
  await Promise.all(Array.from({ length: WRITERS }, write));
  writtenAt = Date.now();
  const sinks = runtime.sinks.filter((s) => s !== 'alerts');
  while (sinks.some((s) => !doneAt.has(s))) await new Promise((ok) => setTimeout(ok, 500));
  clearInterval(poll);

  const verifyStart = Date.now();
  const report = await verifyS3(archive, (sql, params) => db.dataSource.query(sql, params), {
    publicKey: key.publicPem,
  });
  const verifyMs = Date.now() - verifyStart;
  const load1 = loadavg()[0] ?? 0;

  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const lines = [
    `# Audit export soak, ${date}`,
    '',
    `${total.toLocaleString('en')} records written by AuditWriter (${WRITERS} concurrent appends of ${APPEND}) and exported at the same time by ExportRuntime (batch ${config.export.batchSize}, concurrency ${config.export.concurrency}) to S3 (s3rver on local disk) and syslog (rsyslogd over TCP, JSON).`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Postgres, Redis, s3rver and rsyslogd on the same host (load average ${load0.toFixed(2)} → ${load1.toFixed(2)}).`,
    '',
    `Writing took ${seconds(writtenAt - started)} s (${Math.round(total / ((writtenAt - started) / 1000)).toLocaleString('en')} records/s).`,
    '',
    '| Sink | Delivered after | Records/s (end to end) | Largest lag seen |',
    '| ---- | --------------- | ---------------------- | ---------------- |',
    ...sinks.map((s) => {
      const ms = (doneAt.get(s) ?? Date.now()) - started;
      return `| ${s} | ${seconds(ms)} s | ${Math.round(total / (ms / 1000)).toLocaleString('en')} | ${(maxLag.get(s) ?? 0).toFixed(1)} s |`;
    }),
    '',
    `verifyS3: ${report.ok ? 'ok' : `FAIL (${report.problems[0] ?? ''})`}, ${report.records.toLocaleString('en')} records in ${report.objects} objects, ${report.checkpoints} checkpoint(s), ${seconds(verifyMs)} s.`,
    '',
  ];
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, lines.join('\n'));
  process.stdout.write(lines.join('\n'));

  await runtime.stop();
  await writer.flush();
  await db.close();
  await rsyslog.remove();
  await s3.close();
  await scratch.drop();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
