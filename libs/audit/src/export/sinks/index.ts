export type { SecurityAlert, SiemEvent, SiemSink } from './types';
export { SiemSinkError, SiemSinkErrorCode } from './siem-sink-error';
export { eventId, eventJson, eventTime } from './event-json';
export {
  formatCef,
  escapeCefHeader,
  escapeCefExtension,
  cefRecordSeverity,
  CEF_PRODUCT,
  CEF_VENDOR,
} from './cef';
export type { CefOptions } from './cef';
export {
  formatSyslog,
  frameOctetCounted,
  escapeSdValue,
  syslogSeverity,
  EXAMPLE_ENTERPRISE_NUMBER,
  SYSLOG_FACILITIES,
} from './syslog-message';
export type { SyslogFacility, SyslogMessageOptions } from './syslog-message';
export { SyslogSink } from './syslog-sink';
export type { SyslogSinkOptions, SyslogTlsOptions } from './syslog-sink';
export type { HttpTlsOptions } from './http-post';
export { SplunkHecSink } from './splunk-hec-sink';
export type { HecEvent, SplunkHecSinkOptions } from './splunk-hec-sink';
export {
  WebhookSink,
  webhookSignature,
  WEBHOOK_IDEMPOTENCY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
} from './webhook-sink';
export type { WebhookSinkOptions } from './webhook-sink';
