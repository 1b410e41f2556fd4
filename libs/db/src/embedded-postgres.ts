import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { DbError, DbErrorCode } from './db-error';

/** A PGlite database served over the Postgres wire protocol on a loopback port. */
export interface EmbeddedPostgres {
  /** Absolute path of the PGlite data folder. */
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; no password, the socket is loopback only. */
  readonly url: string;
  /** The child process that runs PGlite and its socket server. */
  readonly pid: number;
  /** Client connections the server holds right now (it never accepts more than one). */
  connections(): Promise<number>;
  /** Stops accepting clients, closes PGlite (flushing it to disk) and releases the data folder. */
  stop(): Promise<void>;
}

/**
 * PGlite and its socket server run in a child process. PGlite executes each statement
 * synchronously in WebAssembly, so on the main thread every query would stall the gateway's
 * event loop; in a child only the wire protocol crosses over. A child process rather than a
 * worker thread because V8 on Node 22–26 can crash the whole process when PGlite's WebAssembly
 * is instantiated and freed repeatedly in one process (nodejs/node#64500: worker threads share
 * the process's JIT page registry); a process per database never repeats that, and a crash there
 * cannot take the gateway (or a test runner's worker) with it. The child is plain JavaScript
 * evaluated from this string so the same code runs from dist and under Jest (whose module sandbox
 * cannot serve the dynamic imports PGlite makes). It stops (flushing PGlite) when its parent
 * goes away.
 */
const CHILD_SOURCE = `
'use strict';
const data = JSON.parse(process.env.GATEHOUSE_PGLITE_CHILD);
const { PGlite } = require(data.pglite);
const { PGLiteSocketServer } = require(data.socket);
let db;
let server;
let stopping;
const text = (err) => String((err && err.message) || err);
const send = (msg) => { if (process.connected) process.send(msg); };
function stop() {
  return (stopping ??= (async () => {
    try {
      if (server) await server.stop();
    } finally {
      if (db && !db.closed) await db.close();
    }
  })());
}
async function start() {
  db = await PGlite.create({ dataDir: data.dataDir });
  server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  return Number(server.getServerConn().split(':').pop());
}
process.on('message', (msg) => {
  if (msg.type === 'stats') {
    send({ type: 'stats', connections: server ? server.getStats().activeConnections : 0 });
  } else if (msg.type === 'stop') {
    stop().then(
      () => send({ type: 'stopped' }),
      (err) => send({ type: 'stopped', error: text(err) }),
    ).finally(() => process.disconnect());
  }
});
process.on('disconnect', () => {
  stop().catch(() => undefined).finally(() => process.exit(0));
});
start().then(
  (port) => send({ type: 'listening', port }),
  (err) => stop().catch(() => undefined).finally(() => {
    send({ type: 'failed', error: text(err) });
    process.disconnect();
  }),
);
`;

type ChildMessage =
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
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      GATEHOUSE_PGLITE_CHILD: JSON.stringify({
        dataDir: dir,
        pglite: require.resolve('@electric-sql/pglite'),
        socket: require.resolve('@electric-sql/pglite-socket'),
      }),
    },
  });
  // The last bytes the child wrote to stderr, for the error that explains a failed start.
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  const exitText = (code: number | null, signal: NodeJS.Signals | null) =>
    `the embedded database process exited (${signal ? `signal ${signal}` : `code ${code}`})` +
    (stderr.trim() ? `: ${stderr.trim()}` : '');
  const terminate = () =>
    new Promise<void>((done) => {
      if (exited) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  const next = <T extends ChildMessage['type']>(...types: T[]) =>
    new Promise<Extract<ChildMessage, { type: T }>>((ok, fail) => {
      const onMessage = (msg: ChildMessage) => {
        if (!(types as string[]).includes(msg.type)) return;
        done();
        ok(msg as Extract<ChildMessage, { type: T }>);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        done();
        fail(new Error(exitText(code, signal)));
      };
      const onError = (err: Error) => {
        done();
        fail(err);
      };
      const done = () => {
        child.off('message', onMessage).off('exit', onExit).off('error', onError);
      };
      if (exited) fail(new Error('the embedded database process has exited'));
      else child.on('message', onMessage).on('exit', onExit).on('error', onError);
    });
  let exited = false;
  child.once('exit', () => (exited = true));

  let port: number;
  try {
    const started = await next('listening', 'failed');
    if (started.type === 'failed') throw new Error(started.error);
    port = started.port;
  } catch (err) {
    await terminate();
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
    pid: child.pid ?? 0,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    connections: async () => {
      const reply = next('stats');
      child.send({ type: 'stats' });
      return (await reply).connections;
    },
    stop: () =>
      (stopped ??= (async () => {
        try {
          if (exited) return;
          const reply = next('stopped');
          child.send({ type: 'stop' });
          const { error } = await reply;
          if (error)
            throw new DbError(
              DbErrorCode.EMBEDDED_FAILED,
              `embedded PGlite at ${dir} did not close cleanly: ${error}`,
            );
        } finally {
          await terminate();
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
