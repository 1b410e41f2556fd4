import type { IngestRequest, IngestResponse } from '@gatehouse/audit';
import type { AuthProvider, FetchLike } from '@modelcontextprotocol/client';

import { INGEST_ENDPOINT } from './contract';

/** The header that carries the bridge's version on every request, for the audit record's `client.bridgeVersion`. */
export const BRIDGE_VERSION_HEADER = 'gatehouse-bridge-version';

export interface IngestClientOptions {
  /** The gateway's base URL (see `gatewayKey`), without the MCP endpoint path. */
  gateway: string;
  fetch: FetchLike;
  /** Fixed headers (authorization from $GATEHOUSE_TOKEN or --header, extra headers). */
  headers: Record<string, string>;
  /** The stored login, when that is where the token comes from. */
  auth?: AuthProvider;
  bridgeVersion: string;
  /** Longest wait for one upload. */
  timeoutMs: number;
}

/** Why an upload did not go through; the spool keeps the calls either way. */
export class IngestError extends Error {
  constructor(
    message: string,
    /** Nothing answered (or a proxy with no gateway behind it): retry later, quietly. */
    readonly unreachable: boolean,
    readonly status?: number,
    /**
     * The gateway refused the request as invalid (400): the indices of the calls its issues name
     * (`calls[3].startedAt`), or empty when they name the request as a whole. Sending it again
     * cannot help.
     */
    readonly invalid?: { calls: number[]; issues: string[] },
    /** For a 429 (the gateway limits uploads per principal): its `Retry-After`, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

/**
 * Posts reports of calls run on a direct server to the gateway's ingest endpoint, with the
 * bridge's own credentials: the gateway attributes them to that principal and decides each
 * with the active policy. A 401 renews a stored login once, as the MCP transport does.
 */
export class IngestClient {
  readonly url: string;

  constructor(private readonly options: IngestClientOptions) {
    this.url = `${options.gateway}${INGEST_ENDPOINT}`;
  }

  async send(request: IngestRequest): Promise<IngestResponse> {
    const body = JSON.stringify({ ...request, bridgeVersion: this.options.bridgeVersion });
    let response = await this.post(body);
    if (response.status === 401 && this.options.auth?.onUnauthorized) {
      await this.options.auth.onUnauthorized({
        response,
        serverUrl: new URL(this.url),
        fetchFn: this.options.fetch,
      });
      response = await this.post(body);
    }
    const text = await response.text();
    if (!response.ok) {
      const unreachable = [502, 503, 504].includes(response.status) && !looksLikeGatehouse(text);
      const hint =
        response.status === 404
          ? ' (this gateway has no ingest endpoint: upgrade it to a version that takes shadow and fallback reports)'
          : '';
      throw new IngestError(
        `the gateway refused the upload at ${this.url}: HTTP ${response.status}${hint}${text ? ` - ${text.slice(0, 300)}` : ''}`,
        unreachable,
        response.status,
        response.status === 400 ? invalidCalls(text) : undefined,
        response.status === 429 ? retryAfterMs(response.headers.get('retry-after')) : undefined,
      );
    }
    try {
      const parsed = JSON.parse(text) as IngestResponse;
      if (!Array.isArray(parsed.decisions)) throw new Error('no decisions');
      return parsed;
    } catch (error) {
      throw new IngestError(
        `the gateway's answer to the upload at ${this.url} is not an ingest response (${(error as Error).message})`,
        false,
        response.status,
      );
    }
  }

  private async post(body: string): Promise<Response> {
    const headers: Record<string, string> = {
      ...this.options.headers,
      'content-type': 'application/json',
      accept: 'application/json',
      [BRIDGE_VERSION_HEADER]: this.options.bridgeVersion,
    };
    const token = await this.options.auth?.token();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    try {
      return await this.options.fetch(this.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw new IngestError(`cannot reach the gateway at ${this.url}: ${describe(error)}`, true);
    }
  }
}

/** Gatehouse's own answers: JSON-RPC, or the API's `{ error: { code, message } }`. */
function looksLikeGatehouse(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { jsonrpc?: unknown; error?: { code?: unknown } } | null;
    return parsed?.jsonrpc === '2.0' || typeof parsed?.error?.code === 'string';
  } catch {
    return false;
  }
}

/** `Retry-After` in seconds (the gateway never sends a date), as ms; 1 s when absent or unreadable. */
function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 600) * 1000 : 1000;
}

/** The calls a 400's `error.issues` name, by index; empty when none is named. */
function invalidCalls(text: string): { calls: number[]; issues: string[] } {
  try {
    const issues = (JSON.parse(text) as { error?: { issues?: Array<{ path?: unknown; message?: unknown }> } })
      .error?.issues;
    if (!Array.isArray(issues)) return { calls: [], issues: [] };
    const calls = new Set<number>();
    for (const issue of issues) {
      const match = typeof issue.path === 'string' ? /^calls\[(\d+)\]/.exec(issue.path) : null;
      if (match?.[1] !== undefined) calls.add(Number(match[1]));
    }
    return {
      calls: [...calls].sort((a, b) => a - b),
      issues: issues.map((issue) => `${String(issue.path)}: ${String(issue.message)}`),
    };
  } catch {
    return { calls: [], issues: [] };
  }
}

function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(
      typeof code === 'string' && !current.message.includes(code)
        ? `${current.message} (${code})`
        : current.message,
    );
    current = current.cause;
  }
  return parts.join(': ') || String(error);
}
