import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PolicyCliErrorCode } from './errors';
import { problemLine, readPolicyDir } from './policy-dir';

describe('readPolicyDir', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-dir-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(path: string, text: string): void {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }

  it('reads every yaml file recursively in path order, with "/" paths, and keeps test cases apart', async () => {
    write('prod/postgres.yml', 'b');
    write('base.yaml', 'a');
    write('prod/postgres.test.yaml', 't1');
    write('cases.test.yml', 't2');
    write('README.md', 'not policy');
    write('notes.txt', 'not policy');

    const read = await readPolicyDir(dir);

    expect(read.policy).toEqual([
      { path: 'base.yaml', text: 'a' },
      { path: 'prod/postgres.yml', text: 'b' },
    ]);
    expect(read.tests).toEqual([
      { path: 'cases.test.yml', text: 't2' },
      { path: 'prod/postgres.test.yaml', text: 't1' },
    ]);
  });

  it('skips hidden files and folders such as .git and .github', async () => {
    write('.github/workflows/ci.yaml', 'on: push');
    write('.hidden.yaml', 'x');
    write('main.yaml', 'y');

    expect((await readPolicyDir(dir)).policy.map((f) => f.path)).toEqual(['main.yaml']);
  });

  it('follows a link to a file but not a link to a folder (no loops)', async () => {
    write('shared/common.yaml', 'c');
    symlinkSync(join(dir, 'shared/common.yaml'), join(dir, 'linked.yaml'));
    symlinkSync(dir, join(dir, 'loop'));

    expect((await readPolicyDir(dir)).policy.map((f) => f.path)).toEqual([
      'linked.yaml',
      'shared/common.yaml',
    ]);
  });

  it('says what to give when the folder does not exist or is a file', async () => {
    await expect(readPolicyDir(join(dir, 'nope'))).rejects.toMatchObject({
      code: PolicyCliErrorCode.DIRECTORY_UNREADABLE,
      message: expect.stringMatching(/nope does not exist: give the folder/),
    });
    write('file.yaml', 'x');
    await expect(readPolicyDir(join(dir, 'file.yaml'))).rejects.toMatchObject({
      message: expect.stringMatching(/file\.yaml is a file/),
    });
  });

  it('prints a problem as <dir>/<file>:line:column: message', () => {
    expect(problemLine('policies', { file: 'prod/a.yaml', line: 3, column: 7, message: 'unknown key' })).toBe(
      'policies/prod/a.yaml:3:7: unknown key',
    );
  });
});
