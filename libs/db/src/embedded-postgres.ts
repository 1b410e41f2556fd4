import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DbError, DbErrorCode } from './db-error';

/** A PGlite database served over the Postgres wire protocol on a loopback port. */
export interface EmbeddedPostgres {
  /** Absolute path of the PGlite data folder. */
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; no password, the socket is loopback only. */
  readonly url: string;
  /** Client connections the server holds right now (it never accepts more than one). */
  connections(): Promise<number>;
  /** Stops accepting clients, closes PGlite (flushing it to disk) and releases the data folder. */
  stop(): Promise<void>;
}

/**
 * PGlite and its socket server run in a worker thread. PGlite executes each statement
 * synchronously in WebAssembly, so on the main thread every query would stall the gateway's
 * event loop; in a worker only the wire protocol crosses over. The worker is plain JavaScript
 * evaluated from this string so the same code runs from dist and under Jest (whose module
 * sandbox cannot serve the dynamic imports PGlite makes).
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const { PGLiteSocketServer } = require(workerData.socket);
let db;
let server;
const text = (err) => String((err && err.message) || err);
async function stop() {
  try {
    if (server) await server.stop();
  } finally {
    if (db && !db.closed) await db.close();
  }
}
async function start() {
  db = await PGlite.create({ dataDir: workerData.dataDir });
  server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  return Number(server.getServerConn().split(':').pop());
}
parentPort.on('message', (msg) => {
  if (msg.type === 'stats') {
    parentPort.postMessage({ type: 'stats', connections: server ? server.getStats().activeConnections : 0 });
  } else if (msg.type === 'stop') {
    stop().then(
      () => parentPort.postMessage({ type: 'stopped' }),
      (err) => parentPort.postMessage({ type: 'stopped', error: text(err) }),
    ).finally(() => parentPort.close());
  }
});
start().then(
  (port) => parentPort.postMessage({ type: 'listening', port }),
  (err) => stop().catch(() => undefined).finally(() => {
    parentPort.postMessage({ type: 'failed', error: text(err) });
    parentPort.close();
  }),
);
`;

type WorkerMessage =
  | { type: 'listening'; port: number }
  | { type: 'failed'; error: string }
  | { type: 'stats'; connections: number }
  | { type: 'stopped'; error?: string };

/**
 * Opens (creating if needed) the PGlite database in `dataDir` and serves it on 127.0.0.1 at a
 * random port. PGlite is one Postgres session, so the server accepts a single client: callers
 * must use exactly one pooled connection, or transactions from several clients would interleave.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = lockDataDir(dir);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      dataDir: dir,
      pglite: require.resolve('@electric-sql/pglite'),
      socket: require.resolve('@electric-sql/pglite-socket'),
    },
  });
  const next = <T extends WorkerMessage['type']>(...types: T[]) =>
    new Promise<Extract<WorkerMessage, { type: T }>>((ok, fail) => {
      const onMessage = (msg: WorkerMessage) => {
        if (!(types as string[]).includes(msg.type)) return;
        done();
        ok(msg as Extract<WorkerMessage, { type: T }>);
      };
      const onExit = (code: number) => {
        done();
        fail(new Error(`the embedded database worker exited (code ${code})`));
      };
      const onError = (err: Error) => {
        done();
        fail(err);
      };
      const done = () => {
        worker.off('message', onMessage).off('exit', onExit).off('error', onError);
      };
      if (exited) fail(new Error('the embedded database worker has exited'));
      else worker.on('message', onMessage).on('exit', onExit).on('error', onError);
    });
  let exited = false;
  worker.once('exit', () => (exited = true));

  let port: number;
  try {
    const started = await next('listening', 'failed');
    if (started.type === 'failed') throw new Error(started.error);
    port = started.port;
  } catch (err) {
    await worker.terminate();
    releaseLock();
    throw new DbError(
      DbErrorCode.EMBEDDED_FAILED,
      `embedded PGlite at ${dir} could not start: ${err instanceof Error ? err.message : String(err)}. ` +
        'Fix: check the folder is writable and was written by this PGlite version, or set DATABASE_URL to use Postgres',
      { cause: err },
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    dataDir: dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    connections: async () => {
      const reply = next('stats');
      worker.postMessage({ type: 'stats' });
      return (await reply).connections;
    },
    stop: () =>
      (stopped ??= (async () => {
        try {
          if (exited) return;
          const reply = next('stopped');
          worker.postMessage({ type: 'stop' });
          const { error } = await reply;
          if (error)
            throw new DbError(
              DbErrorCode.EMBEDDED_FAILED,
              `embedded PGlite at ${dir} did not close cleanly: ${error}`,
            );
        } finally {
          await worker.terminate();
          releaseLock();
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
      openHere.add(dir);
      return () => {
        openHere.delete(dir);
        rmSync(lock, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8').trim());
      // A container restarted on a kept volume often gets the same pid (1) as the process that
      // wrote the lock, so our own pid counts only if this process really has the folder open.
      const held =
        owner === process.pid ? openHere.has(dir) : Number.isInteger(owner) && owner > 0 && isRunning(owner);
      if (held) {
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

/** Data folders this process has open. */
const openHere = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
