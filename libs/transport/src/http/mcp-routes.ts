import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuthError,
  authFailure,
  type Authenticator,
  connectionCertificate,
  type GatewayUrls,
  type Principal,
} from '@gatehouse/auth';
import type { GatehouseConfig } from '@gatehouse/config';
import {
  errorMapping,
  errorResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcResponse,
  TransportError,
  TransportErrorCode,
  validateMessage,
} from '../jsonrpc';
import type { ClientSink, McpGateway } from '../mcp-gateway.service';
import type { BytesRefusal, RequestBytesBudget } from '../request-bytes';
import { hostAllowList } from './host-guard';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set by the identity check before anything else reads the request. */
    principal?: Principal;
    /** The body's bytes were charged to the byte budget from its Content-Length. */
    bytesCharged?: boolean;
  }
}

const SESSION_HEADER = 'mcp-session-id';

/**
 * Streamable HTTP on `/mcp` (aggregated) and `/mcp/servers/:name` (passthrough). This layer
 * only checks the front door (Origin, Host, size, JSON) and moves bytes; every MCP decision is
 * made by {@link McpGateway}.
 */
export function registerMcpRoutes(
  app: FastifyInstance,
  gateway: McpGateway,
  config: GatehouseConfig,
  authenticator: Authenticator,
  urls: GatewayUrls,
  bytes?: RequestBytesBudget,
): void {
  const allowedHosts = hostAllowList(config);
  const allowedOrigins = new Set(config.server.allowedOrigins);

  // The body arrives as a string so a bad one becomes a JSON-RPC -32700, not a framework error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: config.server.bodyLimitBytes },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof TransportError) return sendError(reply, err);
    if (err.statusCode === 413) {
      return sendError(
        reply,
        new TransportError(
          TransportErrorCode.INVALID_REQUEST,
          `the body exceeds ${config.server.bodyLimitBytes} bytes`,
        ),
        413,
      );
    }
    if (err.statusCode === 415) {
      return sendError(
        reply,
        new TransportError(
          TransportErrorCode.UNSUPPORTED_MEDIA_TYPE,
          'Content-Type must be application/json',
        ),
      );
    }
    if (err.statusCode && err.statusCode < 500) {
      return sendError(
        reply,
        new TransportError(TransportErrorCode.INVALID_REQUEST, err.message),
        err.statusCode,
      );
    }
    // Unexpected: logged with the errorId the client is given, so the two can be matched.
    const errorId = randomBytes(8).toString('hex');
    req.log.error({ err, errorId, url: req.url }, 'unexpected error at the MCP front door');
    return sendError(
      reply,
      new TransportError(TransportErrorCode.INTERNAL, `internal gateway error (errorId ${errorId})`, {
        errorId,
      }),
    );
  });

  const targetOf = (req: FastifyRequest): string => (req.params as { name?: string }).name ?? '*';

  // R7: cross-site protection before anything else is read (the Host check, for every route,
  // is guardHosts on the root instance).
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin) && !isSameHostOrigin(origin, allowedHosts)) {
      throw new TransportError(TransportErrorCode.ORIGIN_FORBIDDEN, `Origin "${origin}" is not allowed`);
    }
    // Identity before the body is read: an unauthenticated caller costs no parsing (R1).
    const tls = connectionCertificate(req.raw.socket);
    try {
      req.principal = await authenticator.authenticate({
        authorization: req.headers.authorization,
        certificate: tls.certificate,
        certificateRejected: tls.rejected,
      });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      const failure = authFailure(err, urls.now?.resourceMetadata, config.auth.requiredScopes);
      const code =
        failure.status === 403
          ? TransportErrorCode.FORBIDDEN
          : failure.status === 503
            ? TransportErrorCode.IDENTITY_UNAVAILABLE
            : TransportErrorCode.UNAUTHENTICATED;
      return reply
        .code(failure.status)
        .headers({ ...failure.headers, 'content-type': 'application/json' })
        .send(JSON.stringify(errorResponse(null, new TransportError(code, err.message, { auth: err.code }))));
    }
    // The request-byte budget, before the body is read (issue 13 point 5): a body with a
    // Content-Length is charged now (what Fastify will read, at most the body limit); a chunked
    // one is charged once read, before it is parsed (preHandler). A principal already over the
    // budget is refused here either way, without a shared round trip.
    if (!bytes || req.method !== 'POST') return;
    const length = Number(req.headers['content-length']);
    const declared = Number.isSafeInteger(length) && length >= 0;
    const refusal = await bytes.charge(
      req.principal,
      declared ? Math.min(length, config.server.bodyLimitBytes) : 0,
    );
    req.bytesCharged = declared;
    if (refusal) return refuseUnparsed(req, reply, refusal);
  });

  app.addHook('preHandler', async (req, reply) => {
    if (!bytes || req.method !== 'POST' || req.bytesCharged || typeof req.body !== 'string') return;
    const refusal = await bytes.charge(req.principal as Principal, Buffer.byteLength(req.body));
    if (refusal) return refuseUnparsed(req, reply, refusal);
  });

  /** 429 with Retry-After and -32029, id null (the body was not parsed), audited `rate_limited`. */
  const refuseUnparsed = (req: FastifyRequest, reply: FastifyReply, refusal: BytesRefusal): FastifyReply => {
    gateway.refusedUnparsed(
      {
        target: targetOf(req),
        headers: req.headers,
        remoteAddress: req.ip,
        principal: req.principal as Principal,
      },
      refusal.error,
      refusal.facts,
    );
    const retryAfter = (refusal.error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    // Connection: close, so the rest of an unread body is not read off the socket to keep the
    // connection alive (Node would read and discard all of it): the client reconnects.
    return sendError(
      reply.headers({ 'retry-after': String(Math.max(1, Math.ceil(retryAfter ?? 1))), connection: 'close' }),
      refusal.error,
    );
  };

  const post = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const accept = String(req.headers.accept ?? '');
    const message = parseBody(req.body, config.server.maxJsonDepth);
    const sink = new SseSink(reply, accept.includes('text/event-stream'));
    const gone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    let outcome;
    try {
      outcome = await gateway.post({
        target: targetOf(req),
        sessionId: header(req, SESSION_HEADER),
        headers: req.headers,
        remoteAddress: req.ip,
        principal: req.principal as Principal,
        message,
        sink,
        clientGone: gone.signal,
      });
    } catch (err) {
      // Refused before dispatch (session, version, params, routing headers) or failed there: the
      // id is known, so the client can match the error to its request; anything unexpected is
      // logged under the errorId it is answered with. Nothing thrown leaves a request unanswered.
      const id = 'id' in message && message.id !== undefined ? message.id : null;
      const body = gateway.toErrorResponse(id, err);
      const reason = (body.error.data as { reason?: TransportErrorCode } | undefined)?.reason;
      // An upstream's own JSON-RPC error carries no gateway reason and rides on 200; a refused
      // notification has no response to carry the error, so its HTTP status says it (400).
      const status = reason ? errorMapping(reason).status : 200;
      return sink.fail(id === null && status < 400 ? 400 : status, body);
    }
    if (outcome.body && 'error' in outcome.body && outcome.status === 200) {
      // JSON-RPC errors ride on 200 unless the gateway's mapping says the HTTP layer should know.
      const data = outcome.body.error.data as
        { reason?: TransportErrorCode; retryAfterSeconds?: number } | undefined;
      const reason = data?.reason;
      if (reason && reason in TransportErrorCode) outcome.status = errorMapping(reason).status;
      if (typeof data?.retryAfterSeconds === 'number') {
        void reply.header('retry-after', String(Math.max(1, Math.ceil(data.retryAfterSeconds))));
      }
    }
    sink.finish(outcome.status, outcome.body, outcome.sessionId);
  };

  const get = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
      throw new TransportError(TransportErrorCode.NOT_ACCEPTABLE, 'GET needs Accept: text/event-stream');
    }
    reply.hijack();
    const raw = reply.raw;
    let detach: (() => void) | undefined;
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 25_000);
    const stream = {
      send: (m: JsonRpcMessage) => raw.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`),
      close: () => raw.end(),
    };
    try {
      detach = await gateway.openStream(
        targetOf(req),
        header(req, SESSION_HEADER),
        stream,
        req.principal as Principal,
      );
    } catch (err) {
      clearInterval(keepAlive);
      const e =
        err instanceof TransportError
          ? err
          : new TransportError(TransportErrorCode.INTERNAL, 'internal gateway error');
      raw.writeHead(errorMapping(e.code).status, { 'content-type': 'application/json' });
      raw.end(JSON.stringify(errorResponse(null, e)));
      return;
    }
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    raw.write(': stream open\n\n');
    raw.on('close', () => {
      clearInterval(keepAlive);
      detach?.();
    });
  };

  const del = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await gateway.terminate(targetOf(req), header(req, SESSION_HEADER), req.principal as Principal);
    await reply.code(204).send();
  };

  for (const url of ['/mcp', '/mcp/servers/:name']) {
    app.post(url, post);
    app.get(url, get);
    app.delete(url, del);
  }
}

/** The response to one POST: plain JSON, or SSE as soon as something must be said before the result. */
class SseSink implements ClientSink {
  private streaming = false;
  private sessionHeader: Record<string, string> = {};

  constructor(
    private readonly reply: FastifyReply,
    readonly canStream: boolean,
  ) {}

  send(message: JsonRpcMessage): void {
    if (!this.canStream) return;
    if (!this.streaming) this.open();
    this.reply.raw.write(event(message));
  }

  /** An error answer: an event if the stream is already open, else plain JSON with its status. */
  fail(status: number, body: JsonRpcResponse): void {
    if (this.streaming) {
      this.reply.raw.end(event(body));
      return;
    }
    void this.reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
  }

  finish(status: number, body: JsonRpcResponse | undefined, sessionId: string | undefined): void {
    if (this.streaming) {
      if (body) this.reply.raw.write(event(body));
      this.reply.raw.end();
      return;
    }
    if (sessionId) this.sessionHeader = { [SESSION_HEADER]: sessionId };
    // A client that accepts SSE gets the result as an event stream, as the SDK's own server
    // answers; errors the HTTP layer must see (4xx) stay plain JSON. A stream with nothing but
    // the result goes out in one write, with a Content-Length instead of chunked framing.
    if (body && status === 200 && this.canStream) {
      this.open();
      this.reply.raw.end(event(body));
      return;
    }
    if (sessionId) void this.reply.header(SESSION_HEADER, sessionId);
    if (!body) {
      void this.reply.code(status).send();
      return;
    }
    void this.reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
  }

  private open(): void {
    this.streaming = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      ...this.sessionHeader,
    });
  }
}

function event(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

function parseBody(body: unknown, maxDepth: number): JsonRpcMessage {
  if (typeof body !== 'string' || body.length === 0) {
    throw new TransportError(
      TransportErrorCode.PARSE_ERROR,
      'the body is empty; send one JSON-RPC message as application/json',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new TransportError(
      TransportErrorCode.PARSE_ERROR,
      `the body is not valid JSON: ${(err as Error).message}`,
    );
  }
  return validateMessage(value, maxDepth);
}

function sendError(
  reply: FastifyReply,
  err: TransportError,
  status?: number,
  id: JsonRpcId | null = null,
): FastifyReply {
  return reply
    .code(status ?? errorMapping(err.code).status)
    .header('content-type', 'application/json')
    .send(JSON.stringify(errorResponse(id, err)));
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function isSameHostOrigin(origin: string, allowedHosts: Set<string>): boolean {
  try {
    const url = new URL(origin);
    return allowedHosts.has(url.host.toLowerCase()) || allowedHosts.has(url.hostname.toLowerCase());
  } catch {
    return false;
  }
}
