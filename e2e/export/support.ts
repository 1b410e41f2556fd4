import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { configSchema, type GatehouseConfig } from '@gatehouse/config';
import type { S3Server } from './s3-server';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A fresh Ed25519 signing key as PEM, and its public half. */
export function ed25519Pem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A BullMQ prefix of its own for one test file (no `:`). */
export function queuePrefix(name: string): string {
  return `t-${name}-${randomUUID().slice(0, 8)}`;
}

/**
 * `export.*` for tests: small batches, a fast relay, short backoff and lock, checkpoints every
 * second, against the given S3 server.
 */
export function exportConfig(
  s3: S3Server,
  prefix: string,
  signingKey: string,
  overrides: Record<string, unknown> = {},
): GatehouseConfig['export'] {
  return configSchema.parse({
    redis: { url: REDIS_URL },
    export: {
      enabled: true,
      queuePrefix: prefix,
      relayIntervalMs: 100,
      batchSize: 7,
      batchMaxWaitMs: 0,
      backoffMs: 100,
      attempts: 4,
      deadLetterRetrySeconds: 2,
      jobLockMs: 2000,
      s3: {
        bucket: s3.options.bucket,
        region: s3.options.region,
        endpoint: s3.options.endpoint,
        forcePathStyle: true,
        retentionDays: s3.options.retentionDays,
      },
      checkpoints: { intervalSeconds: 1, signingKey },
      ...overrides,
    },
  }).export;
}

/** Deletes every Redis key of one BullMQ prefix: a Redis flush as far as this test's queues know. */
export async function flushPrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it returns true (every 50 ms), or fails after `ms` naming `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 30_000,
): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}
