import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DbError, DbErrorCode } from './db-error';

/** A PGlite database served over the Postgres wire protocol on a loopback port. */
export interface EmbeddedPostgres {
  /** Absolute path of the PGlite data folder. */
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; no password, the socket is loopback only. */
  readonly url: string;
  /** Client connections the server holds right now (at most one is ever accepted). */
  connections(): number;
  /** Stops accepting clients, closes PGlite (flushing it to disk) and releases the data folder. */
  stop(): Promise<void>;
}

/**
 * Opens (creating if needed) the PGlite database in `dataDir` and serves it on 127.0.0.1 at a
 * random port. PGlite is one Postgres session, so the server accepts a single client: callers
 * must use exactly one pooled connection, or transactions from several clients would interleave.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = lockDataDir(dir);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create({ dataDir: dir });
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    releaseLock();
    throw new DbError(
      DbErrorCode.EMBEDDED_FAILED,
      `embedded PGlite at ${dir} could not start: ${err instanceof Error ? err.message : String(err)}. ` +
        'Fix: check the folder is writable and was written by this PGlite version, or set DATABASE_URL to use Postgres',
      { cause: err },
    );
  }
  // getServerConn() reports the port the OS picked once listening, as "127.0.0.1:<port>".
  const port = Number(server.getServerConn().split(':').pop());
  const running = { db, server };
  let stopped: Promise<void> | undefined;
  return {
    dataDir: dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    connections: () => running.server.getStats().activeConnections,
    stop: () =>
      (stopped ??= (async () => {
        try {
          await running.server.stop();
        } finally {
          try {
            await running.db.close();
          } finally {
            releaseLock();
          }
        }
      })()),
  };
}

/**
 * Two PGlite instances writing one folder corrupt it, and nothing inside PGlite prevents that,
 * so the folder is claimed with a pid file. A file left by a process that no longer runs is taken over.
 */
function lockDataDir(dir: string): () => void {
  const lock = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
        throw new DbError(
          DbErrorCode.EMBEDDED_FAILED,
          `embedded PGlite at ${dir} is in use by process ${owner}${owner === process.pid ? ' (this process)' : ''}. ` +
            'Fix: stop that process, give this one another GATEHOUSE_DATA_DIR, or set DATABASE_URL to share a real Postgres',
        );
      }
      rmSync(lock, { force: true });
    }
  }
  throw new DbError(
    DbErrorCode.EMBEDDED_FAILED,
    `could not claim ${lock}; another process keeps recreating it`,
  );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
