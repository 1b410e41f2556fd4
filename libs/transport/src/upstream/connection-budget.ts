import { TransportError, TransportErrorCode } from '../jsonrpc';

export interface ConnectionBudgetLimits {
  /** Live per-session connections one principal may hold on this replica. */
  perPrincipal: number;
  /** Live per-session connections on this replica, all principals and upstreams together. */
  perReplica: number;
  /** Per upstream, where its config sets `maxSessions`. */
  perServer(server: string): number | undefined;
}

/**
 * Counts the per-session upstream connections of this replica (each a process for stdio, ~60 MB)
 * by principal, by upstream and in total. A connection is counted from the moment it is decided,
 * before its process starts, so a flood of `initialize` calls cannot race past the caps while
 * earlier spawns are still completing; the count is given back once, when the connection is
 * released, closes or fails to start.
 */
export class ConnectionBudget {
  private total = 0;
  private readonly byPrincipal = new Map<string, number>();
  private readonly byServer = new Map<string, number>();

  constructor(private readonly limits: ConnectionBudgetLimits) {}

  /** Takes one slot or throws a TransportError naming the cap; the returned function gives it back. */
  take(principal: string, server: string): () => void {
    const mine = this.byPrincipal.get(principal) ?? 0;
    if (mine >= this.limits.perPrincipal) {
      throw new TransportError(
        TransportErrorCode.TOO_MANY_UPSTREAM_SESSIONS,
        `you already hold ${mine} per-session upstream connections on this gateway (the limit is ${this.limits.perPrincipal}); end a session you no longer use (DELETE) and retry`,
        { limit: 'sessions.upstreamsPerPrincipal', max: this.limits.perPrincipal },
      );
    }
    const serverMax = this.limits.perServer(server);
    const onServer = this.byServer.get(server) ?? 0;
    if (serverMax !== undefined && onServer >= serverMax) {
      throw new TransportError(
        TransportErrorCode.UPSTREAM_CAPACITY,
        `upstream "${server}" already serves ${onServer} sessions on this replica (its limit); retry later`,
        { limit: `upstreams.${server}.maxSessions`, max: serverMax },
      );
    }
    if (this.total >= this.limits.perReplica) {
      throw new TransportError(
        TransportErrorCode.UPSTREAM_CAPACITY,
        `this gateway replica already runs ${this.total} per-session upstream connections (its limit); retry later`,
        { limit: 'sessions.upstreamsPerReplica', max: this.limits.perReplica },
      );
    }
    this.total++;
    this.byPrincipal.set(principal, mine + 1);
    this.byServer.set(server, onServer + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total--;
      decrement(this.byPrincipal, principal);
      decrement(this.byServer, server);
    };
  }

  get size(): number {
    return this.total;
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
