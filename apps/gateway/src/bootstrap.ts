import 'reflect-metadata';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyBaseLogger } from 'fastify';
import type { LoadedConfig } from '@gatehouse/config';
import { GatewayUrls } from '@gatehouse/auth';
import { createLogger, Metrics, type Logger } from '@gatehouse/observability';
import type pino from 'pino';
import { AppModule } from './app.module';

export interface RunningGateway {
  app: NestFastifyApplication;
  /** Base URL the gateway listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  logger: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where log lines go (tests pass a sink); default stdout. */
  logDestination?: pino.DestinationStream;
}

/** Builds and starts one gateway replica from a validated configuration. */
export async function startGateway(
  loaded: LoadedConfig,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const { config } = loaded;
  const logger = createLogger(config.log.level, options.logDestination);
  const metrics = new Metrics();
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
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
      createServer(
        {
          headersTimeout: config.server.headersTimeoutMs,
          requestTimeout: Math.max(config.server.requestTimeoutMs, config.server.headersTimeoutMs),
          connectionsCheckingInterval: 1000,
        },
        handler,
      ),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(loaded, logger, metrics),
    adapter,
    { logger: ['error', 'warn'], abortOnError: false },
  );
  app.enableShutdownHooks();
  // Slow-header clients are cut off; a slow *response* (a long tool call) is not, so no socket timeout.
  const server = app.getHttpServer();
  server.headersTimeout = config.server.headersTimeoutMs;
  await app.listen(config.server.port, config.server.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const url = `http://${host}:${port}`;
  // Identity needs the gateway's own address (resource URI, dev issuer) once it is known.
  app.get(GatewayUrls).listening(url);
  return { app, url, logger, close: () => app.close() };
}
