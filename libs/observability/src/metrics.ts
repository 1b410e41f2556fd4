import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics; names follow `gatehouse_<noun>_<unit>`. */
export class Metrics {
  readonly registry = new Registry();

  readonly calls = new Counter({
    name: 'gatehouse_calls_total',
    help: 'MCP requests handled, by server, method and outcome',
    labelNames: ['server', 'method', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'gatehouse_errors_total',
    help: 'Requests that ended in a JSON-RPC or HTTP error, by code',
    labelNames: ['server', 'code'] as const,
    registers: [this.registry],
  });

  readonly callDuration = new Histogram({
    name: 'gatehouse_call_duration_seconds',
    help: 'Time per MCP request, split into gateway and upstream parts',
    labelNames: ['server', 'method', 'part'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly sessionsCreated = new Counter({
    name: 'gatehouse_sessions_created_total',
    help: 'Client sessions initialized on this replica',
    registers: [this.registry],
  });

  private countActiveSessions: () => number = () => 0;

  /** Sessions this replica is serving now: an open GET stream, a call in flight or a per-session upstream. */
  readonly sessions: Gauge = new Gauge({
    name: 'gatehouse_sessions_active',
    help: 'Client sessions this replica is serving now (stream open, call in flight or per-session upstream)',
    registers: [this.registry],
    collect: (): void => this.sessions.set(this.countActiveSessions()),
  });

  /** The transport tells the registry how to count active sessions at scrape time. */
  countSessionsWith(count: () => number): void {
    this.countActiveSessions = count;
  }

  readonly upstreamUp = new Gauge({
    name: 'gatehouse_upstream_up',
    help: '1 when the upstream connection is healthy, 0 otherwise',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });

  readonly upstreamRestarts = new Counter({
    name: 'gatehouse_upstream_restarts_total',
    help: 'Upstream connections re-established after a failure',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });

  /** 1 while this replica applies its degraded share of every rate limit because Redis is unreachable or slow (R28). */
  readonly rateLimitDegraded = new Gauge({
    name: 'gatehouse_rate_limit_degraded',
    help: '1 while this replica applies its degraded share of every rate limit because Redis is unreachable or slow',
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_process_' });
  }
}
