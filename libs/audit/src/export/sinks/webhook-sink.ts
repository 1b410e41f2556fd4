import { createHash, createHmac } from 'node:crypto';
import { eventJson } from './event-json';
import { HttpPoster, parseUrl, retryableStatus, type HttpTlsOptions } from './http-post';
import { SiemSinkError, SiemSinkErrorCode } from './siem-sink-error';
import type { SiemEvent, SiemSink } from './types';

/** The header that carries `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'gatehouse-signature';
/** The header that carries the SHA-256 of the body: the same batch re-sent has the same key. */
export const WEBHOOK_IDEMPOTENCY_HEADER = 'idempotency-key';

/** A generic HTTPS receiver (`export.siem.<name>` with `type: webhook`). */
export interface WebhookSinkOptions {
  name: string;
  /** Must be `https:`: the body is the audit trail. */
  url: string;
  /** The shared HMAC secret, at least 32 characters (share it with the receiver out of band). */
  secret: string;
  tls?: HttpTlsOptions;
  /** Bound on one request; default 15 s. */
  timeoutMs?: number;
}

/**
 * `t=<unix>,v1=<hex>` where v1 = HMAC-SHA256(secret, `<unix>.<body>`), as Stripe signs webhooks.
 * Signing the timestamp with the body lets a receiver refuse replays older than its tolerance.
 */
export function webhookSignature(secret: string, unixSeconds: number, body: Buffer): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * POSTs each batch as JSON lines (`application/x-ndjson`, one event per line, each with its `id`),
 * signed with {@link webhookSignature}. Any 2xx is success; 408, 429 and 5xx are retryable.
 */
export class WebhookSink implements SiemSink {
  readonly name: string;
  private readonly poster: HttpPoster;

  constructor(private readonly options: WebhookSinkOptions) {
    this.name = options.name;
    if (!options.secret || options.secret.length < 32) {
      throw new SiemSinkError(
        SiemSinkErrorCode.INVALID_OPTIONS,
        options.name,
        'needs a secret of at least 32 characters (for example `openssl rand -hex 32`)',
        false,
      );
    }
    const url = parseUrl(options.name, 'url', options.url, ['https:']);
    this.poster = new HttpPoster(options.name, url, options.timeoutMs ?? 15_000, options.tls);
  }

  async send(events: readonly SiemEvent[]): Promise<void> {
    if (events.length === 0) return;
    const body = Buffer.from(events.map((e) => JSON.stringify(eventJson(e)) + '\n').join(''), 'utf8');
    const answer = await this.poster.post(
      {
        'content-type': 'application/x-ndjson',
        [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(
          this.options.secret,
          Math.floor(Date.now() / 1000),
          body,
        ),
        [WEBHOOK_IDEMPOTENCY_HEADER]: createHash('sha256').update(body).digest('hex'),
        'user-agent': 'gatehouse-siem-webhook',
      },
      body,
    );
    if (answer.status >= 200 && answer.status < 300) return;
    throw new SiemSinkError(
      SiemSinkErrorCode.REJECTED,
      this.name,
      `${this.poster.url.origin} answered ${answer.status}${answer.body ? ` (${answer.body.slice(0, 200)})` : ''}; ${
        retryableStatus(answer.status)
          ? 'the batch will be re-sent'
          : 'the receiver refused the batch: check the secret, URL and receiver logs'
      }`,
      retryableStatus(answer.status),
      answer.status,
    );
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
