import { hostname as machineName } from 'node:os';
import { eventId, eventJson, eventTime } from './event-json';
import { HttpPoster, parseUrl, retryableStatus, type HttpTlsOptions } from './http-post';
import { SiemSinkError, SiemSinkErrorCode } from './siem-sink-error';
import type { SiemEvent, SiemSink } from './types';

/** A Splunk HTTP Event Collector destination (`export.siem.<name>` with `type: splunk`). */
export interface SplunkHecSinkOptions {
  name: string;
  /**
   * The collector's base URL (`https://splunk.example.com:8088`), to which
   * `/services/collector/event` is added, or the endpoint's full URL (ending in it).
   */
  url: string;
  /** The HEC token (sent as `Authorization: Splunk <token>`). */
  token: string;
  /** Event metadata; `host` defaults to this machine's name, `source` to `gatehouse`. */
  host?: string;
  source?: string;
  /** Default `gatehouse:audit` for records and `gatehouse:alert` for alerts. */
  sourcetype?: string;
  /** The index; the token's default index when absent. */
  index?: string;
  /**
   * A GUID sent as `X-Splunk-Request-Channel`, required by tokens with indexer acknowledgement.
   * Gatehouse does not poll `/services/collector/ack`: a 200 means HEC accepted the batch.
   */
  channel?: string;
  tls?: HttpTlsOptions;
  /** Bound on one request (connect, upload, answer); default 15 s. */
  timeoutMs?: number;
}

/** One HEC event object as `/services/collector/event` takes it. */
export interface HecEvent {
  /** Epoch seconds with milliseconds. */
  time: number;
  host: string;
  source: string;
  sourcetype: string;
  index?: string;
  /** Indexed fields: `gatehouse_id` (record or alert id) lets a search drop re-sent duplicates cheaply. */
  fields: { gatehouse_id: string; gatehouse_type: 'audit' | 'alert' };
  event: Record<string, unknown>;
}

/**
 * Sends each batch as one POST of newline-separated HEC event objects. The acknowledgement is
 * HEC's 200 with `{"code":0}`, which it answers only when it took the whole batch; the relay
 * re-sends the batch on anything else. Statuses that need a person (bad token, malformed data,
 * too large, a 200 that is not HEC's) are marked not retryable.
 */
export class SplunkHecSink implements SiemSink {
  readonly name: string;
  private readonly poster: HttpPoster;
  private readonly host: string;

  constructor(private readonly options: SplunkHecSinkOptions) {
    this.name = options.name;
    if (!options.token) {
      throw new SiemSinkError(SiemSinkErrorCode.INVALID_OPTIONS, options.name, 'needs a HEC token', false);
    }
    const base = parseUrl(options.name, 'url', options.url, ['https:', 'http:']);
    const url = new URL(hecEventPath(base.pathname), base);
    this.poster = new HttpPoster(options.name, url, options.timeoutMs ?? 15_000, options.tls);
    this.host = options.host ?? machineName();
  }

  /** The HEC event object for one event (exported for documentation and tests). */
  hecEvent(event: SiemEvent): HecEvent {
    return {
      time: Date.parse(eventTime(event)) / 1000,
      host: this.host,
      source: this.options.source ?? 'gatehouse',
      sourcetype: this.options.sourcetype ?? `gatehouse:${event.type}`,
      ...(this.options.index ? { index: this.options.index } : {}),
      fields: { gatehouse_id: eventId(event), gatehouse_type: event.type },
      event: eventJson(event),
    };
  }

  async send(events: readonly SiemEvent[]): Promise<void> {
    if (events.length === 0) return;
    const body = Buffer.from(events.map((e) => JSON.stringify(this.hecEvent(e))).join('\n'), 'utf8');
    const headers: Record<string, string> = {
      authorization: `Splunk ${this.options.token}`,
      'content-type': 'application/json',
    };
    if (this.options.channel) headers['x-splunk-request-channel'] = this.options.channel;
    const answer = await this.poster.post(headers, body);
    if (answer.status === 200 && hecCode(answer.body) === 0) return;
    if (answer.status === 200) {
      // A 200 without HEC's `{"code":0}` is not HEC: a proxy, a login page, a wrong URL.
      throw new SiemSinkError(
        SiemSinkErrorCode.REJECTED,
        this.name,
        `${this.poster.url.origin} answered 200 without HEC's {"code":0} ${hecText(answer.body)}; the batch is not acknowledged: check that url points at the HTTP Event Collector`,
        false,
        answer.status,
      );
    }
    throw new SiemSinkError(
      SiemSinkErrorCode.REJECTED,
      this.name,
      `HEC answered ${answer.status} ${hecText(answer.body)}; ${hecAdvice(answer.status)}`,
      retryableStatus(answer.status),
      answer.status,
    );
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}

/** The event endpoint's path under `path`: the path itself when it already names the endpoint. */
function hecEventPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.endsWith('/services/collector/event') ? trimmed : `${trimmed}/services/collector/event`;
}

/** The `code` of HEC's `{"text":…,"code":…}` answer, or undefined when the body is not one. */
function hecCode(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === 'number' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

/** HEC's own `{"text":…,"code":…}` when it sent one, else the raw start of the body. */
function hecText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { text?: unknown; code?: unknown };
    if (typeof parsed.text === 'string') return `(code ${String(parsed.code)}: ${parsed.text})`;
  } catch {
    // not JSON: fall through
  }
  return body ? `(${body.slice(0, 200)})` : '';
}

function hecAdvice(status: number): string {
  switch (status) {
    case 400:
      return 'the request was malformed or needs a channel (set channel when the token has indexer acknowledgement)';
    case 401:
    case 403:
      return 'the token is missing, invalid or disabled: fix export.siem token';
    case 413:
      return 'the batch is larger than HEC accepts (max_content_length): lower the batch size';
    default:
      return retryableStatus(status)
        ? 'HEC is busy or failing; the batch will be re-sent'
        : 'see the answer above';
  }
}
