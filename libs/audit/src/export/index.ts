export { ExportError, ExportErrorCode } from './export-error';
export { batchJobId, batchObjectKey, checkpointJobId, checkpointKey, manifestKey } from './keys';
export type { BatchRef } from './keys';
export { Outbox } from './outbox';
export type { BatchRow, SinkBacklog, PlanOptions, Query as ExportQuery } from './outbox';
export { recordLine, lineContent } from './record-line';
export type { RecordLine } from './record-line';
export {
  checkpointObject,
  checkpointText,
  checkpointVerifies,
  loadSigningKey,
  publicKeyPem,
  signCheckpoint,
} from './checkpoint';
export type { ChainHead, CheckpointBody, SignedCheckpoint } from './checkpoint';
export { CheckpointStore } from './checkpoint-store';
export { S3Archive, CONTENT_SHA256 } from './sinks/s3-archive';
export type { S3ArchiveOptions, BatchManifest } from './sinks/s3-archive';
export { S3Delivery } from './delivery';
export type { BatchDelivery } from './delivery';
export { assertNoEviction, jobOptions, queueName, retryHorizonSeconds } from './queue';
export type { QueueSettings } from './queue';
export { ExportRelay } from './relay';
export { ExportRuntime } from './export-runtime';
export type { ExportConfig, ExportRoles, ExportRuntimeOptions } from './export-runtime';
export { verifyS3 } from './verify-s3';
export type { S3VerifyOptions, S3VerifyReport } from './verify-s3';
export { ExportModule } from './export.module';
export { ExportService, EXPORT_MODE } from './export.service';
export type { ExportHealth, ExportMode, ReconcileHealth, SinkHealth } from './export.service';
export {
  SiemDelivery,
  siemAcknowledgement,
  siemSinkFromConfig,
  siemSinkName,
  S3_ACKNOWLEDGEMENT,
} from './siem';
export { AlertDelivery, ALERTS_SINK } from './alerts';
export type { AlertRules } from './alerts';
export { configuredDeliveries } from './export-runtime';
export * from './sinks';
export {
  Reconciler,
  acknowledgedHoldings,
  bucketHoldings,
  compareWithPostgres,
  listBucket,
  listingStart,
  parseBatchKey,
  reconcileStates,
  uncoveredRanges,
} from './reconcile';
export type {
  BucketListing,
  Comparison,
  Holdings,
  ListedBatch,
  MissingRange,
  ReconcileState,
  ReconcilerOptions,
  SinkReconciliation,
} from './reconcile';
