import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeWarning, SUPPORTED_NODE_MAJOR } from './runtime';

describe('CLI runtime check (issue 14)', () => {
  it('supports the major of the node package pinned in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(`${SUPPORTED_NODE_MAJOR}`).toBe(pkg.devDependencies.node?.split('.')[0]);
  });

  it.each([
    ['v20.20.2', /running on Node v20\.20\.2, but the supported runtime is Node 24 LTS/],
    ['v22.12.0', /running on Node v22\.12\.0/],
    ['v26.10.0', /running on Node v26\.10\.0/],
    ['garbage', /running on Node garbage/],
  ])('warns on %s, which is not the supported major', (version, expected) => {
    expect(runtimeWarning(version)).toMatch(expected);
  });

  it.each(['v24.21.0', 'v24.0.0', process.version])('stays quiet on %s', (version) => {
    expect(runtimeWarning(version)).toBeUndefined();
  });
});
