/**
 * `npm run bench:audit`: sustained audit records per second into local Postgres through
 * AuditWriter (issue 5 point 9: ≥ 20,000 records/s).
 *
 * Creates a scratch database on the server of DATABASE_URL (default the local server), applies
 * the migrations, and runs the writer with the default `audit.*` sizes. C concurrent "calls" each
 * append one record and wait for it to commit before appending the next, as the audit stage does
 * with a call's intent. Each level runs WARMUP_MS, then MEASURE_MS. Finally the whole trail is
 * verified (and timed). Writes `bench/reports/<YYYY-MM-DD>-audit.md` (or `--out <file>`).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { configSchema } from '@gatehouse/config';
import { createDataSource, createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { AuditWriter, verifyChains } from '@gatehouse/audit';
import { sampleRecord } from './audit-sample';

const TARGET_PER_SECOND = 20_000;
const LEVELS = [64, 512, 4096];
const WARMUP_MS = 2_000;
const MEASURE_MS = 8_000;

interface Level {
  concurrency: number;
  records: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function level(writer: AuditWriter, concurrency: number): Promise<Level> {
  let n = 0;
  let measuring = false;
  let stop = false;
  const latencies: number[] = [];
  const worker = async () => {
    while (!stop) {
      const started = process.hrtime.bigint();
      await writer.append([sampleRecord(n++)]);
      if (measuring) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  measuring = true;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, MEASURE_MS));
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    concurrency,
    records: latencies.length,
    perSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

async function main(): Promise<void> {
  const outFlag = process.argv.indexOf('--out');
  const date = new Date().toISOString().slice(0, 10);
  const out = outFlag > 0 ? (process.argv[outFlag + 1] ?? '') : join('bench', 'reports', `${date}-audit.md`);
  const config = configSchema.parse({});
  const server = process.env.DATABASE_URL ?? DEFAULT_SERVER_URL;
  const scratch = await createScratchDatabase(server, 'gatehouse_bench_audit');
  const db = await createDataSource(config, { url: scratch.url });
  try {
    await db.migrate();
    const writer = new AuditWriter(db.dataSource, config.audit);
    await writer.start();
    const load0 = loadavg()[0] ?? 0;
    const levels: Level[] = [];
    for (const c of LEVELS) {
      const result = await level(writer, c);
      levels.push(result);
      process.stdout.write(
        `C=${c}: ${Math.round(result.perSecond)} records/s, append p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms\n`,
      );
    }
    const load1 = loadavg()[0] ?? 0;
    const t0 = process.hrtime.bigint();
    const report = await verifyChains((sql, params) => db.dataSource.query(sql, params));
    const verifySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const best = Math.max(...levels.map((l) => l.perSecond));
    const commit = execSync('git rev-parse --short HEAD').toString().trim();
    const lines = [
      `# Audit writer bench, ${date}`,
      '',
      `\`npm run bench:audit\` (bench/audit-write.ts), commit ${commit}. Target (issue 5 point 9): ≥ ${TARGET_PER_SECOND.toLocaleString('en')} records/s sustained into local Postgres.`,
      '',
      `**Result: ${Math.round(best).toLocaleString('en')} records/s at best — ${best >= TARGET_PER_SECOND ? 'meets' : 'misses'} the target.**`,
      '',
      `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Postgres on the same host (shared with other work: load average ${load0.toFixed(2)} → ${load1.toFixed(2)}).`,
      `Writer: queueSize ${config.audit.queueSize}, batchSize ${config.audit.batchSize}, flushMs ${config.audit.flushMs}; ${writer.stats().chains.length} lanes (chains), each one INSERT at a time; pool of ${config.database.poolSize}.`,
      `Each level: ${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s measured; C calls each append one record and wait for its commit.`,
      '',
      '| Concurrent calls | Records | Records/s | append p50 | append p99 |',
      '| ---: | ---: | ---: | ---: | ---: |',
      ...levels.map(
        (l) =>
          `| ${l.concurrency} | ${l.records.toLocaleString('en')} | ${Math.round(l.perSecond).toLocaleString('en')} | ${l.p50Ms.toFixed(1)} ms | ${l.p99Ms.toFixed(1)} ms |`,
      ),
      '',
      'A call writes two records (intent, outcome). Appends that wait for their commit need enough concurrency to fill batches: with 64 concurrent calls batches stay small.',
      '',
      `Verify afterwards: ${report.records.toLocaleString('en')} records in ${report.chains} chain(s), ${report.ok ? 'ok' : 'BROKEN'}, ${verifySeconds.toFixed(1)} s (${Math.round(report.records / verifySeconds).toLocaleString('en')} records/s).`,
      '',
    ];
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, lines.join('\n'));
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await db.close();
    await scratch.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
