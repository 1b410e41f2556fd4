import { readFileSync } from 'node:fs';
import type { GatehouseConfig } from '@gatehouse/config';
import { eventView } from '../query/audit-query.service';
import type { BatchDelivery } from './delivery';
import type { BatchRef } from './keys';
import type { HttpTlsOptions } from './sinks/http-post';
import { SplunkHecSink } from './sinks/splunk-hec-sink';
import { SyslogSink, type SyslogTlsOptions } from './sinks/syslog-sink';
import type { SiemSink } from './sinks/types';
import { WebhookSink } from './sinks/webhook-sink';

type SiemConfig = GatehouseConfig['export']['siem'][string];

/** The outbox sink name of `export.siem.<name>`. */
export function siemSinkName(name: string): string {
  return `siem-${name}`;
}

/**
 * Builds the SIEM sink `export.siem.<name>` describes (the schema has checked its keys per type);
 * options left out take the sink's defaults (docs/siem.md).
 */
export function siemSinkFromConfig(name: string, c: SiemConfig): SiemSink {
  switch (c.type) {
    case 'syslog':
      return new SyslogSink({
        name,
        host: c.host ?? '',
        port: c.port ?? 0,
        format: c.format ?? 'json',
        ...defined({
          facility: c.facility,
          enterpriseNumber: c.enterpriseNumber,
          maxMessageBytes: c.maxMessageBytes,
          hostname: c.hostname,
        }),
        ...(c.tls ? { tls: syslogTls(c.tls) } : {}),
      });
    case 'splunk':
      return new SplunkHecSink({
        name,
        url: c.url ?? '',
        token: c.token ?? '',
        ...defined({ index: c.index, sourcetype: c.sourcetype, source: c.source, channel: c.channel }),
        ...(c.tls ? { tls: httpTls(c.tls) } : {}),
      });
    case 'webhook':
      return new WebhookSink({
        name,
        url: c.url ?? '',
        secret: c.secret ?? '',
        ...(c.tls ? { tls: httpTls(c.tls) } : {}),
      });
  }
}

/** The entries of `o` that are set, so an unset option keeps the sink's default. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `export.siem.<name>.tls` as an HTTPS sink's TLS options: the PEM files read once, at start. */
function httpTls(t: NonNullable<SiemConfig['tls']>): HttpTlsOptions {
  return {
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    ...(t.certFile && t.keyFile ? { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) } : {}),
  };
}

/** `export.siem.<name>.tls` as the syslog sink's TLS options: the PEM files read once, at start. */
function syslogTls(t: NonNullable<SiemConfig['tls']>): SyslogTlsOptions {
  return {
    ...httpTls(t),
    ...(t.servername ? { servername: t.servername } : {}),
  };
}

/**
 * What counts as the receiver having taken a batch, per sink type (shown in health, docs/export.md):
 * the reconciler can only compare a SIEM with these acknowledgements.
 */
export function siemAcknowledgement(c: SiemConfig): string {
  switch (c.type) {
    case 'syslog':
      return `${c.tls ? 'TLS' : 'TCP'} write completed (syslog has no acknowledgement: the kernel took the bytes on an open connection)`;
    case 'splunk':
      return 'HEC answered 200 {"code":0} (accepted by HEC; indexer acknowledgement is not polled)';
    case 'webhook':
      return 'the receiver answered 2xx';
  }
}

/** What the S3 sink's acknowledgement is, for health beside {@link siemAcknowledgement}. */
export const S3_ACKNOWLEDGEMENT =
  'PUT of object and manifest answered 200 (or already there); the reconciler checks the bucket listing';

/**
 * A SIEM destination as a batch destination: every record of the batch, each carrying its record
 * id, at least once (a failed send retries the whole batch; the SIEM drops repeats by id). Each
 * SIEM has its own cursor in the outbox, so one being down never holds back another or S3.
 */
export class SiemDelivery implements BatchDelivery {
  readonly sink: string;

  constructor(readonly siem: SiemSink) {
    this.sink = siemSinkName(siem.name);
  }

  async deliver(_ref: BatchRef, rows: Array<Record<string, unknown>>): Promise<null> {
    await this.siem.send(rows.map((row) => ({ type: 'audit' as const, record: eventView(row) })));
    return null;
  }

  async close(): Promise<void> {
    await this.siem.close();
  }
}
