import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule, configSchema, type GatehouseConfig } from '@gatehouse/config';
import { createLogger, Metrics, ObservabilityModule, Readiness } from '@gatehouse/observability';
import { DbModule } from '../db.module';
import { MIGRATION_SOURCE_DIR } from '../paths';

/** A validated configuration built from a partial input, as the gateway would see it. */
export function testConfig(input: Record<string, unknown>): GatehouseConfig {
  return configSchema.parse(input);
}

/** The DbModule inside a Nest application context, with its log lines captured. */
export interface DbApp {
  app: TestingModule;
  readiness: Readiness;
  /** Log lines written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts ConfigModule, ObservabilityModule and DbModule the way the gateway does, and runs start hooks. */
export async function startDbApp(config: GatehouseConfig, heartbeatMs?: number): Promise<DbApp> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const app = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({ config, file: undefined, secretKeys: new Set() }),
      ObservabilityModule.forRoot(logger, new Metrics(false)),
      DbModule.forRoot({ heartbeatMs }),
    ],
  }).compile();
  await app.init();
  return {
    app,
    readiness: app.get(Readiness),
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => app.close(),
  };
}

/** Polls `probe` until it returns a value other than undefined; fails after `limitMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, limitMs = 10_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How many migrations the repository has: every test that counts applied migrations uses it. */
export const MIGRATIONS = readdirSync(MIGRATION_SOURCE_DIR).filter((f) => /\.ts$/.test(f)).length;
