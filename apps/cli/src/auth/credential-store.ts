import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

import { z } from 'zod';

import { LoginError, LoginErrorCode } from './errors';

/** One gateway's login, as `gatehouse login` stores it and `gatehouse bridge` uses it. */
export interface StoredLogin {
  /** The gateway's base URL, the key of this entry (see {@link gatewayKey}). */
  gateway: string;
  /** The IdP's issuer, from the gateway's RFC 9728 metadata. */
  issuer: string;
  /** The public client the tokens were issued to. */
  clientId: string;
  /** The gateway's resource URI (RFC 8707), the audience of the access tokens. */
  resource: string;
  /** Absent when the IdP issued none: the login then ends with the access token. */
  refreshToken?: string;
  accessToken: string;
  /** When the access token expires (ISO 8601). */
  expiresAt: string;
  /** When the access token was issued (ISO 8601); with `expiresAt`, how long tokens live. */
  obtainedAt: string;
}

const storedLogin = z.object({
  gateway: z.string().min(1),
  issuer: z.string().min(1),
  clientId: z.string().min(1),
  resource: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  accessToken: z.string().min(1),
  expiresAt: z.iso.datetime(),
  obtainedAt: z.iso.datetime(),
});

const credentialsFile = z.object({
  version: z.literal(1),
  logins: z.record(z.string(), storedLogin),
});

type CredentialsFile = z.infer<typeof credentialsFile>;

/** All logins, by gateway; {@link CredentialStore.update} hands a mutable copy to its callback. */
export type Logins = Record<string, StoredLogin>;

/**
 * Where the credentials live: `$XDG_CONFIG_HOME/gatehouse/credentials.json`,
 * or `~/.config/gatehouse/credentials.json`. A relative `XDG_CONFIG_HOME` is
 * ignored, as the XDG spec asks.
 */
export function defaultCredentialsPath(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(home, '.config');
  return join(base, 'gatehouse', 'credentials.json');
}

export interface CredentialStoreOptions {
  /** Longest wait for another gatehouse process to release the lock. */
  lockTimeoutMs?: number;
  /** A lock older than this is left over from a crashed process and is broken. */
  staleLockMs?: number;
}

/** POSIX modes mean nothing on Windows, where the file lives under the user's profile instead. */
const POSIX = process.platform !== 'win32';

/**
 * The credentials file: one JSON document of logins keyed by gateway, in a
 * 0700 directory, itself 0600 and always replaced whole (write to a temporary
 * file, fsync, rename), so a reader sees the old file or the new one, never
 * half of one. Changes go through {@link update}, under a lock file, so that
 * a login and several bridges refreshing (refresh tokens rotate, and a
 * rotated one used twice revokes the grant at most IdPs) never overwrite each
 * other. A file other users can read or write is refused, as ssh does.
 */
export class CredentialStore {
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;

  constructor(
    readonly path: string,
    options: CredentialStoreOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.staleLockMs = options.staleLockMs ?? 60_000;
  }

  /** The login for `gateway` (a {@link gatewayKey}), if any. */
  async get(gateway: string): Promise<StoredLogin | undefined> {
    return (await this.read()).logins[gateway];
  }

  /** Every stored login. */
  async list(): Promise<StoredLogin[]> {
    return Object.values((await this.read()).logins);
  }

  /**
   * Reads the logins under the lock, lets `change` edit them (it may call the
   * IdP meanwhile: other processes wait), and writes them back if they changed.
   */
  async update<T>(change: (logins: Logins) => Promise<T> | T): Promise<T> {
    const release = await this.lock();
    try {
      const before = await this.read();
      const logins: Logins = structuredClone(before.logins);
      const result = await change(logins);
      if (JSON.stringify(logins) !== JSON.stringify(before.logins)) await this.write({ version: 1, logins });
      return result;
    } finally {
      await release();
    }
  }

  private async read(): Promise<CredentialsFile> {
    let text: string;
    let handle;
    try {
      // O_NOFOLLOW: the file is ours, never a link planted to somewhere else.
      handle = await open(this.path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { version: 1, logins: {} };
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNREADABLE,
        code === 'ELOOP'
          ? `${this.path} is a symbolic link; Gatehouse only uses a regular file there. Remove it and log in again.`
          : `cannot read ${this.path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      this.checkSafe(await handle.stat());
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNREADABLE,
        `${this.path} is not valid JSON (${(error as Error).message}); remove it and log in again`,
        { cause: error },
      );
    }
    const result = credentialsFile.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNREADABLE,
        `${this.path} is not a Gatehouse credentials file (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unexpected shape'}); remove it and log in again`,
      );
    }
    return result.data;
  }

  private checkSafe(stats: Stats): void {
    if (!stats.isFile()) {
      throw new LoginError(LoginErrorCode.CREDENTIALS_UNREADABLE, `${this.path} is not a regular file`);
    }
    if (!POSIX) return;
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid) {
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNSAFE,
        `${this.path} belongs to another user (uid ${stats.uid}); Gatehouse will not use tokens from it. Remove it and log in again.`,
      );
    }
    const loose = stats.mode & 0o077;
    if (loose !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNSAFE,
        `${this.path} can be ${loose & 0o044 ? 'read' : 'changed'} by other users (mode ${mode}); Gatehouse will not use the tokens in it. ` +
          `Run \`chmod 600 ${this.path}\`, then \`gatehouse logout --all\` to revoke what others may have read, and log in again.`,
      );
    }
  }

  private async write(file: CredentialsFile): Promise<void> {
    const dir = dirname(this.path);
    await this.ensureDir(dir);
    const temporary = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        // The umask can only take bits away from 0600, but say it outright.
        await handle.chmod(0o600);
        await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new LoginError(
        LoginErrorCode.CREDENTIALS_UNREADABLE,
        `cannot write ${this.path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await syncDirectory(dir);
  }

  /** The gatehouse directory is 0700 (parents it creates too); a looser one it made earlier is tightened. */
  private async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!POSIX) return;
    const stats = await stat(dir);
    if ((stats.mode & 0o077) !== 0 && stats.uid === process.getuid?.()) await chmod(dir, 0o700);
  }

  /** An exclusive lock file next to the credentials; returns its release. */
  private async lock(): Promise<() => Promise<void>> {
    const lockPath = `${this.path}.lock`;
    await this.ensureDir(dirname(this.path));
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        const handle = await open(lockPath, 'wx', 0o600);
        try {
          await handle.writeFile(`${process.pid}\n`, 'utf8');
        } finally {
          await handle.close();
        }
        return () => rm(lockPath, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new LoginError(
            LoginErrorCode.CREDENTIALS_UNREADABLE,
            `cannot lock ${this.path}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
      const holder = await this.lockHolder(lockPath);
      if (holder.stale) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new LoginError(
          LoginErrorCode.CREDENTIALS_UNREADABLE,
          `${lockPath} is held by process ${holder.pid ?? '?'}; if no gatehouse command is running, delete that file`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 15 + Math.random() * 35));
    }
  }

  /** Who holds the lock, and whether it is left over: its process is gone, or it is older than any refresh. */
  private async lockHolder(lockPath: string): Promise<{ pid?: number; stale: boolean }> {
    try {
      const [text, stats] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
      const pid = Number.parseInt(text, 10);
      if (Date.now() - stats.mtimeMs > this.staleLockMs) return { pid, stale: true };
      if (!Number.isInteger(pid) || pid <= 0) {
        // Being written right now by its creator; give it a moment.
        return { stale: false };
      }
      return { pid, stale: !isAlive(pid) };
    } catch {
      // Released between our attempt and this look: try again.
      return { stale: false };
    }
  }
}

/**
 * Identifies a gateway for the credentials file: its base URL without
 * trailing slash, query or fragment, and without the MCP endpoint path
 * (`/mcp`, `/mcp/servers/<name>`), so `gatehouse login --url https://gw` and
 * `gatehouse bridge --url https://gw/mcp` find the same entry.
 */
export function gatewayKey(url: URL): string {
  const path = url.pathname.replace(/\/+$/, '').replace(/\/mcp(\/servers\/[^/]+)?$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but someone else's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes the rename durable; directories cannot be opened for sync on every platform, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort only.
  }
}
