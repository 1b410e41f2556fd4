import { LOG_REDACT_LIMITS, redactBoundedText, redactValue } from '@gatehouse/observability';

/** Output shape of the bridge's log lines. */
export type LogFormat = 'json' | 'text';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const SECRET_KEY = /authorization|token|secret|password|cookie|api[-_]?key/i;

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  /** Values that must never be written, wherever they appear (the bearer token, header values). */
  secrets: readonly string[];
  /** Where lines go; stdout is the MCP channel, so this is stderr. */
  write?: (line: string) => void;
}

type Fields = Record<string, unknown>;

/**
 * A line logger for the bridge. Writes to stderr only, because stdout carries
 * the protocol. Every line is scrubbed of the configured secrets after
 * formatting, so a token cannot leak through an error message or a field.
 */
export class Logger {
  private secrets: string[];
  private readonly fixed: readonly string[];
  /** Tokens learnt while running (a refreshed login), newest last; only the latest few are still live. */
  private learnt: string[] = [];
  private readonly write: (line: string) => void;

  constructor(private readonly options: LoggerOptions) {
    this.fixed = options.secrets.filter((s) => s.length > 0);
    this.secrets = this.order(this.fixed);
    this.write = options.write ?? ((line) => process.stderr.write(line));
  }

  /** Adds values to scrub from every later line, such as a token obtained by a refresh. */
  redact(...values: string[]): void {
    const fresh = values.filter((v) => v.length > 0 && !this.learnt.includes(v));
    if (fresh.length === 0) return;
    // Rotated tokens are dead; keeping the last 16 bounds the work per line in a week-long run.
    this.learnt = [...this.learnt, ...fresh].slice(-16);
    this.secrets = this.order([...this.fixed, ...this.learnt]);
  }

  /** Longest first, so a secret containing another is replaced whole. */
  private order(secrets: readonly string[]): string[] {
    return [...secrets].sort((a, b) => b.length - a.length);
  }

  debug(msg: string, fields?: Fields): void {
    this.log('debug', msg, fields);
  }

  info(msg: string, fields?: Fields): void {
    this.log('info', msg, fields);
  }

  warn(msg: string, fields?: Fields): void {
    this.log('warn', msg, fields);
  }

  error(msg: string, fields?: Fields): void {
    this.log('error', msg, fields);
  }

  private log(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Fields = {}): void {
    if (RANK[level] < RANK[this.options.level]) return;
    // Besides the known secrets: anything secret-shaped in the message or a field (an upstream's
    // error quoting a connection string, a URI with a token), as the gateway's own lines (R20).
    const safe: Fields = {};
    for (const [key, value] of Object.entries(fields)) {
      safe[key] = SECRET_KEY.test(key) ? '[REDACTED]' : redactValue(value, { limits: LOG_REDACT_LIMITS });
    }
    msg = redactBoundedText(msg, LOG_REDACT_LIMITS.maxStringScan);
    const time = new Date().toISOString();
    const line =
      this.options.format === 'json'
        ? JSON.stringify({ time, level, name: 'gatehouse-bridge', msg, ...safe })
        : `${time} ${level.toUpperCase().padEnd(5)} ${msg}${Object.entries(safe)
            .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join('')}`;
    this.write(`${this.scrub(line)}\n`);
  }

  private scrub(line: string): string {
    let out = line;
    for (const secret of this.secrets) out = out.split(secret).join('[REDACTED]');
    return out;
  }
}
