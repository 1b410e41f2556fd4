import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyBaseLogger } from 'fastify';
import { ConfigError, type GatehouseConfig, type LoadedConfig } from '@gatehouse/config';
import { AuthError, AuthErrorCode, authFailure, connectionCertificate, GatewayUrls } from '@gatehouse/auth';
import { createLogger, Metrics, nestLogger, type Logger } from '@gatehouse/observability';
import { errorMapping, guardHosts, TransportErrorCode } from '@gatehouse/transport';
import type pino from 'pino';
import { AppModule } from './app.module';

export interface RunningGateway {
  app: NestFastifyApplication;
  /** Base URL the gateway listens on, e.g. http://127.0.0.1:8080 (https:// with `server.tls`) */
  url: string;
  logger: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where log lines go (tests pass a sink); default stdout. */
  logDestination?: pino.DestinationStream;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Builds and starts one gateway replica from a validated configuration. */
export async function startGateway(
  loaded: LoadedConfig,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const { config } = loaded;
  // Certificate files are read once, before anything else starts: a bad path fails fast.
  const tls = tlsOptions(loaded);
  const logger = createLogger(config.log.level, options.logDestination);
  const metrics = new Metrics();
  // The identity module exists only once the app is built; the listener is made before that.
  const identity: { urls?: GatewayUrls } = {};
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // Per-request access logs would sit on the hot path; calls are measured in metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Fastify would build a redacting child logger for every request; nothing logs per request.
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    bodyLimit: config.server.bodyLimitBytes,
    return503OnClosing: true,
    // Node enforces these: a client must finish its headers within headersTimeoutMs and its
    // whole request within requestTimeoutMs (slowloris, R41). Responses are not timed here:
    // long tool calls are legitimate and bounded per upstream instead. Connections are
    // checked every second so a stalled one is cut near its deadline.
    serverFactory: (handler: Handler) => {
      const timeouts = {
        headersTimeout: config.server.headersTimeoutMs,
        requestTimeout: Math.max(config.server.requestTimeoutMs, config.server.headersTimeoutMs),
        connectionsCheckingInterval: 1000,
      };
      if (!tls) return createServer(timeouts, handler);
      // A TLS handshake is part of "sending the headers": a client that never finishes it is cut
      // after the same bound instead of Node's default two minutes.
      const server = createHttpsServer(
        { ...tls, ...timeouts, handshakeTimeout: config.server.headersTimeoutMs },
        config.server.tls?.clientCertificate === 'optional'
          ? refusingUnverifiedCertificates(handler, config, () => identity.urls)
          : handler,
      );
      watchHandshakes(server, logger);
      return server as unknown as Server;
    },
  });
  // R7 on every route: registered before any module adds one, so all of them inherit it.
  guardHosts(adapter.getInstance(), config);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(loaded, logger, metrics),
    adapter,
    // Nest's own errors go through the process logger, scrubbed like every other line (R20).
    { logger: nestLogger(logger), abortOnError: false },
  );
  app.enableShutdownHooks();
  const gatewayUrls = app.get(GatewayUrls);
  identity.urls = gatewayUrls;
  // Slow-header clients are cut off; a slow *response* (a long tool call) is not, so no socket timeout.
  const server = app.getHttpServer();
  server.headersTimeout = config.server.headersTimeoutMs;
  await app.listen(config.server.port, config.server.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  logListener(logger, config, url);
  // Identity needs the gateway's own address (resource URI, dev issuer) once it is known.
  gatewayUrls.listening(url);
  return { app, url, logger, close: () => app.close() };
}

/**
 * The HTTPS listener's options from `server.tls`, or undefined for plain HTTP. Every file is
 * read and parsed here, so a missing or unusable one stops start-up with the key that names it.
 */
function tlsOptions(loaded: LoadedConfig): HttpsOptions | undefined {
  const tls = loaded.config.server.tls;
  if (!tls) return undefined;
  const fail = (key: string, message: string, fix: string): never => {
    throw new ConfigError(loaded.file, [{ key: `server.tls.${key}`, message, fix }]);
  };
  const read = (key: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      return fail(
        key,
        `cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        'point it at a PEM file the gateway can read',
      );
    }
  };
  const usable = (key: string, context: Parameters<typeof createSecureContext>[0], fix: string): void => {
    try {
      createSecureContext(context);
    } catch (err) {
      fail(key, `is not usable: ${(err as Error).message}`, fix);
    }
  };
  const cert = read('certFile', tls.certFile);
  const key = read('keyFile', tls.keyFile);
  usable('certFile', { cert }, 'give the PEM certificate chain of the listener, leaf first');
  usable('keyFile', { key }, 'give the unencrypted PEM private key of that certificate');
  usable('keyFile', { cert, key }, 'give the private key that belongs to certFile');
  if (tls.clientCertificate === 'off') return { cert, key };
  // The schema makes clientCaFile mandatory unless clientCertificate is off.
  const caFile = tls.clientCaFile as string;
  const ca = read('clientCaFile', caFile);
  const blocks =
    ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  // Node would take a bundle without certificates silently and then refuse every client.
  if (blocks.length === 0) {
    fail(
      'clientCaFile',
      `"${caFile}" holds no PEM certificate`,
      'give the PEM bundle of the CAs that issue client certificates',
    );
  }
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      fail(
        'clientCaFile',
        `certificate ${i + 1} in "${caFile}" cannot be parsed (${(err as Error).message})`,
        'give a PEM bundle of CA certificates',
      );
    }
  });
  return {
    cert,
    key,
    ca,
    requestCert: true,
    // `optional`: the handshake lets an unverified certificate through so the request can be
    // refused with a 401 that says why (refusingUnverifiedCertificates), rather than a bare alert.
    rejectUnauthorized: tls.clientCertificate === 'required',
  };
}

/**
 * `clientCertificate: optional` means no certificate is fine, but a presented certificate must
 * verify. A connection whose certificate does not is refused on every route and in every auth
 * mode, before the app sees the request, and then closed: its certificate will not get better.
 */
function refusingUnverifiedCertificates(
  handler: Handler,
  config: GatehouseConfig,
  urls: () => GatewayUrls | undefined,
): Handler {
  return (req, res) => {
    const { rejected, refusal } = connectionCertificate(req.socket);
    if (!rejected) return handler(req, res);
    const message = `the client certificate does not verify (${refusal?.reason ?? 'UNKNOWN'}): present one issued by a CA this gateway trusts, or none`;
    const failure = authFailure(
      new AuthError(AuthErrorCode.CERTIFICATE_INVALID, message),
      urls()?.now?.resourceMetadata,
      config.auth.requiredScopes,
    );
    const body = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: errorMapping(TransportErrorCode.UNAUTHENTICATED).rpc,
        message,
        data: { reason: TransportErrorCode.UNAUTHENTICATED, auth: AuthErrorCode.CERTIFICATE_INVALID },
      },
    };
    res.writeHead(failure.status, {
      ...failure.headers,
      'content-type': 'application/json',
      connection: 'close',
    });
    res.end(JSON.stringify(body));
  };
}

/** Handshake failures and refused certificates are logged once per connection, never silently dropped. */
function watchHandshakes(server: ReturnType<typeof createHttpsServer>, logger: Logger): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const { refusal } = connectionCertificate(socket);
    if (refusal) {
      logger.warn(
        { certificate: refusal, remoteAddress: socket.remoteAddress },
        'client certificate refused',
      );
    }
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => {
    logger.info(
      { err: err.message, code: err.code, remoteAddress: socket.remoteAddress },
      'TLS handshake failed',
    );
  });
}

function logListener(logger: Logger, config: GatehouseConfig, url: string): void {
  const tls = config.server.tls;
  if (!tls) {
    logger.info({ url, tls: false }, 'listening over plain HTTP (no server.tls)');
    return;
  }
  logger.info(
    {
      url,
      tls: true,
      certFile: tls.certFile,
      clientCertificate: tls.clientCertificate,
      clientCaFile: tls.clientCertificate === 'off' ? undefined : tls.clientCaFile,
    },
    `listening over HTTPS, client certificates ${tls.clientCertificate}`,
  );
}
