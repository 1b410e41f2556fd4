import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SiemSinkError, SiemSinkErrorCode } from './siem-sink-error';

/** TLS material for an HTTPS receiver; its certificate is always verified. */
export interface HttpTlsOptions {
  /** PEM of the CA(s) that signed the receiver's certificate; Node's bundled roots when absent. */
  ca?: string | Buffer;
  /** PEM client certificate and key, for receivers that require mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface HttpAnswer {
  status: number;
  /** The first 64 KiB of the body, as text. */
  body: string;
}

const MAX_ANSWER = 64 * 1024;
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * POSTs to one receiver over a keep-alive agent, with one deadline for the whole exchange
 * (connect, upload, answer). Shared by the Splunk HEC and webhook sinks; it does not judge the
 * status, the sink does.
 */
export class HttpPoster {
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(
    private readonly sink: string,
    readonly url: URL,
    private readonly timeoutMs: number,
    tls: HttpTlsOptions = {},
  ) {
    this.agent =
      url.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: true,
          })
        : new HttpAgent({ keepAlive: true });
  }

  post(headers: Record<string, string>, body: Buffer): Promise<HttpAnswer> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<HttpAnswer>((ok, fail) => {
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...headers, 'content-length': String(body.length) },
      });
      const timer = setTimeout(() => {
        fail(
          new SiemSinkError(
            SiemSinkErrorCode.TIMEOUT,
            this.sink,
            `${this.url.origin} did not answer within ${this.timeoutMs} ms; the batch will be re-sent`,
            true,
          ),
        );
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(this.networkError(err));
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_ANSWER) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          fail(this.networkError(err));
        });
        res.on('end', () => {
          clearTimeout(timer);
          ok({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString('utf8'),
          });
        });
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private networkError(err: NodeJS.ErrnoException): SiemSinkError {
    const network = err.code !== undefined && NETWORK_ERRORS.has(err.code);
    if (this.url.protocol === 'https:' && !network) {
      return new SiemSinkError(
        SiemSinkErrorCode.TLS,
        this.sink,
        `TLS with ${this.url.origin} failed (${err.code ?? err.message}); check the CA and the receiver's certificate name`,
        true,
        undefined,
        { cause: err },
      );
    }
    return new SiemSinkError(
      SiemSinkErrorCode.UNREACHABLE,
      this.sink,
      `cannot reach ${this.url.origin} (${err.code ?? err.message}); the batch will be re-sent`,
      true,
      undefined,
      { cause: err },
    );
  }
}

/** 408, 429 and 5xx may pass on their own; other statuses need someone to fix the request or credentials. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Parses a URL option or says which option is wrong. */
export function parseUrl(sink: string, option: string, value: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SiemSinkError(
      SiemSinkErrorCode.INVALID_OPTIONS,
      sink,
      `${option} '${value}' is not a URL`,
      false,
    );
  }
  if (!protocols.includes(url.protocol)) {
    throw new SiemSinkError(
      SiemSinkErrorCode.INVALID_OPTIONS,
      sink,
      `${option} must use ${protocols.join(' or ')} (got ${url.protocol})`,
      false,
    );
  }
  return url;
}
