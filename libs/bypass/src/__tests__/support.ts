import type { Principal } from '@gatehouse/auth';
import { parseConfigText, type GatehouseConfig } from '@gatehouse/config';
import {
  createDataSource,
  createScratchDatabase,
  DEFAULT_SERVER_URL,
  type Database,
  type ScratchDatabase,
} from '@gatehouse/db';
import { createLogger, type Logger } from '@gatehouse/observability';
import { LocalActivationBus } from '@gatehouse/policy';
import { BypassService } from '../bypass.service';
import { GrantCache } from '../grant-cache';
import { settingsFrom } from '../settings';

/** What the specs of this lib open their grants with. */
export const REASON = 'payments API down; the policy blocks the on-call fix on the db server';

/** A signed-in person of the test IdP, named after the subject, with no groups. */
export const person = (subject: string): Principal => ({
  kind: 'user',
  issuer: 'https://idp.test',
  subject,
  name: subject,
  groups: [],
  roles: [],
  scopes: [],
  expiresAt: Date.now() + 3_600_000,
});

/** The error of the type `type` that `promise` was refused with; any other error is rethrown. */
export async function refusedWith<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error('not refused');
}

/** The real grant cache and service of one replica on a scratch database of their own. */
export interface BypassFixture {
  scratch: ScratchDatabase;
  db: Database;
  config: GatehouseConfig;
  logger: Logger;
  cache: GrantCache;
  service: BypassService;
  /** Stops the cache, closes the database and drops it. */
  close(): Promise<void>;
}

/**
 * Creates the scratch database `name` on the real Postgres at 127.0.0.1:5432, applies every
 * migration and starts the grant cache (in-process activation bus) and the service on it.
 * `sections` is configuration YAML put between `database` and `upstreams` (`bypass:`, `export:`);
 * every upstream in `upstreams` is an unreachable HTTP server. The cache's check interval is an
 * hour: the specs drive reloads themselves through the service's announcements.
 */
export async function startBypassService(
  name: string,
  sections: string,
  upstreams: readonly string[] = ['db'],
): Promise<BypassFixture> {
  const scratch = await createScratchDatabase(DEFAULT_SERVER_URL, name);
  let db: Database | undefined;
  let cache: GrantCache | undefined;
  const close = async () => {
    await cache?.onApplicationShutdown();
    await db?.close();
    await scratch.drop();
  };
  try {
    const config = parseConfigText(
      `auth:
  mode: none
database:
  url: ${scratch.url}
${sections}upstreams:
${upstreams.map((u) => `  ${u}:\n    transport: http\n    url: http://127.0.0.1:1/mcp\n`).join('')}`,
      {},
    ).config;
    db = await createDataSource(config);
    await db.migrate();
    const logger = createLogger('silent');
    const settings = { ...settingsFrom(config.bypass), checkMs: 3_600_000 };
    cache = new GrantCache(db.dataSource, new LocalActivationBus(), settings, logger);
    await cache.onModuleInit();
    const service = new BypassService(db.dataSource, cache, settings, config, logger);
    return { scratch, db, config, logger, cache, service, close };
  } catch (err) {
    await close();
    throw err;
  }
}
