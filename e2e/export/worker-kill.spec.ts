import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditWriter, Outbox, S3Archive, verifyS3, type ExportQuery } from '@gatehouse/audit';
import { openAuditDb, record, type AuditDb } from '../audit-store/helpers';
import { freePort } from '../transport/processes';
import { startS3Server, type S3Server } from './s3-server';
import { ed25519Pem, flushPrefix, queuePrefix, REDIS_URL, waitFor } from './support';

const WORKER = resolve(__dirname, '../../dist/apps/worker/src/main.js');

/**
 * R21: the built worker (`npm run build` first) is SIGKILLed in the middle of a batch; a second
 * worker takes the job over once its lock expires, and every record lands in S3 exactly once
 * (one successful PUT per key), with the archive verifying against Postgres.
 */
describe('the worker killed mid-batch (R21)', () => {
  const key = ed25519Pem();
  const prefix = queuePrefix('workerkill');
  let store: AuditDb;
  let s3: S3Server;
  let archive: S3Archive;
  let config: string;
  const query: ExportQuery = (sql, params) => store.sql(sql, params);
  const children: ChildProcess[] = [];

  const startWorker = (): { child: ChildProcess; output: string[] } => {
    const child = spawn(process.execPath, [WORKER], {
      env: {
        ...process.env,
        GATEHOUSE_CONFIG: config,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    children.push(child);
    return { child, output };
  };
  /** The exit code, or the signal that ended the process. */
  const exited = (child: ChildProcess) =>
    new Promise<number | string | null>((ok) => {
      if (child.exitCode !== null || child.signalCode !== null) ok(child.exitCode ?? child.signalCode);
      else child.once('exit', (code, signal) => ok(code ?? signal));
    });

  beforeAll(async () => {
    store = await openAuditDb('audit_export_kill');
    s3 = await startS3Server();
    archive = new S3Archive(s3.options);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-worker-'));
    writeFileSync(join(dir, 'checkpoint.pem'), key.privatePem);
    config = join(dir, 'gatehouse.yaml');
    writeFileSync(
      config,
      [
        `database: { url: ${JSON.stringify(store.url)}, migrate: false }`,
        `redis: { url: ${JSON.stringify(REDIS_URL)} }`,
        'log: { level: info }',
        'export:',
        '  enabled: true',
        `  queuePrefix: ${prefix}`,
        '  relayIntervalMs: 100',
        '  batchSize: 20',
        '  batchMaxWaitMs: 0',
        '  concurrency: 2',
        '  jobLockMs: 1500',
        '  backoffMs: 100',
        `  s3: { bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, retentionDays: 30 }`,
        `  checkpoints: { intervalSeconds: 1, signingKey: ${JSON.stringify(join(dir, 'checkpoint.pem'))} }`,
        '',
      ].join('\n'),
    );
    const writer = new AuditWriter(store.db.dataSource, { queueSize: 1000, batchSize: 50, flushMs: 1 });
    await writer.start();
    await writer.append(Array.from({ length: 200 }, () => record()));
    await writer.flush();
  });

  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    archive.close();
    await s3.close();
    await store.close();
    await flushPrefix(prefix);
  });

  it('loses and duplicates nothing in S3 when a worker is killed with SIGKILL mid-batch', async () => {
    // A slow S3 keeps the first worker inside its batches when it is killed.
    s3.delayMs = 150;
    const first = startWorker();
    await waitFor(
      'the first worker to start a PUT',
      () => s3.seen.some((r) => r.method === 'PUT' && r.status === 0),
      30_000,
    );
    first.child.kill('SIGKILL');
    await exited(first.child);
    const [{ done = 0 } = {}] = await store.sql(
      `SELECT count(*)::int AS done FROM audit_export_batch WHERE status = 'done'`,
    );
    expect(Number(done)).toBeLessThan(10);

    s3.delayMs = 0;
    const second = startWorker();
    const outbox = new Outbox(query);
    await waitFor(
      'the second worker to export everything',
      async () => (await outbox.backlog('s3')).undelivered === 0,
      100_000,
    );
    await waitFor('a checkpoint', async () => (await archive.list('checkpoints/')).length > 0);

    const report = await verifyS3(archive, query, { publicKey: key.publicPem });
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(200);
    for (const object of await archive.list('audit/')) {
      const puts = s3.seen.filter(
        (r) => r.method === 'PUT' && r.path.split('?')[0] === `/${s3.bucket}/${object}` && r.status === 200,
      );
      expect(puts.length).toBe(1);
    }

    // Nest closes the application (current jobs finish, connections close) and re-raises SIGTERM.
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe('SIGTERM');
    expect(second.output.join('')).not.toMatch(/"level":50/);
    // Two worker start-ups and a lock takeover: slow on a loaded machine, so more than Jest's default.
  }, 150_000);
});

describe('the worker at start (R23)', () => {
  it('exits 78 naming the fix when Redis may evict jobs', async () => {
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--maxmemory-policy', 'allkeys-lru'],
      {
        stdio: 'ignore',
      },
    );
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-worker-'));
    const store = await openAuditDb('audit_export_evict');
    try {
      const config = join(dir, 'gatehouse.yaml');
      writeFileSync(
        config,
        `database: { url: ${JSON.stringify(store.url)} }\nredis: { url: "redis://127.0.0.1:${port}" }\nexport:\n  enabled: true\n`,
      );
      await waitFor('redis-server', async () => {
        const probe = await fetch(`http://127.0.0.1:${port}`).catch((e: unknown) => e);
        return !(probe instanceof Error && /ECONNREFUSED/.test(String((probe as { cause?: unknown }).cause)));
      });
      const child = spawn(process.execPath, [WORKER], {
        env: { ...process.env, GATEHOUSE_CONFIG: config },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      const code = await new Promise<number | null>((ok) => child.once('exit', (c) => ok(c)));
      expect(code).toBe(78);
      expect(output.join('')).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
    } finally {
      redis.kill('SIGTERM');
      await store.close();
    }
  });
});
