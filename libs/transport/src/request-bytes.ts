import type { Principal } from '@gatehouse/auth';
import type { TransportError } from './jsonrpc';

/** A request refused by the byte budget, and what the audit records of the refusal. */
export interface BytesRefusal {
  error: TransportError;
  /** `call.facts.rateLimit` of the refusal's audit record. */
  facts: Record<string, unknown>;
}

/**
 * The request-byte budget the front door charges before a body is parsed (issue 13 point 5):
 * `charge(principal, 0)` only says whether the principal is already over it, without a shared
 * round trip. Provided by the rate-limit lib under {@link REQUEST_BYTES_BUDGET}; without it
 * bodies are bounded by `server.bodyLimitBytes` alone.
 */
export interface RequestBytesBudget {
  charge(principal: Principal, bytes: number): Promise<BytesRefusal | undefined>;
}

/** Injection token of the {@link RequestBytesBudget} (optional). */
export const REQUEST_BYTES_BUDGET = Symbol('REQUEST_BYTES_BUDGET');
