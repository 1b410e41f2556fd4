/**
 * Bench (issue 5 point 11): the per-user activity summary over a generated trail.
 *
 * Generates `--rows` (default 10,000,000) audit_event rows with generate_series on a scratch
 * database migrated like production (monthly partitions, the migration's indexes): 1,000 users,
 * 12 servers × 8 tools, 1–2 touched resources per call, spread over 2026. Then times
 * AuditQueryService.summary for random users over a week and over a month (warm-up first) and
 * writes `bench/reports/<YYYY-MM-DD>-audit-summary.md` (or `--out <file>`). Target: p95 ≤ 200 ms.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfigText } from '@gatehouse/config';
import { createDataSource, createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { AuditQueryService } from '../libs/audit/src/query';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

const ROWS = Number(arg('rows', '10000000'));
const USERS = 1000;
const SAMPLES = Number(arg('samples', '200'));
const CHUNK = 1_000_000;
const YEAR_SECONDS = 365 * 24 * 3600;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const scratch = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bench_audit');
  const { config } = parseConfigText(`database:\n  url: ${JSON.stringify(scratch.url)}\n`, {});
  const db = await createDataSource(config, { url: scratch.url });
  try {
    await db.migrate();
    const q = db.dataSource;
    for (let m = 1; m <= 12; m++)
      await q.query(`SELECT audit_ensure_partition($1)`, [`2026-${String(m).padStart(2, '0')}-15`]);
    const started = performance.now();
    for (let from = 1; from <= ROWS; from += CHUNK) {
      const to = Math.min(ROWS, from + CHUNK - 1);
      await q.query(
        `INSERT INTO audit_event (id, kind, call_id, occurred_at, outcome, principal_subject, principal_issuer,
           principal_kind, principal_groups, method, server, tool, action, decision, matched_rules, touched,
           writer_id, seq, prev_hash, hash)
         SELECT gen_random_uuid(), CASE WHEN i % 2 = 0 THEN 'intent' ELSE 'outcome' END, (i / 2)::text,
                timestamptz '2026-01-01 00:00:00Z' + (((i / 2) * 7919) % ${YEAR_SECONDS}) * interval '1 second',
                CASE WHEN i % 2 = 1 THEN 'ok' WHEN i % 37 = 0 THEN 'denied' ELSE 'allowed' END,
                'user-' || ((i / 2) % ${USERS}), 'https://idp.bench', 'user', ARRAY['bench'], 'tools/call',
                'server-' || ((i / 2) % 12), 'tool-' || ((i / 2) % 8), 'read', 'allow', ARRAY['bench-rule'],
                CASE WHEN i % 3 = 0 THEN ARRAY['schema' || (i % 5) || '.table' || (i % 40), 'repo-' || (i % 9)]
                     ELSE ARRAY['schema' || (i % 5) || '.table' || (i % 40)] END,
                '00000000-0000-4000-8000-000000000000', i, '\\x00', '\\x00'
           FROM generate_series($1::bigint, $2::bigint) AS i`,
        [from, to],
      );
      process.stderr.write(`generated ${to.toLocaleString('en')} rows\n`);
    }
    await q.query('ANALYZE audit_event');
    const generateS = (performance.now() - started) / 1000;
    const service = new AuditQueryService(q);
    const results: Array<{ name: string; p50: number; p95: number; p99: number; calls: number }> = [];
    for (const [name, days] of [
      ['one week', 7],
      ['one month', 30],
    ] as const) {
      const times: number[] = [];
      let calls = 0;
      for (let s = 0; s < SAMPLES + 20; s++) {
        const user = `user-${Math.floor(Math.random() * USERS)}`;
        const start = new Date(Date.UTC(2026, 0, 1) + Math.floor(Math.random() * (365 - days)) * 86400000);
        const period = { from: start, to: new Date(start.getTime() + days * 86400000), timeZone: 'UTC' };
        const t = performance.now();
        const summary = await service.summary(user, period);
        const ms = performance.now() - t;
        if (s >= 20) {
          times.push(ms);
          calls += summary.calls;
        }
      }
      times.sort((a, b) => a - b);
      results.push({
        name,
        p50: pct(times, 50),
        p95: pct(times, 95),
        p99: pct(times, 99),
        calls: calls / SAMPLES,
      });
    }
    const date = new Date().toISOString().slice(0, 10);
    const out = arg('out', join('bench', 'reports', `${date}-audit-summary.md`));
    const report = `# Audit activity summary (${date})

\`npm run bench:audit-summary\` (bench/audit-summary.ts). ${ROWS.toLocaleString('en')} generated rows in
\`audit_event\` (migrated scratch database on the local Postgres, monthly partitions for 2026, the migration's
indexes), ${USERS.toLocaleString('en')} users, half intent and half outcome records; generated and analysed in
${generateS.toFixed(0)} s. Each sample is \`AuditQueryService.summary\` for a random user and a random period
(${SAMPLES} samples after 20 warm-up calls). Target: p95 ≤ 200 ms.

| period | calls in the answer (mean) | p50 ms | p95 ms | p99 ms | target met |
|---|---:|---:|---:|---:|---|
${results.map((r) => `| ${r.name} | ${r.calls.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.p95 <= 200 ? 'yes' : 'NO'} |`).join('\n')}

Node ${process.version}, ${process.platform}; the machine is shared with other work, so numbers are indicative.
`;
    writeFileSync(out, report);
    process.stdout.write(report);
  } finally {
    await db.close();
    await scratch.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
