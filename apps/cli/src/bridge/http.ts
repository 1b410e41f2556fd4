import { isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';

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

/**
 * With TLS 1.3 a server checks the client certificate after the client has
 * finished its handshake, so a refused certificate reaches fetch only as
 * "other side closed". When a request dies that way, the bridge opens one
 * bare TLS connection with the same settings to learn the real reason.
 * Returns a sentence for the host, or undefined when TLS is not the cause.
 */
export function diagnoseTls(
  url: URL,
  options: GatewayHttpOptions,
  graceMs = 500,
): Promise<string | undefined> {
  if (url.protocol !== 'https:') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = connectTls({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(options.cert !== undefined ? { cert: options.cert } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ALPNProtocols: ['http/1.1'],
    });
    let handshaken = false;
    let settled = false;
    const finish = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => finish(undefined), options.connectTimeoutMs + graceMs);
    socket.on('secureConnect', () => {
      handshaken = true;
      // A server that accepted us now waits for a request; one that did not hangs up.
      setTimeout(() => finish(undefined), graceMs);
    });
    socket.on('data', () => undefined);
    socket.on('error', (error: Error & { code?: string }) => finish(explainTlsError(error, options)));
    socket.on('close', () =>
      finish(
        handshaken
          ? options.cert === undefined
            ? 'the gateway closed the TLS connection after the handshake: it most likely requires a client certificate (--cert and --key)'
            : 'the gateway closed the TLS connection after the handshake: it most likely does not accept the client certificate given with --cert'
          : undefined,
      ),
    );
  });
}

/** A TLS error in words a person can act on, with the OpenSSL code kept for searching. */
export function explainTlsError(
  error: Error & { code?: string },
  options: Pick<GatewayHttpOptions, 'cert'>,
): string | undefined {
  const code = error.code ?? '';
  const raw = `${error.message.split('\n')[0] ?? ''}${code && !error.message.includes(code) ? ` (${code})` : ''}`;
  if (code.includes('CERTIFICATE_REQUIRED')) {
    return `the gateway requires a client certificate (pass --cert and --key): ${raw}`;
  }
  if (
    code.includes('ALERT_UNKNOWN_CA') ||
    code.includes('ALERT_BAD_CERTIFICATE') ||
    code.includes('CERTIFICATE_UNKNOWN')
  ) {
    return options.cert === undefined
      ? `the gateway refused the TLS handshake: ${raw}`
      : `the gateway does not accept the client certificate given with --cert: ${raw}`;
  }
  if (code.includes('SELF_SIGNED') || code.startsWith('UNABLE_TO_') || code === 'CERT_UNTRUSTED') {
    return `cannot verify the gateway's certificate (give its CA with --ca): ${raw}`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the gateway's certificate is for another name: ${raw}`;
  if (code === 'CERT_HAS_EXPIRED') return `the gateway's certificate has expired: ${raw}`;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_'))
    return `TLS failed: ${raw}`;
  return undefined;
}
