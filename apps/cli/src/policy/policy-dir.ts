import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { PolicyFile } from '@gatehouse/policy';

import { PolicyCliError, PolicyCliErrorCode } from './errors';

/** A policy directory as read from disk: the policy's files and its test cases, paths relative to it. */
export interface PolicyDir {
  /** The directory as given on the command line, for messages (`<dir>/<path>:line:column`). */
  dir: string;
  /** `*.yaml` / `*.yml` except the test files: what a version is made of. */
  policy: PolicyFile[];
  /** `*.test.yaml` / `*.test.yml`: policy test cases, never pushed. */
  tests: PolicyFile[];
}

const YAML_FILE = /\.ya?ml$/i;
const TEST_FILE = /\.test\.ya?ml$/i;

/**
 * Reads `dir` recursively the way the gateway's `policy.dir` is meant: every `*.yaml`/`*.yml`,
 * with `/` between folders whatever the platform, in path order. Hidden files and folders
 * (`.git`, `.github`) are skipped; symbolic links to files are followed, to folders not (no loops).
 */
export async function readPolicyDir(dir: string): Promise<PolicyDir> {
  let top: Dirent[];
  try {
    top = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PolicyCliError(
      PolicyCliErrorCode.DIRECTORY_UNREADABLE,
      code === 'ENOENT'
        ? `${dir} does not exist: give the folder that holds the policy's YAML files`
        : code === 'ENOTDIR'
          ? `${dir} is a file: give the folder that holds the policy's YAML files`
          : `cannot read ${dir}: ${(error as Error).message}`,
    );
  }
  const paths: string[] = [];
  await walk(dir, '', top, paths);
  paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const policy: PolicyFile[] = [];
  const tests: PolicyFile[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(join(dir, path), 'utf8');
    } catch (error) {
      throw new PolicyCliError(
        PolicyCliErrorCode.DIRECTORY_UNREADABLE,
        `cannot read ${join(dir, path)}: ${(error as Error).message}`,
      );
    }
    (TEST_FILE.test(path) ? tests : policy).push({ path, text });
  }
  return { dir, policy, tests };
}

async function walk(root: string, prefix: string, entries: Dirent[], out: string[]): Promise<void> {
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      await walk(root, path, await readdir(join(root, path), { withFileTypes: true }), out);
    } else if (YAML_FILE.test(entry.name) && (entry.isFile() || (await isLinkToFile(join(root, path))))) {
      out.push(path);
    }
  }
}

async function isLinkToFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    // A dangling link is no file of the policy.
    return false;
  }
}

/** How a problem reads on the terminal: `<dir>/<file>:line:column: message`, which editors jump to. */
export function problemLine(
  dir: string,
  problem: { file: string; line: number; column: number; message: string },
): string {
  return `${join(dir, problem.file)}:${problem.line}:${problem.column}: ${problem.message}`;
}
