import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** The runtime the project pins: the `node` package in devDependencies (docs/decisions/0008). */
function pinnedNode(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const version = pkg.devDependencies?.node;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`package.json must pin devDependencies.node to an exact version, found ${version}`);
  }
  return version;
}

/**
 * Runs `script` in a fresh process on the test's own runtime, from the repository root, the way the
 * gateway, the worker and the CLI load their dependencies (plain `require`, no Jest module registry).
 */
function runOnPinned(script: string): string {
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(`exit ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout.trim();
}

describe('runtime: the pinned Node.js LTS (issue 14)', () => {
  it('runs the test suite on the exact Node version package.json pins', () => {
    expect(process.version).toBe(`v${pinnedNode()}`);
  });

  it('runs on an LTS major that is not the machine Node 20', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(24);
    expect(major % 2).toBe(0);
  });

  it('runs Jest workers without Sparkplug, the V8 tier behind the GC crash that kills Jest workers on Node 24 (nodejs/node#62393)', () => {
    expect(process.execArgv).toContain('--no-sparkplug');
  });

  it('resolves `node` on the PATH to the pinned runtime, so npm scripts, shebangs and npx children use it', () => {
    expect(execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${pinnedNode()}`);
  });

  it('loads libpg-query (WASM) and parses SQL', () => {
    const out = runOnPinned(
      "const q = require('libpg-query'); q.loadModule().then(() => console.log(q.parseSync('select 1 as one').stmts.length));",
    );
    expect(out).toBe('1');
  });

  it('loads @swc/core (native) and compiles TypeScript', () => {
    const out = runOnPinned(
      "console.log(require('@swc/core').transformSync('const a: number = 1;', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }).code.trim());",
    );
    expect(out).toBe('const a = 1;');
  });

  it('loads msgpackr-extract (native) and msgpackr uses it', () => {
    const out = runOnPinned(
      "console.log(typeof require('msgpackr-extract').extractStrings, require('msgpackr').isNativeAccelerationEnabled);",
    );
    expect(out).toBe('function true');
  });

  it('loads PGlite (WASM) and answers a query', () => {
    const out = runOnPinned(
      "const { PGlite } = require('@electric-sql/pglite'); const db = new PGlite(); db.query('select 40 + 2 as n').then(async (r) => { console.log(r.rows[0].n); await db.close(); });",
    );
    expect(out).toBe('42');
  });
});
