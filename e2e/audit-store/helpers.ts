import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { configSchema, type GatehouseConfig } from '@gatehouse/config';
import { createDataSource, createScratchDatabase, DEFAULT_SERVER_URL, type Database } from '@gatehouse/db';
import type { AuditRecord } from '@gatehouse/audit';

/** A validated configuration with the given audit sizes. */
export function auditConfig(audit: Record<string, unknown> = {}): GatehouseConfig {
  return configSchema.parse({ audit });
}

/** A scratch database with every migration applied, opened through TypeORM like the gateway does. */
export interface AuditDb {
  url: string;
  db: Database;
  /** A plain superuser (owner) connection for checks and for tampering. */
  sql(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function openAuditDb(prefix: string, config = auditConfig()): Promise<AuditDb> {
  const scratch = await createScratchDatabase(DEFAULT_SERVER_URL, prefix);
  const db = await createDataSource(config, { url: scratch.url });
  await db.migrate();
  const client = new Client({ connectionString: scratch.url });
  await client.connect();
  return {
    url: scratch.url,
    db,
    sql: async (text, params = []) =>
      (await client.query(text, params)).rows as Array<Record<string, unknown>>,
    close: async () => {
      await client.end();
      await db.close();
      await scratch.drop();
    },
  };
}

let counter = 0;

/** A plausible outcome record; `overrides` replace fields. */
export function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  counter += 1;
  return {
    id: randomUUID(),
    kind: 'outcome',
    callId: `call-${counter}`,
    occurredAt: new Date(),
    outcome: 'ok',
    principal: {
      subject: 'alice',
      issuer: 'https://idp.example.com',
      kind: 'user',
      name: 'Alice',
      email: 'alice@example.com',
      groups: ['data-platform'],
    },
    client: { name: 'claude-code', version: '2.1.0', ip: '10.0.0.7' },
    session: '0123456789abcdef',
    server: 'postgres-prod',
    tool: 'query',
    method: 'tools/call',
    action: 'read',
    arguments: { sql: 'SELECT 1', options: { limit: 10, nested: [1, 'two', null] } },
    decision: 'allow',
    matchedRules: ['analysts-read'],
    policyVersion: 3,
    rateLimit: { remaining: 99, limit: 100 },
    touched: ['public.orders'],
    gatewayUs: 412,
    upstreamUs: 12_345,
    responseBytes: 2048,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    ...overrides,
  };
}
