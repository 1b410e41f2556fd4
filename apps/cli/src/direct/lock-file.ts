import { open, readFile, rm, stat } from 'node:fs/promises';

/** Releases a lock taken by {@link tryLock} or {@link lock}. */
export type Release = () => Promise<void>;

export interface LockOptions {
  /** A lock older than this is left over from a hung or crashed process and is broken. */
  staleMs: number;
}

/**
 * Takes `path` as a lock file (created with O_EXCL, holding our pid), or returns undefined when
 * a live process holds it. A lock whose process is gone, or older than `staleMs`, is broken:
 * a crashed bridge must not keep every later one from uploading its spool.
 */
export async function tryLock(path: string, options: LockOptions): Promise<Release | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`, 'utf8');
      } finally {
        await handle.close();
      }
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockHolder(path, options.staleMs);
    if (!holder.stale) return undefined;
    await rm(path, { force: true });
  }
  return undefined;
}

/** Waits up to `timeoutMs` for {@link tryLock}; throws what `onTimeout` builds from the holder's pid. */
export async function lock(
  path: string,
  options: LockOptions & { timeoutMs: number; onTimeout: (pid: number | undefined) => Error },
): Promise<Release> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const release = await tryLock(path, options);
    if (release) return release;
    if (Date.now() > deadline) throw options.onTimeout((await lockHolder(path, options.staleMs)).pid);
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 30));
  }
}

async function lockHolder(path: string, staleMs: number): Promise<{ pid?: number; stale: boolean }> {
  try {
    const [text, stats] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const pid = Number.parseInt(text, 10);
    if (Date.now() - stats.mtimeMs > staleMs) return { pid, stale: true };
    // Empty: being written right now by its creator.
    if (!Number.isInteger(pid) || pid <= 0) return { stale: false };
    return { pid, stale: !isAlive(pid) };
  } catch {
    // Released between the attempt and this look: try again.
    return { stale: false };
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
