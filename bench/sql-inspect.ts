/**
 * `npm run bench:sql`: what SQL inspection costs per call (issue 4: p99 ≤ 200 µs for typical queries).
 *
 * Inspects every query of the corpus (libs/inspect/src/sql-corpus.ts) many times, timing each call,
 * and reports p50/p99 over the whole corpus and over the typical queries (the corpus cases marked
 * `typical`, plus a few longer reporting queries below).
 *
 * Writes `bench/reports/<YYYY-MM-DD>-sql.md` (or `--out <file>`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import { SQL_CORPUS } from '../libs/inspect/src/sql-corpus';
import { machineLine, timeEach, type Stats } from './micro';

const TARGET_P99_US = 200;
const ROUNDS = 400;
const WARMUP_ROUNDS = 50;
const SEARCH_PATH = { searchPath: ['public'] };

/** Longer queries of the kind an analyst's agent writes, on top of the corpus's typical ones. */
const EXTRA_TYPICAL = [
  `SELECT date_trunc('week', e.created_at) AS week, u.plan, count(DISTINCT e.user_id) AS active,
          sum(e.amount) FILTER (WHERE e.kind = 'purchase') AS revenue
     FROM analytics.events e
     JOIN public.users u ON u.id = e.user_id
    WHERE e.created_at >= now() - interval '90 days' AND u.plan IN ('pro', 'team')
    GROUP BY 1, 2
    ORDER BY 1 DESC, 3 DESC
    LIMIT 100`,
  `WITH cohort AS (
     SELECT user_id, min(created_at) AS first_seen FROM analytics.events GROUP BY user_id
   ), retained AS (
     SELECT c.user_id FROM cohort c
       JOIN analytics.events e ON e.user_id = c.user_id AND e.created_at > c.first_seen + interval '30 days'
     GROUP BY c.user_id
   )
   SELECT date_trunc('month', c.first_seen) AS month, count(*) AS users, count(r.user_id) AS retained
     FROM cohort c LEFT JOIN retained r USING (user_id)
    GROUP BY 1 ORDER BY 1`,
  `SELECT table_schema, table_name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  `SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.status = $1 AND o.created_at BETWEEN $2 AND $3 ORDER BY o.created_at DESC LIMIT 50`,
];

function measure(queries: string[]): Stats {
  return timeEach(queries, (sql) => inspectSql(sql, SEARCH_PATH), WARMUP_ROUNDS, ROUNDS);
}

function row(label: string, queries: number, s: Stats, target: string): string {
  return `| ${label} | ${queries} | ${s.samples.toLocaleString('en')} | ${s.p50.toFixed(1)} µs | ${s.p99.toFixed(1)} µs | ${s.max.toFixed(0)} µs | ${target} |`;
}

async function main(): Promise<void> {
  const outArg = process.argv.indexOf('--out');
  const date = new Date().toISOString().slice(0, 10);
  const out = outArg > 0 ? process.argv[outArg + 1] : join('bench', 'reports', `${date}-sql.md`);
  if (!out) throw new Error('--out needs a file name');

  await initSqlInspector();
  const corpus = SQL_CORPUS.map((c) => c.sql);
  const typical = [...SQL_CORPUS.filter((c) => c.typical).map((c) => c.sql), ...EXTRA_TYPICAL];
  const typicalStats = measure(typical);
  const corpusStats = measure(corpus);
  const met = typicalStats.p99 <= TARGET_P99_US ? 'met' : 'MISSED';

  const report = [
    `# SQL inspection bench, ${date}`,
    '',
    machineLine(),
    '',
    'Wall time of one synchronous `inspectSql` call (parse with libpg-query, walk, classify), ' +
      `${ROUNDS} rounds over each set after ${WARMUP_ROUNDS} warm-up rounds.`,
    '',
    '| Set | Queries | Calls | p50 | p99 | max | Target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('Typical queries', typical.length, typicalStats, `p99 ≤ ${TARGET_P99_US} µs: ${met}`),
    row('Whole corpus (incl. adversarial, DDL, unparsable)', corpus.length, corpusStats, ''),
    '',
    'Typical queries: the corpus cases marked `typical` and the longer reporting queries in',
    '`bench/sql-inspect.ts`. The max includes garbage-collection pauses. Run with `npm run bench:sql`',
    'on an otherwise idle machine.',
    '',
  ].join('\n');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, report);
  process.stdout.write(report);
  if (met !== 'met') process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
