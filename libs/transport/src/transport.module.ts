import {
  Inject,
  Injectable,
  Optional,
  Module,
  type DynamicModule,
  type ModuleMetadata,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { AuthModule, Authenticator, GatewayUrls } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import { LOGGER, Metrics, Readiness, type Logger } from '@gatehouse/observability';
import { CALL_STAGES, type CallStage } from './call-context';
import { registerMcpRoutes } from './http/mcp-routes';
import { McpGateway } from './mcp-gateway.service';
import { REQUEST_BYTES_BUDGET, type RequestBytesBudget } from './request-bytes';
import { MemorySessionStore, RedisSessionStore, type SessionStore } from './session/session-store';

export const SESSION_STORE = Symbol('SESSION_STORE');

/** Wires the gateway's MCP front door into the Fastify instance and owns its lifecycle. */
@Injectable()
export class TransportLifecycle implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(
    private readonly gateway: McpGateway,
    private readonly adapterHost: HttpAdapterHost,
    private readonly readiness: Readiness,
    private readonly authenticator: Authenticator,
    private readonly urls: GatewayUrls,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(REQUEST_BYTES_BUDGET) private readonly bytes?: RequestBytesBudget,
  ) {}

  async onModuleInit(): Promise<void> {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // An encapsulated plugin: its parser, Host/Origin checks and error format apply to /mcp only.
    await fastify.register(async (scope) =>
      registerMcpRoutes(scope, this.gateway, this.config, this.authenticator, this.urls, this.bytes),
    );
    this.readiness.register('sessions', () => this.store.ping());
    await this.gateway.start();
    this.logger.info(
      {
        sessions: this.store.shared ? 'redis' : 'in-process (single replica)',
        upstreams: Object.fromEntries(
          Object.entries(this.config.upstreams).map(([name, u]) => [
            name,
            u.transport === 'stdio'
              ? `stdio ${u.command} ${u.args.join(' ')} (${u.sharing})`
              : `http ${u.url} (${u.sharing})`,
          ]),
        ),
      },
      'MCP endpoints ready at /mcp (aggregated) and /mcp/servers/<name> (passthrough)',
    );
  }

  /**
   * Drains before the HTTP server closes (Nest closes it between the two shutdown phases, and
   * closing waits for open requests): in-flight calls get the grace period, the rest are aborted
   * and answered, and the audit records their outcome before the database closes (R25).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.gateway.stop(this.config.server.shutdownGraceMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/** What plugs into the call pipeline: the stage classes, and the modules that provide them. */
export interface TransportModuleOptions {
  imports?: ModuleMetadata['imports'];
  /** Stage classes, in pipeline order (policy, bypass, rate limit, audit). */
  stages?: Array<Type<CallStage>>;
}

@Module({
  imports: [AuthModule],
  providers: [
    {
      provide: SESSION_STORE,
      inject: [GATEHOUSE_CONFIG],
      useFactory: (config: GatehouseConfig): SessionStore => {
        if (!config.redis.url) return new MemorySessionStore(config.sessions.idleTtlSeconds * 1000);
        const options = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false };
        return new RedisSessionStore(
          new Redis(config.redis.url, options),
          new Redis(config.redis.url, options),
          config.redis.keyPrefix,
          config.sessions.idleTtlSeconds,
        );
      },
    },
    { provide: CALL_STAGES, useValue: [] },
    {
      provide: McpGateway,
      inject: [GATEHOUSE_CONFIG, SESSION_STORE, CALL_STAGES, LOGGER, Metrics],
      useFactory: (
        config: GatehouseConfig,
        store: SessionStore,
        stages: CallStage[],
        logger: Logger,
        metrics: Metrics,
      ) => new McpGateway(config, store, stages, logger, metrics),
    },
    TransportLifecycle,
  ],
  exports: [McpGateway],
})
export class TransportModule {
  /** The pipeline with its stages: `TransportModule.forRoot({ imports: [PolicyModule], stages: [PolicyStage] })`. */
  static forRoot(options: TransportModuleOptions = {}): DynamicModule {
    const stages = options.stages ?? [];
    return {
      module: TransportModule,
      imports: options.imports ?? [],
      providers: [
        { provide: CALL_STAGES, inject: stages, useFactory: (...instances: CallStage[]) => instances },
      ],
    };
  }
}
