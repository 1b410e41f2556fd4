/**
 * `npm run bench:console`: what a browser downloads to open the console (issue 15, budget:
 * first-load JavaScript ≤ 300 KB gzipped).
 *
 * Reads the built `dist/web/index.html`, follows the entry script and every chunk it imports
 * statically (what the browser must fetch before the first screen renders), gzips each at level 9
 * as a server or CDN would, and lists the chunks loaded later on demand (a screen or the chart).
 * Writes `bench/reports/<YYYY-MM-DD>-console-size.md` (or `--out <file>`). Build first
 * (`npm run build`; the npm script does it).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 300;
const WEB = resolve(__dirname, '..', 'web');
const ASSETS = join(WEB, 'assets');

interface Chunk {
  file: string;
  bytes: number;
  gzip: number;
}

function chunk(file: string): Chunk {
  const body = readFileSync(join(ASSETS, file));
  return { file, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
}

/** Static `import … from "./x.js"` and `import "./x.js"` of a built chunk (not `import()`). */
function staticImports(file: string): string[] {
  const text = readFileSync(join(ASSETS, file), 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:^|[;\s}])import\s*(?:[\w*{}\s,$]+from\s*)?["']\.\/([\w.-]+\.js)["']/g)) {
    if (m[1]) found.add(m[1]);
  }
  return [...found];
}

function main(): void {
  const index = join(WEB, 'index.html');
  if (!existsSync(index)) throw new Error(`${index} is missing: run npm run build first`);
  const html = readFileSync(index, 'utf8');
  const entries = [...html.matchAll(/<script[^>]+src="\/console\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!);
  const preloads = [
    ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/console\/assets\/([^"]+\.js)"/g),
  ].map((m) => m[1]!);
  const first = new Set<string>();
  const queue = [...entries, ...preloads];
  while (queue.length) {
    const file = queue.shift()!;
    if (first.has(file)) continue;
    first.add(file);
    queue.push(...staticImports(file));
  }
  const firstLoad = [...first].map(chunk);
  const later = readdirSync(ASSETS)
    .filter((f) => f.endsWith('.js') && !first.has(f))
    .map(chunk)
    .sort((a, b) => b.gzip - a.gzip);
  const css = readdirSync(ASSETS)
    .filter((f) => f.endsWith('.css'))
    .map(chunk);
  const kb = (n: number) => (n / 1024).toFixed(1);
  const total = firstLoad.reduce((s, c) => s + c.gzip, 0);
  const verdict = total / 1024 <= BUDGET_KB ? 'within' : 'OVER';
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `# Console download size (${date})`,
    '',
    `First-load JavaScript: **${kb(total)} KB gzipped** (${kb(firstLoad.reduce((s, c) => s + c.bytes, 0))} KB raw), ${verdict} the ${BUDGET_KB} KB budget.`,
    '',
    '| First load | raw KB | gzip KB |',
    '| --- | ---: | ---: |',
    ...firstLoad.map((c) => `| ${c.file} | ${kb(c.bytes)} | ${kb(c.gzip)} |`),
    '',
    '| Loaded on demand (a screen, the chart) | raw KB | gzip KB |',
    '| --- | ---: | ---: |',
    ...later.map((c) => `| ${c.file} | ${kb(c.bytes)} | ${kb(c.gzip)} |`),
    '',
    '| Stylesheets | raw KB | gzip KB |',
    '| --- | ---: | ---: |',
    ...css.map((c) => `| ${c.file} | ${kb(c.bytes)} | ${kb(c.gzip)} |`),
    '',
  ];
  const outArg = process.argv.indexOf('--out');
  const out =
    outArg > 0 && process.argv[outArg + 1]
      ? resolve(process.argv[outArg + 1]!)
      : resolve(__dirname, '..', '..', 'bench', 'reports', `${date}-console-size.md`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, lines.join('\n'));
  process.stdout.write(`${lines.slice(0, 3).join('\n')}\nreport: ${out}\n`);
}

main();
