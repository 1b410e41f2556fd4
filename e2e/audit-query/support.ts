import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayUrls } from '@gatehouse/auth';
import type { AuditRecord } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { createScratchDatabase, DEFAULT_SERVER_URL } from '@gatehouse/db';
import { createLogger, Metrics } from '@gatehouse/observability';
import { AppModule } from '../../apps/gateway/src/app.module';
import { transportDefaults } from '../transport/processes';

export interface AuditGateway {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/** The real gateway's root module (Fastify, scratch Postgres, real auth), which serves the audit query API. */
export async function auditGateway(yaml: string, port: number): Promise<AuditGateway> {
  const db = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_audit_query');
  const loaded = parseConfigText(
    `server:\n  port: ${port}\nlog:\n  level: warn\ndatabase:\n  url: "\${GATEHOUSE_TEST_DB}"\n${transportDefaults(yaml)}`,
    { GATEHOUSE_TEST_DB: db.url },
  );
  const logger = createLogger('warn');
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(loaded, logger, new Metrics()),
    new FastifyAdapter(),
    {
      logger: ['error', 'warn'],
    },
  );
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  app.get(GatewayUrls).listening(url);
  return {
    app,
    url,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

/** An intent record of a tool call by `subject` (the fields the summary and filters read). */
export function intent(
  subject: string,
  at: string,
  server: string,
  tool: string,
  touched: string[],
  outcome: AuditRecord['outcome'] = 'allowed',
): AuditRecord {
  return {
    id: randomUUID(),
    kind: 'intent',
    callId: randomUUID(),
    occurredAt: new Date(at),
    outcome,
    principal: { subject, issuer: 'https://idp.test', kind: 'user', groups: ['data-platform'] },
    client: { name: 'claude-code', version: '2.1.0' },
    server,
    tool,
    method: 'tools/call',
    action: 'read',
    arguments: { sql: 'select 1' },
    decision: outcome === 'allowed' ? 'allow' : 'deny',
    matchedRules: ['data-platform-reads'],
    policyVersion: 1,
    touched,
  };
}

/** The outcome record that follows `call` a few milliseconds later. */
export function outcomeOf(call: AuditRecord, errorMessage?: string): AuditRecord {
  return {
    ...call,
    id: randomUUID(),
    kind: 'outcome',
    occurredAt: new Date(call.occurredAt.getTime() + 5),
    outcome: call.outcome === 'allowed' ? (errorMessage ? 'error' : 'ok') : call.outcome,
    ...(errorMessage ? { errorCode: -32603, errorMessage } : {}),
    gatewayUs: 120,
    upstreamUs: 4000,
    responseBytes: 512,
  };
}
