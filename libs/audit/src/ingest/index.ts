import type { Provider, Type } from '@nestjs/common';
import { PolicyModule } from '@gatehouse/policy';
import { INGEST_CLOCK, IngestController } from './ingest.controller';
import { IngestLimiter } from './ingest-limiter';
import { IngestService } from './ingest.service';

export * from './contract';
export { IngestController, INGEST_CLOCK } from './ingest.controller';
export { IngestService } from './ingest.service';
export type { Reporter } from './ingest.service';
export { parseIngestRequest, type IngestLimits } from './ingest-body';
export { IngestError, IngestErrorCode, ingestErrorStatus } from './ingest-error';
export type { IngestIssue } from './ingest-error';

/** The ingest endpoint's controllers and providers, mounted by AuditModule. */
export const INGEST_CONTROLLERS: Type[] = [IngestController];
export const INGEST_PROVIDERS: Provider[] = [
  IngestService,
  IngestLimiter,
  { provide: INGEST_CLOCK, useValue: () => new Date() },
];
/** What the ingest endpoint needs from other modules: the policy stage that decides each call. */
export const INGEST_IMPORTS: Type[] = [PolicyModule];
