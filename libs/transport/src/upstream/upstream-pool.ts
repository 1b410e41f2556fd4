import type { GatehouseConfig, UpstreamConfig } from '@gatehouse/config';
import type { Logger, Metrics } from '@gatehouse/observability';
import { TransportError, TransportErrorCode } from '../jsonrpc';
import type { ProtocolEra } from '../call-context';
import type { SessionRecord } from '../session/session-store';
import { ConnectionBudget } from './connection-budget';
import { type CallOwner, UpstreamConnection, type UpstreamHandlers } from './upstream-connection';

const GATEWAY_INFO = { name: 'gatehouse', version: '0.1.0' };
/** A principal's own connection to a per-session server (2026-07-28 calls) closes after this long unused. */

/**
 * Who a connection serves. Each hop negotiates its own revision: a 2025-era client session is
 * served over a 2025-era upstream hop (so setLevel, subscribe and server-to-client requests keep
 * their meaning), a 2026-07-28 client over a hop that negotiates the newest revision both sides speak.
 */
/** A 2026-07-28 principal's connection to a per-session server, and its place in the budget. */
interface PrincipalEntry {
  conn: Promise<UpstreamConnection>;
  lastUsed: number;
  giveBack: () => void;
}

export interface ConnectionOwner {
  era: ProtocolEra;
  /** The client session, for per-session upstreams (2025 era only: 2026-07-28 has no sessions). */
  session?: SessionRecord;
  /** principalKey of the caller: a per-session upstream serves 2026-07-28 calls one principal at a time. */
  principal: string;
}

/**
 * What a shared 2025-era connection may ask of a client: the gateway asks the caller of the one
 * request in flight, or refuses. Never `roots`: roots describe one client, and whatever one client
 * answered would bind the process for everyone (unless the admin fixes them with `roots:`).
 */
const SHARED_CLIENT_CAPABILITIES = { sampling: {}, elicitation: {} };

/** Where the pool sends what upstreams say to clients. */
export interface UpstreamEvents {
  notification(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
    caller: CallOwner | undefined,
  ): void;
  request(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    caller: CallOwner | undefined,
  ): Promise<Record<string, unknown>>;
}

/**
 * Owns every upstream connection on this replica. Shared upstreams get one connection,
 * started at boot and restarted with backoff when it dies. Per-session upstreams get one
 * connection per client session, opened on first use on whichever replica serves the session,
 * so a session that moves between replicas is re-established transparently; 2026-07-28 calls,
 * which have no session, get one connection per principal, closed once idle.
 */
export class UpstreamPool {
  private readonly shared = new Map<string, Promise<UpstreamConnection>>();
  private readonly perSession = new Map<string, Promise<UpstreamConnection>>();
  private readonly perPrincipal = new Map<string, PrincipalEntry>();
  /** Gives back a per-session connection's place in the budget; one entry per `perSession` key. */
  private readonly budgetSlots = new Map<string, () => void>();
  private readonly budget: ConnectionBudget;
  private readonly principalIdleMs: number;
  private readonly restartDelay = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;

  constructor(
    private readonly config: GatehouseConfig,
    private readonly events: UpstreamEvents,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.principalIdleMs = config.sessions.principalConnectionIdleSeconds * 1000;
    this.budget = new ConnectionBudget({
      perPrincipal: config.sessions.upstreamsPerPrincipal,
      perReplica: config.sessions.upstreamsPerReplica,
      perServer: (server) => config.upstreams[server]?.maxSessions,
    });
  }

  get servers(): string[] {
    return Object.keys(this.config.upstreams);
  }

  upstreamConfig(server: string): UpstreamConfig {
    const cfg = this.config.upstreams[server];
    if (!cfg)
      throw new TransportError(TransportErrorCode.UNKNOWN_SERVER, `no upstream server named "${server}"`);
    return cfg;
  }

  /** Starts every shared upstream; failures are logged and retried, never fatal to the gateway. */
  startShared(): void {
    for (const server of this.servers) {
      if (this.upstreamConfig(server).sharing === 'shared')
        void this.sharedConnection(server, 'legacy').catch(() => undefined);
    }
  }

  /** The connection that serves `server` for this session (or for a session-less request). */
  async get(server: string, owner: ConnectionOwner): Promise<UpstreamConnection> {
    const cfg = this.upstreamConfig(server);
    if (cfg.sharing === 'shared') return this.sharedConnection(server, owner.era);
    if (owner.era === 'legacy' && owner.session) return this.sessionConnection(server, owner.session);
    return this.principalConnection(server, owner.principal);
  }

  /** Closes the per-session connections of a session (DELETE, expiry). */
  async release(sessionId: string): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const [key, conn] of this.perSession) {
      if (key.startsWith(`${sessionId}\u0000`)) {
        this.forget(key, conn);
        closing.push(conn.then((c) => c.close()).catch(() => undefined));
      }
    }
    await Promise.all(closing);
  }

  isPerSession(server: string): boolean {
    return this.upstreamConfig(server).sharing === 'per-session';
  }

  /** Sessions that hold per-session connections on this replica. */
  sessionIds(): string[] {
    return [...new Set([...this.perSession.keys()].map((k) => k.split('\u0000')[0] as string))];
  }

  private sharedConnection(server: string, era: ProtocolEra): Promise<UpstreamConnection> {
    const key = `${server}\u0001${era}`;
    let conn = this.shared.get(key);
    if (!conn) {
      conn = this.open(server, era, undefined, () => this.scheduleRestart(server, era));
      this.shared.set(key, conn);
      conn.then(
        () => {
          this.restartDelay.delete(key);
          this.metrics.upstreamUp.set({ server }, 1);
        },
        (err: unknown) => {
          this.metrics.upstreamUp.set({ server }, 0);
          this.logger.error({ err, server }, 'upstream failed to start');
          this.scheduleRestart(server, era);
        },
      );
    }
    return conn;
  }

  private scheduleRestart(server: string, era: ProtocolEra): void {
    if (this.closing) return;
    const key = `${server}\u0001${era}`;
    const delay = Math.min(30_000, (this.restartDelay.get(key) ?? 500) * 2);
    this.restartDelay.set(key, delay);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closing) return;
      this.shared.delete(key);
      this.metrics.upstreamRestarts.inc({ server });
      void this.sharedConnection(server, era).catch(() => undefined);
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  private sessionConnection(server: string, session: SessionRecord): Promise<UpstreamConnection> {
    const key = `${session.id}\u0000${server}`;
    let conn = this.perSession.get(key);
    if (!conn) {
      // Counted before anything starts (and in this same turn as the map entry), so concurrent
      // first uses cannot all pass the caps while the earlier processes are still starting.
      const giveBack = this.takeSlot(session.owner, server, session.id.slice(0, 8));
      conn = this.open(server, 'legacy', session, () => this.forget(key)).then(async (c) => {
        await this.replaySessionState(c, server, session);
        return c;
      });
      this.perSession.set(key, conn);
      this.budgetSlots.set(key, giveBack);
      const started = conn;
      started.catch(() => this.forget(key, started));
    }
    return conn;
  }

  /**
   * A 2026-07-28 call to a per-session server: one connection per principal, counted in the same
   * budget as sessions' connections (a per-principal connection is a process too).
   */
  private principalConnection(server: string, principal: string): Promise<UpstreamConnection> {
    const key = `${principal}\u0000${server}`;
    let entry = this.perPrincipal.get(key);
    if (!entry) {
      const giveBack = this.takeSlot(principal, server, undefined);
      const created: PrincipalEntry = {
        conn: this.open(server, 'modern', undefined, () => this.forgetPrincipal(key, created)),
        lastUsed: 0,
        giveBack,
      };
      this.perPrincipal.set(key, created);
      created.conn.then(
        () => this.closeWhenIdle(key, created),
        () => this.forgetPrincipal(key, created),
      );
      entry = created;
    }
    entry.lastUsed = Date.now();
    return entry.conn;
  }

  private closeWhenIdle(key: string, entry: PrincipalEntry): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closing || this.perPrincipal.get(key) !== entry) return;
      void entry.conn.then((c) => {
        if (c.busy || Date.now() - entry.lastUsed < this.principalIdleMs)
          return this.closeWhenIdle(key, entry);
        this.forgetPrincipal(key, entry);
        return c.close();
      });
    }, this.principalIdleMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** Takes a place in the connection budget, or refuses with the cap's reason (nothing started). */
  private takeSlot(principal: string, server: string, session: string | undefined): () => void {
    try {
      return this.budget.take(principal, server);
    } catch (err) {
      this.logger.warn(
        { server, session, limit: (err as TransportError).data?.limit },
        'per-session upstream refused: connection cap reached; nothing was started',
      );
      throw err;
    }
  }

  /** Drops a per-principal connection from the pool and gives its place in the budget back. */
  private forgetPrincipal(key: string, entry: PrincipalEntry): void {
    if (this.perPrincipal.get(key) !== entry) return;
    this.perPrincipal.delete(key);
    entry.giveBack();
  }

  /** Drops a per-session connection from the pool and gives its place in the budget back. */
  private forget(key: string, conn?: Promise<UpstreamConnection>): void {
    if (conn && this.perSession.get(key) !== conn) return;
    this.perSession.delete(key);
    this.budgetSlots.get(key)?.();
    this.budgetSlots.delete(key);
  }

  /** A session that arrives from another replica gets its subscriptions and log level back. */
  private async replaySessionState(
    conn: UpstreamConnection,
    server: string,
    session: SessionRecord,
  ): Promise<void> {
    const level = session.logLevels[server];
    if (level) await conn.request('logging/setLevel', { level }).catch(() => undefined);
    for (const uri of session.subscriptions[server] ?? []) {
      await conn.request('resources/subscribe', { uri }).catch(() => undefined);
    }
  }

  /** `gone` runs when the connection dies on its own, so its owner can forget or restart it. */
  private async open(
    server: string,
    era: ProtocolEra,
    session: SessionRecord | undefined,
    gone: () => void,
  ): Promise<UpstreamConnection> {
    if (this.closing)
      throw new TransportError(TransportErrorCode.SHUTTING_DOWN, 'the gateway is shutting down');
    const cfg = this.upstreamConfig(server);
    const sessionId = session?.id;
    const handlers: UpstreamHandlers = {
      onNotification: (method, params, caller) =>
        this.events.notification(server, sessionId, method, params, caller),
      onRequest: async (method, params, signal, caller) => {
        // Roots fixed by the admin are answered here, whoever asks and whoever is calling.
        if (method === 'roots/list' && Array.isArray(cfg.roots))
          return { roots: cfg.roots.map((uri) => ({ uri })) };
        return this.events.request(server, sessionId, method, params, signal, caller);
      },
      onClose: () => {
        this.logger.warn(
          { server, session: sessionId?.slice(0, 8) },
          'upstream connection closed unexpectedly',
        );
        this.metrics.upstreamUp.set({ server }, 0);
        gone();
      },
    };
    const conn = new UpstreamConnection(
      server,
      cfg,
      {
        clientInfo: GATEWAY_INFO,
        capabilities: offeredCapabilities(cfg, era, session),
        era,
        shared: cfg.sharing === 'shared',
      },
      handlers,
      this.logger,
    );
    await conn.connect();
    this.logger.info(
      {
        server,
        session: sessionId?.slice(0, 8),
        protocolVersion: conn.info().protocolVersion,
        pid: conn.pid,
      },
      'upstream connected',
    );
    return conn;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    const all = [
      ...this.shared.values(),
      ...this.perSession.values(),
      ...[...this.perPrincipal.values()].map((e) => e.conn),
    ];
    this.shared.clear();
    for (const key of [...this.perSession.keys()]) this.forget(key);
    for (const [key, entry] of [...this.perPrincipal]) this.forgetPrincipal(key, entry);
    await Promise.all(all.map((c) => c.then((x) => x.close()).catch(() => undefined)));
  }
}

/**
 * What a connection offers its upstream. A per-session connection offers the sampling and
 * elicitation its own client declared, and its roots only where config says `roots: client`. A shared 2025-era one offers sampling and elicitation, which the gateway routes to
 * the one caller in flight or refuses. 2026-07-28 callers are never sent server-to-client
 * requests (they answer `input_required` results instead), so their connections offer none.
 * Roots fixed in config are offered on every connection and answered by the gateway.
 */
function offeredCapabilities(
  cfg: UpstreamConfig,
  era: ProtocolEra,
  session: SessionRecord | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (session) {
    for (const key of ['sampling', 'elicitation', 'roots'] as const) {
      const declared = session.clientCapabilities[key];
      if (declared !== undefined) out[key] = declared;
    }
  } else if (era === 'legacy') {
    Object.assign(out, SHARED_CLIENT_CAPABILITIES);
  }
  if (Array.isArray(cfg.roots)) out.roots = {};
  else if (!session || cfg.roots !== 'client') delete out.roots;
  return out;
}
