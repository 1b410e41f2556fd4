import type { PolicyApi } from './api-client';
import { PolicyCliError, PolicyCliErrorCode } from './errors';
import type { Io } from './io';
import { diffFiles, renderChanges, type FileChange } from './local-diff';
import { readPolicyDir } from './policy-dir';
import { count } from './push';

/** What to compare: local files with the active version, or two stored versions. */
export type DiffTarget = { kind: 'dir'; dir: string } | { kind: 'versions'; from: number; to: number };

/**
 * Prints the unified diff on `out` and a one-line summary on `err`; resolves with whether
 * anything differs (the exit status is 1 then, 0 when equal, as diff(1)).
 */
export async function diff(api: PolicyApi, target: DiffTarget, io: Io): Promise<boolean> {
  let changes: FileChange[];
  let summary: string;
  if (target.kind === 'versions') {
    changes = (await api.diff(target.from, target.to)).files;
    summary = `between version ${target.from} and version ${target.to}`;
  } else {
    const local = await readPolicyDir(target.dir);
    const { version } = await api.active();
    if (version === null) {
      changes = diffFiles([], local.policy, { before: 'no active version', after: target.dir });
      summary = `between ${target.dir} and the gateway, which has no active version`;
    } else {
      const stored = await api.version(version);
      changes = diffFiles(stored.files, local.policy, { before: `version ${version}`, after: target.dir });
      summary = `between the active version ${version} and ${target.dir}`;
    }
  }
  io.out(renderChanges(changes));
  io.err(
    changes.length === 0
      ? `No differences ${summary}.\n`
      : `${count(changes.length, 'file')} differ ${summary}.\n`,
  );
  return changes.length > 0;
}

/** `diff <dir>` or `diff <from> <to>`: two arguments are version numbers, one is a folder. */
export function diffTarget(args: readonly string[]): DiffTarget {
  if (args.length === 1) return { kind: 'dir', dir: args[0] as string };
  if (args.length === 2) {
    const [from, to] = args.map(versionNumber) as [number, number];
    return { kind: 'versions', from, to };
  }
  throw new PolicyCliError(
    PolicyCliErrorCode.REFUSED,
    'give a policy folder (compared with the active version) or two version numbers',
  );
}

function versionNumber(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) {
    throw new PolicyCliError(
      PolicyCliErrorCode.REFUSED,
      `"${value}" is not a policy version number (1, 2, …); with two arguments, both are versions`,
    );
  }
  return Number(value);
}
