import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

import type { IngestCall, IngestMode, IngestRequest, IngestResponse } from '@gatehouse/audit';

import { MAX_CALLS_PER_UPLOAD } from './contract';
import { DirectError, DirectErrorCode } from './errors';
import { IngestError } from './ingest-client';
import { lock, tryLock } from './lock-file';

/** One spooled call: what the ingest contract takes, plus the mode and host it was reported for. */
export interface SpoolEntry extends IngestCall {
  mode: IngestMode;
  client?: { name?: string; version?: string };
}

/** The few logger methods the spool uses. */
export interface SpoolLog {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
}

export interface SpoolOptions {
  path: string;
  /** Appends are refused once the file is this big (see {@link Spool.append}). */
  maxBytes: number;
  log: SpoolLog;
  /** Longest wait for another bridge to finish its append or compaction. */
  lockTimeoutMs?: number;
  /** A lock older than this is left over from a crashed process. */
  staleLockMs?: number;
}

/** Default size cap: about 100,000 typical calls. */
export const DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024;

const POSIX = process.platform !== 'win32';

/**
 * The spool directory: `$XDG_STATE_HOME/gatehouse/spool`, or `~/.local/state/gatehouse/spool`
 * (state, not configuration: it is data the bridge produced). A relative `XDG_STATE_HOME` is
 * ignored, as the XDG spec asks.
 */
export function defaultSpoolDir(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
  return join(base, 'gatehouse', 'spool');
}

/**
 * One file per gateway and identity: an upload is attributed to the token that sends it, so
 * alice's spool must never be uploaded with bob's token.
 */
export function spoolPath(dir: string, gateway: string, identity: string): string {
  const key = createHash('sha256').update(`${gateway}\n${identity}`).digest('hex').slice(0, 24);
  return join(dir, `${key}.jsonl`);
}

/** What one {@link Spool.upload} did. */
export interface UploadResult {
  /** Calls the gateway acknowledged (stored now or earlier), removed from the spool. */
  acknowledged: number;
  /** Calls still in the spool afterwards. */
  remaining: number;
}

/**
 * The record of calls the gateway has not acknowledged yet, as JSON lines. Each append is
 * fsync'd (and the directory too when the file is new) before it returns, so a call the host
 * saw answered survives a crash. Appends and compactions take a short lock file; an upload
 * takes another one for its whole run, so two bridges never upload the same spool at once.
 * Entries go only after the gateway acknowledged them (at-least-once; the gateway stores each
 * call id once). A torn last line from a crash is skipped with a warning, never fatal.
 */
export class Spool {
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;

  constructor(private readonly options: SpoolOptions) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.staleLockMs = options.staleLockMs ?? 120_000;
  }

  get path(): string {
    return this.options.path;
  }

  /**
   * Appends calls durably (one write, one fsync). Refuses with SPOOL_FULL once the file reached its cap: an
   * enterprise gateway never loses audit records silently, so the caller must not run the call.
   */
  async append(...entries: SpoolEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.ensureDir();
    const release = await this.lockForWrite();
    try {
      const size = await this.size();
      if (size >= this.options.maxBytes) throw this.full(size);
      const handle = await open(
        this.path,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
        0o600,
      );
      try {
        // A crash may have left a torn line without its newline: start on a line of our own.
        const prefix = size > 0 && !(await this.endsWithNewline(size)) ? '\n' : '';
        await handle.write(`${prefix}${entries.map((entry) => `${JSON.stringify(entry)}\n`).join('')}`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (size === 0) await syncDirectory(dirname(this.path));
    } catch (error) {
      if (error instanceof DirectError) throw error;
      throw new DirectError(
        DirectErrorCode.SPOOL_WRITE_FAILED,
        `cannot write the spool ${this.path}: ${(error as Error).message}`,
      );
    } finally {
      await release();
    }
  }

  /** Whether an append would be refused now. */
  async isFull(): Promise<boolean> {
    return (await this.size()) >= this.options.maxBytes;
  }

  /** The spooled calls, oldest first; unreadable lines (a torn last line after a crash) are skipped with a warning. */
  async read(): Promise<SpoolEntry[]> {
    const { entries } = await this.readLines();
    return entries;
  }

  /**
   * Sends the spool oldest first in requests of at most INGEST_MAX_CALLS calls of one mode and
   * host, removing what each response acknowledges. Returns undefined when another bridge is
   * uploading it right now. A failed `send` stops the upload (entries stay for the next try).
   */
  async upload(send: (request: IngestRequest) => Promise<IngestResponse>): Promise<UploadResult | undefined> {
    // Nothing spooled: touch nothing (a plain bridge start must not create state directories).
    if ((await this.size()) === 0) return { acknowledged: 0, remaining: 0 };
    await this.ensureDir();
    const release = await tryLock(`${this.path}.upload.lock`, { staleMs: this.staleLockMs });
    if (!release) return undefined;
    let acknowledged = 0;
    try {
      for (;;) {
        const entries = await this.read();
        const batch = firstBatch(entries);
        if (batch.length === 0) {
          // Only unreadable lines left (a torn line after a crash): clear them, they were warned about.
          if ((await this.size()) > 0) await this.remove(new Set());
          return { acknowledged, remaining: (await this.read()).length };
        }
        const first = batch[0] as SpoolEntry;
        let response: IngestResponse;
        try {
          response = await send({
            mode: first.mode,
            ...(first.client !== undefined ? { client: first.client } : {}),
            calls: batch.map(({ mode: _mode, client: _client, ...call }) => call),
          });
        } catch (error) {
          if (!(error instanceof IngestError) || error.invalid === undefined) throw error;
          await this.setAside(batch, error.invalid);
          continue;
        }
        const sent = new Set(batch.map((entry) => entry.id));
        const acked = new Set(response.decisions.map((d) => d.id).filter((id) => sent.has(id)));
        if (acked.size < sent.size) {
          this.options.log.warn(
            'the gateway did not acknowledge every uploaded call; they stay in the spool',
            {
              spool: this.path,
              sent: sent.size,
              acknowledged: acked.size,
            },
          );
        }
        if (acked.size === 0) return { acknowledged, remaining: entries.length };
        await this.remove(acked);
        acknowledged += acked.size;
      }
    } finally {
      await release();
    }
  }

  /**
   * Calls the gateway refused as invalid would block the spool forever: they move to
   * `<spool>.rejected.jsonl` (fsync'd, kept for a manual import, never dropped) and the error
   * log names the file and the gateway's reasons.
   */
  private async setAside(batch: SpoolEntry[], invalid: { calls: number[]; issues: string[] }): Promise<void> {
    const named = invalid.calls.map((index) => batch[index]).filter((entry) => entry !== undefined);
    const rejected = named.length > 0 ? named : batch;
    const file = `${this.path}.rejected.jsonl`;
    const handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      await handle.write(rejected.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncDirectory(dirname(file));
    await this.remove(new Set(rejected.map((entry) => entry.id)));
    this.options.log.error(
      'the gateway refused spooled calls as invalid; they are set aside for a manual import',
      {
        file,
        calls: rejected.map((entry) => entry.id),
        issues: invalid.issues,
      },
    );
  }

  /** Rewrites the spool without `ids` (temporary file, fsync, rename); deletes it when nothing is left. */
  async remove(ids: ReadonlySet<string>): Promise<void> {
    const release = await this.lockForWrite();
    try {
      const { entries } = await this.readLines(false);
      const kept = entries.filter((entry) => !ids.has(entry.id));
      if (kept.length === 0) {
        await rm(this.path, { force: true });
      } else {
        const temp = `${this.path}.${process.pid}.tmp`;
        const handle = await open(temp, 'w', 0o600);
        try {
          await handle.writeFile(kept.map((entry) => `${JSON.stringify(entry)}\n`).join(''), 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temp, this.path);
      }
      await syncDirectory(dirname(this.path));
    } finally {
      await release();
    }
  }

  private async readLines(warn = true): Promise<{ entries: SpoolEntry[] }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [] };
      throw error;
    }
    const entries: SpoolEntry[] = [];
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      const entry = parseEntry(line);
      if (entry) {
        entries.push(entry);
      } else if (warn) {
        const last = index === lines.length - 1;
        this.options.log.warn(
          last
            ? 'skipping a torn last line in the spool (a crash while writing it; that call was never answered)'
            : 'skipping an unreadable line in the spool',
          { spool: this.path, line: index + 1 },
        );
      }
    });
    return { entries };
  }

  private async size(): Promise<number> {
    try {
      return (await stat(this.path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  private async endsWithNewline(size: number): Promise<boolean> {
    const handle = await open(this.path, 'r');
    try {
      const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
      return buffer[0] === 0x0a;
    } finally {
      await handle.close();
    }
  }

  private full(size: number): DirectError {
    return new DirectError(
      DirectErrorCode.SPOOL_FULL,
      `the spool ${this.path} is full (${size} bytes, cap ${this.options.maxBytes}); the call was not run. ` +
        'Bring the gateway back so the bridge can upload it, or raise --spool-max-mb',
    );
  }

  private lockForWrite() {
    return lock(`${this.path}.lock`, {
      staleMs: this.staleLockMs,
      timeoutMs: this.lockTimeoutMs,
      onTimeout: (pid) =>
        new DirectError(
          DirectErrorCode.SPOOL_LOCKED,
          `${this.path}.lock is held by process ${pid ?? '?'}; if no gatehouse bridge is running, delete that file`,
        ),
    });
  }

  /** The directory 0700 and the file 0600: the spool holds call arguments. */
  private async ensureDir(): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!POSIX) return;
    const dirStats = await stat(dir);
    if ((dirStats.mode & 0o077) !== 0) await chmod(dir, 0o700);
    try {
      const fileStats = await stat(this.path);
      if ((fileStats.mode & 0o077) !== 0) {
        throw new DirectError(
          DirectErrorCode.SPOOL_INSECURE,
          `${this.path} is readable or writable by other users; run \`chmod 600 ${this.path}\``,
        );
      }
    } catch (error) {
      if (error instanceof DirectError) throw error;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/**
 * Most bytes of calls in one upload: the gateway caps a request body (4 MiB by default), so a
 * spool is split by size as well as by count. One call bigger than this still goes alone.
 */
const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;

/** The oldest calls of the first entry's mode and host, up to INGEST_MAX_CALLS and MAX_UPLOAD_BYTES. */
function firstBatch(entries: SpoolEntry[]): SpoolEntry[] {
  const first = entries[0];
  if (!first) return [];
  const key = batchKey(first);
  const batch: SpoolEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(JSON.stringify(entry));
    if (batchKey(entry) !== key || batch.length >= MAX_CALLS_PER_UPLOAD) break;
    if (batch.length > 0 && bytes + size > MAX_UPLOAD_BYTES) break;
    batch.push(entry);
    bytes += size;
  }
  return batch;
}

function batchKey(entry: SpoolEntry): string {
  return `${entry.mode}\n${entry.client?.name ?? ''}\n${entry.client?.version ?? ''}`;
}

function parseEntry(line: string): SpoolEntry | undefined {
  try {
    const value = JSON.parse(line) as Partial<SpoolEntry> | null;
    if (
      value === null ||
      typeof value !== 'object' ||
      typeof value.id !== 'string' ||
      typeof value.server !== 'string' ||
      typeof value.method !== 'string' ||
      (value.mode !== 'shadow' && value.mode !== 'fallback')
    ) {
      return undefined;
    }
    return value as SpoolEntry;
  } catch {
    return undefined;
  }
}

/** Makes a create or rename durable; some platforms cannot open a directory for sync, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not supported here (Windows): the file's own fsync is what we can do.
  }
}
