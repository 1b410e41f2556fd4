import type { FetchLike } from '@modelcontextprotocol/client';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';

/** How the bridge connects to the gateway. PEM contents, not paths. */
export interface GatewayHttpOptions {
  /** Client certificate for mTLS; needs `key`. */
  cert?: string;
  /** Private key of the client certificate. */
  key?: string;
  /** CA bundle that replaces the system roots for verifying the gateway. */
  ca?: string;
  /** Longest wait for a TCP/TLS connection. */
  connectTimeoutMs: number;
  /** Longest wait from sending a request to the gateway's response headers. */
  headersTimeoutMs: number;
}

/** A fetch bound to one connection pool, and the way to release it. */
export interface GatewayHttp {
  fetch: FetchLike;
  close(): Promise<void>;
}

/**
 * Builds the fetch the MCP transport uses. undici's own `fetch` is paired with
 * its own `Agent` (Node 20's global fetch is an older bundled undici, and
 * mixing a newer Agent into it is not supported). Body timeouts are off: the
 * standalone SSE stream may rightly stay silent for hours.
 */
export function createGatewayHttp(options: GatewayHttpOptions): GatewayHttp {
  const agent = new Agent({
    connect: {
      timeout: options.connectTimeoutMs,
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: 0,
  });
  const fetch: FetchLike = async (url, init) => {
    // The SDK builds a global-fetch RequestInit; undici's declarations name the same fields.
    return undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher: agent });
  };
  return {
    fetch,
    close: async () => {
      await agent.destroy();
    },
  };
}
