import type { GatehouseConfig, UpstreamConfig } from '@gatehouse/config';
import type { Logger, Metrics } from '@gatehouse/observability';
import { TransportError, TransportErrorCode } from '../jsonrpc';
import type { ProtocolEra } from '../call-context';
import type { SessionRecord } from '../session/session-store';
import { ConnectionBudget } from './connection-budget';
import { UpstreamConnection, type UpstreamHandlers } from './upstream-connection';

const GATEWAY_INFO = { name: 'gatehouse', version: '0.1.0' };

/**
 * Who a connection serves. Each hop negotiates its own revision: a 2025-era client session is
 * served over a 2025-era upstream hop (so setLevel, subscribe and server-to-client requests keep
 * their meaning), a 2026-07-28 client over a hop that negotiates the newest revision both sides speak.
 */
export interface ConnectionOwner {
  era: ProtocolEra;
  /** The client session, for per-session upstreams (2025 era only: 2026-07-28 has no sessions). */
  session?: SessionRecord;
}

/** Everything a shared upstream may ask of a client; the gateway then finds the client to ask. */
const ALL_CLIENT_CAPABILITIES = { sampling: {}, elicitation: {}, roots: { listChanged: true } };

/** Where the pool sends what upstreams say to clients. */
export interface UpstreamEvents {
  notification(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
  ): void;
  request(
    server: string,
    sessionId: string | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
}

/**
 * Owns every upstream connection on this replica. Shared upstreams get one connection,
 * started at boot and restarted with backoff when it dies. Per-session upstreams get one
 * connection per client session, opened on first use on whichever replica serves the session,
 * so a session that moves between replicas is re-established transparently.
 */
export class UpstreamPool {
  private readonly shared = new Map<string, Promise<UpstreamConnection>>();
  private readonly perSession = new Map<string, Promise<UpstreamConnection>>();
  /** Gives back a per-session connection's place in the budget; one entry per `perSession` key. */
  private readonly budgetSlots = new Map<string, () => void>();
  private readonly budget: ConnectionBudget;
  private readonly restartDelay = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;

  constructor(
    private readonly config: GatehouseConfig,
    private readonly events: UpstreamEvents,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
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
    if (cfg.sharing === 'shared' || !owner.session || owner.era === 'modern')
      return this.sharedConnection(server, owner.era);
    return this.sessionConnection(server, owner.session);
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
      conn = this.open(server, era, undefined);
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
      let giveBack: () => void;
      try {
        giveBack = this.budget.take(session.owner, server);
      } catch (err) {
        this.logger.warn(
          { server, session: session.id.slice(0, 8), limit: (err as TransportError).data?.limit },
          'per-session upstream refused: connection cap reached; nothing was started',
        );
        throw err;
      }
      conn = this.open(server, 'legacy', session).then(async (c) => {
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

  private async open(
    server: string,
    era: ProtocolEra,
    session: SessionRecord | undefined,
  ): Promise<UpstreamConnection> {
    if (this.closing)
      throw new TransportError(TransportErrorCode.SHUTTING_DOWN, 'the gateway is shutting down');
    const cfg = this.upstreamConfig(server);
    const sessionId = session?.id;
    const key = sessionId ? `${sessionId}\u0000${server}` : undefined;
    const handlers: UpstreamHandlers = {
      onNotification: (method, params) => this.events.notification(server, sessionId, method, params),
      onRequest: (method, params, signal) => this.events.request(server, sessionId, method, params, signal),
      onClose: () => {
        this.logger.warn({ server, session: sessionId }, 'upstream connection closed unexpectedly');
        this.metrics.upstreamUp.set({ server }, 0);
        if (key) this.forget(key);
        else this.scheduleRestart(server, era);
      },
    };
    const conn = new UpstreamConnection(
      server,
      cfg,
      {
        clientInfo: GATEWAY_INFO,
        // A per-session upstream is offered what its client offers. A shared one is offered
        // everything; the gateway finds the client each request belongs to, or refuses it.
        capabilities: session
          ? clientCapabilitiesForUpstream(session.clientCapabilities)
          : ALL_CLIENT_CAPABILITIES,
        era,
        shared: !session,
      },
      handlers,
      this.logger,
    );
    await conn.connect();
    this.logger.info(
      { server, session: sessionId, protocolVersion: conn.info().protocolVersion, pid: conn.pid },
      'upstream connected',
    );
    return conn;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    const all = [...this.shared.values(), ...this.perSession.values()];
    this.shared.clear();
    for (const key of [...this.perSession.keys()]) this.forget(key);
    await Promise.all(all.map((c) => c.then((x) => x.close()).catch(() => undefined)));
  }
}

function clientCapabilitiesForUpstream(caps: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['sampling', 'elicitation', 'roots'] as const) {
    if (caps[key] !== undefined) out[key] = caps[key];
  }
  return out;
}
