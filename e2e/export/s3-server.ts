import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types; its constructor and run/close are all this file uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
};

/** One request the S3 server received, as the proxy saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The status the client got (0 until answered). */
  status: number;
}

/**
 * A real S3-protocol server (s3rver, files in a temporary folder) behind a small HTTP proxy that
 * records every request's method, path and headers (s3rver ignores Object Lock headers, so the
 * proxy is where a test sees them) and can answer 503 for a while (`failing = true`), the way S3
 * sheds load. No S3 behaviour is mocked: every request that is not failed reaches s3rver.
 */
export interface S3Server {
  /** The endpoint clients use (the proxy). */
  endpoint: string;
  bucket: string;
  seen: SeenRequest[];
  failing: boolean;
  /** Answer only PUTs with 503 (uploads fail, listings and reads work). */
  failingPuts: boolean;
  /** Milliseconds each forwarded request waits first (a slow S3, to catch a worker mid-batch). */
  delayMs: number;
  /** Requests answered 503 while failing. */
  refused: number;
  /** Options for `export.s3` / `S3Archive`. */
  options: {
    bucket: string;
    region: string;
    endpoint: string;
    forcePathStyle: boolean;
    accessKeyId: string;
    secretAccessKey: string;
    prefix: string;
    retentionDays: number;
  };
  close(): Promise<void>;
}

export async function startS3Server(bucket = 'audit-archive'): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const upstream = await s3.run();
  const state: S3Server = {
    endpoint: '',
    bucket,
    seen: [],
    failing: false,
    failingPuts: false,
    delayMs: 0,
    refused: 0,
    options: {} as S3Server['options'],
    close: async () => {
      await new Promise<void>((ok) => proxy.close(() => ok()));
      await s3.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
  const proxy: Server = createServer((req, res) => {
    const seen: SeenRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      status: 0,
    };
    state.seen.push(seen);
    if (state.failing || (state.failingPuts && req.method === 'PUT')) {
      state.refused += 1;
      seen.status = 503;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const forward = () => {
      const upstreamRequest = request(
        { host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          seen.status = answer.statusCode ?? 502;
          res.writeHead(seen.status, answer.headers);
          answer.pipe(res);
        },
      );
      upstreamRequest.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(upstreamRequest);
    };
    if (state.delayMs > 0) setTimeout(forward, state.delayMs);
    else forward();
  });
  proxy.keepAliveTimeout = 1000;
  await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', () => ok()));
  const port = (proxy.address() as AddressInfo).port;
  state.endpoint = `http://127.0.0.1:${port}`;
  state.options = {
    bucket,
    region: 'us-east-1',
    endpoint: state.endpoint,
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    prefix: '',
    retentionDays: 30,
  };
  return state;
}
