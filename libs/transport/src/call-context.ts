import type { Principal } from '@gatehouse/auth';
import type { JsonRpcRequest } from './jsonrpc';
import type { SessionRecord } from './session/session-store';

/** The two wire eras a client can speak; each hop negotiates its own. */
export type ProtocolEra = 'legacy' | 'modern';

/** Everything known about one client request as it moves down the call pipeline. */
export interface CallContext {
  /** `*` (aggregated endpoint) or the passthrough server name from the URL. */
  target: string;
  request: JsonRpcRequest;
  era: ProtocolEra;
  protocolVersion: string;
  /** Legacy sessions only; 2026-07-28 requests are session-less. */
  session: SessionRecord | undefined;
  /** Who is calling (authenticated by the front door). */
  principal: Principal;
  /** Upstream chosen by routing, and the params as that upstream will see them. */
  server?: string;
  upstreamParams?: Record<string, unknown>;
  /**
   * tasks/get, tasks/result, tasks/cancel: the caller's own task (nobody else's ever gets this
   * far) and the request that created it, which the policy decides again for every task call.
   */
  task?: { taskId: string; createdBy: { method: string; params: Record<string, unknown> } };
  /** Request headers (lower-case) for the identity stage; never forwarded upstream. */
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string | undefined;
  startedAt: bigint;
  /** What stages learned (the policy decision, rate-limit state), for later stages and the audit. */
  facts: Record<string, unknown>;
}

/** How a call ended, for the stages that record outcomes (audit, metrics). */
export interface CallOutcome {
  status: 'ok' | 'error' | 'denied';
  errorCode?: number;
  errorMessage?: string;
  /** Set when the call ended because the gateway is shutting down (SIGTERM past the grace period). */
  aborted?: boolean;
  upstreamNs?: bigint;
}

/**
 * A stage of the call pipeline (identity, policy, bypass, rate limit, audit). `before` runs
 * after routing and before the upstream is reached; throwing refuses the call with that error.
 * `after` sees every outcome. Stages run in the order they are provided.
 */
export interface CallStage {
  readonly name: string;
  before(call: CallContext): Promise<void>;
  /**
   * Sees a successful result before the client does and may narrow it (lists show only what the
   * principal may call, R12). Runs in stage order.
   */
  result?(call: CallContext, result: Record<string, unknown>): Record<string, unknown>;
  /**
   * Runs once the call is decided or answered, whatever the outcome, with every other stage's
   * `after` started in the same turn, right after the answer was handed to the client's
   * connection (at the end of that event-loop turn, before any further request is read): the
   * answer waits for none of their work, so work that must happen before the answer belongs in
   * `before` or `result`. Whatever must not be lost (an audit record) has to be handed over
   * synchronously, before the first `await`; the call counts as in flight (the drain waits for
   * it) until then.
   */
  after?(call: CallContext, outcome: CallOutcome): Promise<void>;
}

/** Multi-provider token: later libs add their stages here without reshaping the pipeline. */
export const CALL_STAGES = Symbol('CALL_STAGES');
