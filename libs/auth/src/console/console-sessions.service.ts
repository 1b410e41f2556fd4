import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import type { Principal } from '../principal';

/** A sign-in may take this long at the IdP before its state is forgotten. */
export const LOGIN_TTL_SECONDS = 600;
/** Expired sessions and abandoned sign-ins are deleted this often. */
export const SWEEP_INTERVAL_MS = 60_000;

/** A live console session, as the guard and `/api/v1/me` see it. */
export interface LiveSession {
  principal: Principal;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
}

/** A session as the admin listing shows it: never its id or the id's hash. */
export interface SessionSummary {
  subject: string;
  name: string | null;
  roles: string[];
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
}

/** A sign-in in progress, as the callback needs it. */
export interface PendingLogin {
  state: Record<string, unknown>;
  returnTo: string;
}

interface SessionRow {
  principal: Principal;
  csrf_token: string;
  id_token: string | null;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  idle_expires_at: Date;
}

const LIVE = 'expires_at > now() AND idle_expires_at > now()';
const COLUMNS = 'principal, csrf_token, id_token, created_at, last_seen_at, expires_at, idle_expires_at';

/**
 * Console sessions in Postgres (`console_session`) and sign-ins in progress (`console_login`).
 * Ids are 256 random bits handed to the browser; rows are keyed by their SHA-256, so reading
 * the table does not yield a usable cookie. Times come from the database clock, so replicas
 * agree on expiry.
 */
@Injectable()
export class ConsoleSessions implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;

  constructor(
    private readonly db: DataSource,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (authMode(this.config) === 'none') return;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((err: unknown) => this.logger.warn({ err }, 'console session sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** Records a sign-in in progress; returns the id for the browser's login cookie. */
  async beginLogin(login: PendingLogin): Promise<string> {
    const id = newId();
    await this.db.query(
      `INSERT INTO console_login (id_hash, state, return_to, created_at, expires_at)
       VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))`,
      [hashId(id), JSON.stringify(login.state), login.returnTo, LOGIN_TTL_SECONDS],
    );
    return id;
  }

  /** Takes a sign-in in progress (single use): its state while it is live, else undefined. */
  async consumeLogin(id: string): Promise<PendingLogin | undefined> {
    const [rows] = await this.db.query<
      [{ state: Record<string, unknown>; return_to: string; live: boolean }[]]
    >(`DELETE FROM console_login WHERE id_hash = $1 RETURNING state, return_to, expires_at > now() AS live`, [
      hashId(id),
    ]);
    const row = rows[0];
    return row?.live ? { state: row.state, returnTo: row.return_to } : undefined;
  }

  /**
   * Opens a session for a fresh sign-in with a new random id, ending the session the browser
   * had before (if any) in the same transaction: an id planted before sign-in never becomes
   * a signed-in session (no fixation).
   */
  async open(
    principal: Principal,
    idToken: string | undefined,
    replacing: string | undefined,
  ): Promise<{ id: string; session: LiveSession }> {
    const { sessionTtlSeconds, idleTimeoutSeconds } = this.config.auth.console;
    const id = newId();
    const csrfToken = randomBytes(32).toString('base64url');
    const row = await this.db.transaction(async (tx) => {
      if (replacing !== undefined) {
        await tx.query('DELETE FROM console_session WHERE id_hash = $1', [hashId(replacing)]);
      }
      const rows = await tx.query<SessionRow[]>(
        `INSERT INTO console_session
           (id_hash, issuer, subject, name, principal, id_token, csrf_token,
            created_at, last_seen_at, expires_at, idle_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(),
                 now() + make_interval(secs => $8), now() + make_interval(secs => $9))
         RETURNING ${COLUMNS}`,
        [
          hashId(id),
          principal.issuer,
          principal.subject,
          principal.name ?? null,
          JSON.stringify(principal),
          idToken ?? null,
          csrfToken,
          sessionTtlSeconds,
          Math.min(idleTimeoutSeconds, sessionTtlSeconds),
        ],
      );
      return rows[0] as SessionRow;
    });
    return { id, session: live(row) };
  }

  /** The live session with this id, its idle deadline pushed out (never past the absolute one). */
  async touch(id: string): Promise<LiveSession | undefined> {
    const [rows] = await this.db.query<[SessionRow[]]>(
      `UPDATE console_session
          SET last_seen_at = now(),
              idle_expires_at = LEAST(now() + make_interval(secs => $2), expires_at)
        WHERE id_hash = $1 AND ${LIVE}
        RETURNING ${COLUMNS}`,
      [hashId(id), this.config.auth.console.idleTimeoutSeconds],
    );
    return rows[0] ? live(rows[0]) : undefined;
  }

  /** The live session with this id, without counting as use. */
  async find(id: string): Promise<LiveSession | undefined> {
    const rows = await this.db.query<SessionRow[]>(
      `SELECT ${COLUMNS} FROM console_session WHERE id_hash = $1 AND ${LIVE}`,
      [hashId(id)],
    );
    return rows[0] ? live(rows[0]) : undefined;
  }

  /** Ends one session (sign-out); returns its ID token for the IdP's logout, if it was live. */
  async end(id: string): Promise<{ idToken: string | undefined } | undefined> {
    const [rows] = await this.db.query<[{ id_token: string | null; live: boolean }[]]>(
      `DELETE FROM console_session WHERE id_hash = $1 RETURNING id_token, (${LIVE}) AS live`,
      [hashId(id)],
    );
    const row = rows[0];
    return row?.live ? { idToken: row.id_token ?? undefined } : undefined;
  }

  /** Live sessions, most recently used first. */
  async list(): Promise<SessionSummary[]> {
    const rows = await this.db.query<(SessionRow & { subject: string; name: string | null })[]>(
      `SELECT subject, name, ${COLUMNS} FROM console_session WHERE ${LIVE} ORDER BY last_seen_at DESC`,
    );
    return rows.map((row) => ({
      subject: row.subject,
      name: row.name,
      roles: row.principal.roles,
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at,
      expiresAt: row.expires_at,
      idleExpiresAt: row.idle_expires_at,
    }));
  }

  /** Ends every session of one person; returns how many were live. */
  async revokeSubject(subject: string): Promise<number> {
    const [rows] = await this.db.query<[{ live: boolean }[]]>(
      `DELETE FROM console_session WHERE subject = $1 RETURNING (${LIVE}) AS live`,
      [subject],
    );
    return rows.filter((r) => r.live).length;
  }

  /** Deletes expired sessions and sign-ins that were never finished. */
  async sweep(): Promise<{ sessions: number; logins: number }> {
    const [, sessions] = await this.db.query<[unknown, number]>(
      `DELETE FROM console_session WHERE NOT (${LIVE})`,
    );
    const [, logins] = await this.db.query<[unknown, number]>(
      'DELETE FROM console_login WHERE expires_at <= now()',
    );
    if (sessions + logins > 0) this.logger.debug({ sessions, logins }, 'console sessions swept');
    return { sessions, logins };
  }
}

/** 256 random bits, base64url: the value the browser's cookie carries. */
function newId(): string {
  return randomBytes(32).toString('base64url');
}

/** What the tables store instead of an id. */
export function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

function live(row: SessionRow): LiveSession {
  return {
    // The snapshot's own expiry was the ID token's; the session's end is what counts now.
    principal: { ...row.principal, expiresAt: row.expires_at.getTime() },
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    idleExpiresAt: row.idle_expires_at,
  };
}
