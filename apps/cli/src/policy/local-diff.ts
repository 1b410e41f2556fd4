import { createTwoFilesPatch } from 'diff';

import type { PolicyFile } from '@gatehouse/policy';

import type { DiffView } from './api-client';

export type FileChange = DiffView['files'][number];

/**
 * One unified diff per file that differs between a stored version and local files, in path
 * order, in the same form as the admin API's diff between two versions (`a/` and `b/` paths,
 * `/dev/null` for an added or removed file).
 */
export function diffFiles(
  before: readonly PolicyFile[],
  after: readonly PolicyFile[],
  labels: { before: string; after: string },
): FileChange[] {
  const a = new Map(before.map((f) => [f.path, f.text]));
  const b = new Map(after.map((f) => [f.path, f.text]));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const changes: FileChange[] = [];
  for (const path of paths) {
    const old = a.get(path);
    const now = b.get(path);
    if (old === now) continue;
    changes.push({
      path,
      change: old === undefined ? 'added' : now === undefined ? 'removed' : 'modified',
      patch: createTwoFilesPatch(
        old === undefined ? '/dev/null' : `a/${path}`,
        now === undefined ? '/dev/null' : `b/${path}`,
        old ?? '',
        now ?? '',
        labels.before,
        labels.after,
      ),
    });
  }
  return changes;
}

/** The patches one after the other, as `diff -u` would print them; empty when nothing differs. */
export function renderChanges(changes: readonly FileChange[]): string {
  return changes.map((c) => (c.patch.endsWith('\n') ? c.patch : `${c.patch}\n`)).join('');
}
