/**
 * `GET /api/v1/overview` (apps/gateway/src/console/overview/overview.schemas.ts). Written out
 * until the generated client describes it.
 */
export interface Percentiles {
  p50Ms: number;
  p99Ms: number;
}

export interface Overview {
  from: string;
  to: string;
  totals: { calls: number; denied: number; rateLimited: number; errors: number; bypassed: number };
  perMinute: Array<{ minute: string; calls: number; denied: number; rateLimited: number; errors: number }>;
  latency: { gateway: Percentiles | null; upstream: Percentiles | null };
  upstreams: Array<{
    server: string;
    transport: 'stdio' | 'http';
    sharing: 'shared' | 'per-session';
    state: 'up' | 'down' | 'on-demand';
  }>;
  export: {
    enabled: boolean;
    lagAlertSeconds: number;
    sinks: Array<{
      sink: string;
      lagSeconds: number;
      alerting: boolean;
      undelivered: number;
      deadLetters: number;
      lastSuccessAt: string | null;
      lastError: string | null;
    }>;
  };
  bypass: { active: number; pendingApproval: number };
  replicas: Array<{
    id: string;
    hostname: string;
    version: string;
    startedAt: string;
    lastSeenAt: string;
    live: boolean;
  }>;
}
