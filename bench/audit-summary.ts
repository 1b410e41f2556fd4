/**
 * Bench (issue 5 point 11, issue 15 "Done when"): the per-principal activity summary over a
 * generated trail, before and after the rollups.
 *
 * Generates `--rows` (default 10,000,000) audit_event rows with generate_series on a scratch
 * database migrated like production (monthly partitions, the migration's indexes, the rollup
 * trigger, which rolls each generated chunk up as it is inserted): one heavy service account
 * (`svc-heavy`) making one fifth of the calls, the rest spread over 1,000 users, 12 servers × 8
 * tools, 1–2 touched resources per call, over 2026. Then times, for the heavy account's month and
 * year and an ordinary user's month (periods in Europe/Berlin, so the edges are partial days):
 * `summaryFromTrail` (before: the raw trail alone) and `summary` (after: whole rollup days plus
 * raw edges), and the timeline; the rollup check of one month; and the audit write path (appends
 * through the real AuditWriter) with the rollup trigger on and off. Writes
 * `bench/reports/<YYYY-MM-DD>-audit-summary.md` (or `--out <file>`). Target: ≤ 200 ms each.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { parseConfigText } from '@gatehouse/config';
import { createDataSource, createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { ActivityService, AuditQueryService, type Period } from '../libs/audit/src/query';
import { AuditWriter } from '../libs/audit/src/store/audit-writer';
import type { AuditRecord } from '../libs/audit/src/types';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

const ROWS = Number(arg('rows', '10000000'));
const USERS = 1000;
const SAMPLES = Number(arg('samples', '20'));
const HEAVY = 'svc-heavy';
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
                CASE WHEN (i / 2) % 5 = 0 THEN '${HEAVY}' ELSE 'user-' || ((i / 2) / 5 % ${USERS}) END,
                'https://idp.bench', CASE WHEN (i / 2) % 5 = 0 THEN 'service' ELSE 'user' END, ARRAY['bench'], 'tools/call',
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
    await q.query('ANALYZE audit_rollup_day');
    await q.query('ANALYZE audit_rollup_hour');
    const generateS = (performance.now() - started) / 1000;
    const rollupRows = (
      await q.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM audit_rollup_day`)
    )[0]?.n;
    const service = new AuditQueryService(q);
    const activity = new ActivityService(q);

    // Periods in Berlin (UTC+1 in winter, +2 in summer): a month and the year start at 23:00 or
    // 22:00 UTC, so both have partial days at their edges.
    const berlin = (y: number, m: number) => {
      const utc = Date.UTC(y, m, 1);
      const summer = m >= 3 && m <= 9;
      return new Date(utc - (summer ? 2 : 1) * 3_600_000);
    };
    const month = (m: number): Period => ({
      from: berlin(2026, m),
      to: berlin(2026, m + 1),
      timeZone: 'Europe/Berlin',
    });
    const cases: Array<{ name: string; subject: () => string; period: () => Period }> = [
      {
        name: `${HEAVY}: a month`,
        subject: () => HEAVY,
        period: () => month(1 + Math.floor(Math.random() * 10)),
      },
      {
        name: `${HEAVY}: the year`,
        subject: () => HEAVY,
        period: () => ({ from: berlin(2026, 0), to: berlin(2027, 0), timeZone: 'Europe/Berlin' }),
      },
      {
        name: 'an ordinary user: a month',
        subject: () => `user-${Math.floor(Math.random() * USERS)}`,
        period: () => month(1 + Math.floor(Math.random() * 10)),
      },
    ];
    type Result = { name: string; method: string; p50: number; p95: number; max: number; calls: number };
    const results: Result[] = [];
    const time = async (
      name: string,
      method: string,
      run: (subject: string, period: Period) => Promise<number>,
      c: (typeof cases)[number],
    ) => {
      const times: number[] = [];
      let calls = 0;
      for (let s = 0; s < SAMPLES + 3; s++) {
        const t = performance.now();
        const n = await run(c.subject(), c.period());
        const ms = performance.now() - t;
        if (s >= 3) {
          times.push(ms);
          calls += n;
        }
      }
      times.sort((a, b) => a - b);
      results.push({
        name,
        method,
        p50: pct(times, 50),
        p95: pct(times, 95),
        max: times.at(-1) ?? NaN,
        calls: calls / SAMPLES,
      });
      process.stderr.write(`${name} ${method}: p50 ${pct(times, 50).toFixed(1)} ms\n`);
    };
    for (const c of cases) {
      await time(
        c.name,
        'before: summaryFromTrail',
        async (u, p) => (await service.summaryFromTrail(u, p)).calls,
        c,
      );
      await time(c.name, 'after: summary (rollups)', async (u, p) => (await service.summary(u, p)).calls, c);
      await time(
        c.name,
        'timeline',
        async (u, p) => (await activity.timeline(u, p)).buckets.reduce((n, b) => n + b.allowed + b.denied, 0),
        c,
      );
    }
    const checkStarted = performance.now();
    const check = await activity.checkRollups(
      new Date('2026-03-01T00:00:00Z'),
      new Date('2026-04-01T00:00:00Z'),
    );
    const checkMs = performance.now() - checkStarted;

    const write = await writePath(q);

    const date = new Date().toISOString().slice(0, 10);
    const out = arg('out', join('bench', 'reports', `${date}-audit-summary.md`));
    const report = `# Audit activity summary, before and after rollups (${date})

\`npm run bench:audit-summary -- --rows ${ROWS}\` (bench/audit-summary.ts). ${ROWS.toLocaleString('en')} generated rows in
\`audit_event\` (migrated scratch database on the local Postgres, monthly partitions for 2026, the migrations'
indexes and rollup trigger), half intent and half outcome records; \`${HEAVY}\` (a service account) made one fifth
of the calls, ${USERS.toLocaleString('en')} users the rest. Generated, rolled up and analysed in ${generateS.toFixed(0)} s;
\`audit_rollup_day\` holds ${rollupRows?.toLocaleString('en')} rows. Periods in Europe/Berlin (partial days at both edges).
${SAMPLES} samples per line after 3 warm-up calls, at the service (the SQL and its mapping; the HTTP layer and the
audit.query record add a few ms). Target: ≤ 200 ms each.

| question | method | calls in the answer (mean) | p50 ms | p95 ms | max ms | ≤ 200 ms |
|---|---|---:|---:|---:|---:|---|
${results.map((r) => `| ${r.name} | ${r.method} | ${r.calls.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.p95 <= 200 ? 'yes' : 'NO'} |`).join('\n')}

Rollup check of March 2026 (every principal, raw trail against rollups): ${check.ok ? 'ok' : `${check.mismatches.length} mismatches`} in ${checkMs.toFixed(0)} ms.

Audit write path (${write.appends} sequential appends of ${write.size} records through AuditWriter, lanes 1, into the
same database): trigger on p50 ${write.on.p50.toFixed(2)} ms / p95 ${write.on.p95.toFixed(2)} ms; trigger off p50
${write.off.p50.toFixed(2)} ms / p95 ${write.off.p95.toFixed(2)} ms per append.

Node ${process.version}, ${process.platform}; the machine is shared with other work, so numbers are indicative.
`;
    writeFileSync(out, report);
    process.stdout.write(report);
  } finally {
    await db.close();
    await scratch.drop();
  }
}

/** Latency of appends through the real writer with the rollup trigger enabled, then disabled. */
async function writePath(q: DataSource) {
  const appends = 300;
  const size = 10;
  const measure = async () => {
    const writer = new AuditWriter(q, { queueSize: 10_000, batchSize: 500, flushMs: 0, lanes: 1 });
    await writer.start(new Date('2026-06-15T00:00:00Z'));
    const times: number[] = [];
    for (let a = 0; a < appends; a++) {
      const records = Array.from({ length: size }, (_, k): AuditRecord => ({
        id: randomUUID(),
        kind: k % 2 === 0 ? 'intent' : 'outcome',
        callId: randomUUID(),
        occurredAt: new Date(Date.UTC(2026, 5, 15) + a * 1000 + k),
        outcome: k % 2 === 0 ? 'allowed' : 'ok',
        principal: {
          subject: k % 5 === 0 ? HEAVY : `user-${k}`,
          issuer: 'https://idp.bench',
          kind: 'user',
          groups: [],
        },
        client: {},
        server: `server-${k % 12}`,
        tool: `tool-${k % 8}`,
        method: 'tools/call',
        matchedRules: [],
        touched: [`schema1.table${k}`],
      }));
      const t = performance.now();
      await writer.append(records);
      if (a >= 20) times.push(performance.now() - t);
    }
    times.sort((x, y) => x - y);
    return { p50: pct(times, 50), p95: pct(times, 95) };
  };
  const on = await measure();
  await q.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_rollup');
  const off = await measure();
  await q.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_rollup');
  return { appends, size, on, off };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
