import type { ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';

export interface StreamLimits {
  maxMessageBytes: number;
  maxStreamBytes: number;
  idleMs: number;
}

/** Why an upstream stream was cut off (R40). */
export class StreamLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamLimitError';
  }
}

/**
 * Counts bytes between newlines. Both stdio (newline-delimited JSON) and SSE (events end in a
 * blank line, every field line ends in a newline) put a newline inside every message, so a run
 * without one longer than the cap is a message over the cap, and is refused before it is buffered.
 */
export class LineGuard {
  private sinceNewline = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /**
   * Returns an error message when the chunk holds or extends a line past the cap. Every line is
   * measured, also one that ends within the chunk it was completed in.
   */
  push(chunk: Uint8Array): string | undefined {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const run = this.sinceNewline + (nl < 0 ? chunk.length : nl) - start;
      if (run > this.maxMessageBytes)
        return `upstream sent more than ${this.maxMessageBytes} bytes without a message boundary`;
      if (nl < 0) {
        this.sinceNewline = run;
        return undefined;
      }
      this.sinceNewline = 0;
      start = nl + 1;
    }
  }
}

/** A message from a stdio upstream that passed `maxMessageBytes` and was dropped unread. */
export interface OversizedMessage {
  /** What the first bytes say it is: a response fails its call; a request or notification is dropped. */
  kind: 'response' | 'request' | 'unknown';
  /** The JSON-RPC id, read from the start or the end of the line; absent when neither shows it. */
  id?: string | number;
  /** Bytes seen so far (the whole line once it has ended). */
  bytes: number;
}

export interface StdoutVerdict {
  /** Complete lines within the cap, in order, for the SDK to parse. */
  forward: Buffer[];
  /** Oversized messages to answer; one may appear as soon as its id is known, before its line ends. */
  oversized: OversizedMessage[];
  /** Set when the upstream cannot be resynchronised (no newline for `maxStreamBytes`). */
  broken?: string;
}

/** Bytes kept from the start and from the end of a dropped line, to read its kind and id. */
const HEAD_BYTES = 4096;
const TAIL_BYTES = 512;
const NEWLINE = Buffer.from('\n');

/**
 * Splits an upstream's output into messages and drops any message longer than `maxMessageBytes`
 * without buffering it: only its first and last bytes are kept, enough to read its id and fail
 * exactly the call it answers. Everything else on the connection goes on as before, so one
 * oversized result cannot take a shared upstream away from its other users. Framing `line` is
 * stdio's newline-delimited JSON; `sse` is a Server-Sent Events stream, whose events end in a
 * blank line. A message with no end after `maxRunBytes` cannot be resynchronised and is reported
 * as broken (R40: 1 GB with no newline is cut off; memory stays bounded by the message cap).
 */
export class MessageFilter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line so far, and its last byte: a blank line ends an SSE event. */
  private lineBytes = 0;
  private lastByte = -1;
  private dropping: { head: Buffer; tail: Buffer; bytes: number; reported: boolean } | undefined;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly maxRunBytes: number,
    private readonly framing: 'line' | 'sse' = 'line',
  ) {}

  push(chunk: Buffer): StdoutVerdict {
    const verdict: StdoutVerdict = { forward: [], oversized: [] };
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const ended = nl >= 0;
      const piece = chunk.subarray(start, ended ? nl : chunk.length);
      start = ended ? nl + 1 : chunk.length;
      const lineLength = this.lineBytes + piece.length;
      if (piece.length > 0) this.lastByte = piece[piece.length - 1] as number;
      const blank = lineLength === 0 || (lineLength === 1 && this.lastByte === 13);
      const messageEnds = ended && (this.framing === 'line' || blank);
      this.lineBytes = ended ? 0 : lineLength;
      const drop = this.dropping;
      if (drop) {
        drop.bytes += piece.length;
        drop.tail = lastBytes([drop.tail, piece], TAIL_BYTES);
      } else if (this.pendingBytes + piece.length > this.maxMessageBytes) {
        const parts = [...this.pending, piece];
        this.dropping = {
          head: this.payload(firstBytes(parts, HEAD_BYTES)),
          tail: lastBytes(parts, TAIL_BYTES),
          bytes: this.pendingBytes + piece.length,
          reported: false,
        };
        this.pending = [];
        this.pendingBytes = 0;
        // A response whose id leads the message is failed now, not when (or if) it ends.
        const early = describe(this.dropping.head, undefined, this.dropping.bytes);
        if (early.kind === 'response' && early.id !== undefined) {
          this.dropping.reported = true;
          verdict.oversized.push(early);
        }
      } else {
        this.pending.push(piece);
        this.pendingBytes += piece.length;
        if (ended) {
          this.pending.push(NEWLINE);
          this.pendingBytes += 1;
        }
        if (messageEnds) {
          verdict.forward.push(...this.pending);
          this.pending = [];
          this.pendingBytes = 0;
        }
        continue;
      }
      const dropped = this.dropping as NonNullable<typeof this.dropping>;
      if (messageEnds) {
        this.dropping = undefined;
        if (!dropped.reported) verdict.oversized.push(describe(dropped.head, dropped.tail, dropped.bytes));
      } else if (dropped.bytes > this.maxRunBytes) {
        verdict.broken = `upstream sent more than ${this.maxRunBytes} bytes without a message boundary`;
        return verdict;
      }
    }
    return verdict;
  }

  /** The JSON an SSE event carries starts after its first `data:` field. */
  private payload(head: Buffer): Buffer {
    if (this.framing === 'line') return head;
    const at = head.indexOf('data:');
    if (at < 0) return head;
    const from = at + 5 + (head[at + 5] === 32 ? 1 : 0);
    return head.subarray(from);
  }
}

function firstBytes(parts: Buffer[], n: number): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    if (size >= n) break;
    const take = p.subarray(0, n - size);
    out.push(take);
    size += take.length;
  }
  return Buffer.concat(out);
}

function lastBytes(parts: Buffer[], n: number): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (let i = parts.length - 1; i >= 0 && size < n; i--) {
    const p = parts[i] as Buffer;
    const take = p.subarray(Math.max(0, p.length - (n - size)));
    out.unshift(take);
    size += take.length;
  }
  return Buffer.concat(out);
}

/**
 * Reads the kind and id of a dropped message from its first bytes (the top-level keys before the
 * first nested value that runs past the kept bytes) and, failing that, from its last bytes: SDK
 * servers write `{"result":…,"jsonrpc":"2.0","id":7}`, others `{"jsonrpc":"2.0","id":7,…}`.
 * A line whose start says it is a request or notification never yields an id, so a server's own
 * request id can never fail one of the gateway's calls.
 */
export function describe(head: Buffer, tail: Buffer | undefined, bytes: number): OversizedMessage {
  const top = topLevelKeys(head.toString('utf8'));
  const kind = top.has('method') ? 'request' : top.has('result') || top.has('error') ? 'response' : 'unknown';
  let id = top.get('id');
  if (id === undefined && tail && kind !== 'request') {
    const m = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*\r?$/.exec(
      tail.toString('utf8'),
    );
    if (m) id = JSON.parse(m[1] as string) as string | number;
  }
  return { kind, bytes, ...(id !== undefined && kind !== 'request' ? { id } : {}) };
}

/** The object's top-level keys seen in `text` (a prefix of a JSON object), with scalar values kept. */
function topLevelKeys(text: string): Map<string, string | number | undefined> {
  const keys = new Map<string, string | number | undefined>();
  const token = /\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\]:,])/y;
  const next = (): string | undefined => {
    const m = token.exec(text);
    return m ? m[1] : undefined;
  };
  if (next() !== '{') return keys;
  for (;;) {
    const key = next();
    if (key === undefined || !key.startsWith('"') || next() !== ':') return keys;
    const name = JSON.parse(key) as string;
    const value = next();
    if (value === undefined) {
      keys.set(name, undefined);
      return keys;
    }
    if (value === '{' || value === '[') {
      keys.set(name, undefined);
      // Skip the nested value; a prefix that ends inside it has shown every key it can.
      for (let depth = 1; depth > 0;) {
        const t = next();
        if (t === undefined) return keys;
        if (t === '{' || t === '[') depth++;
        else if (t === '}' || t === ']') depth--;
      }
    } else {
      keys.set(name, value.startsWith('"') ? (JSON.parse(value) as string) : Number(value));
    }
    const sep = next();
    if (sep !== ',') return keys;
  }
}

/** What a stdio upstream's filter reports to its connection. */
export interface StdoutEvents {
  oversized(message: OversizedMessage, reason: string): void;
  broken(reason: string): void;
}

/**
 * Puts a {@link StdoutFilter} between a stdio upstream's stdout and the SDK's reader (which
 * buffers without a bound and keeps the child private), so the SDK only ever sees complete
 * messages within the cap. An oversized message fails its own call; only an upstream that
 * cannot be resynchronised is killed, and the pool restarts it.
 */
export function guardStdout(child: ChildProcess, limits: StreamLimits, events: StdoutEvents): void {
  const stdout = child.stdout;
  if (!stdout) return;
  const filter = new MessageFilter(limits.maxMessageBytes, limits.maxStreamBytes, 'line');
  const readers = stdout.listeners('data') as Array<(chunk: Buffer) => void>;
  for (const reader of readers) stdout.removeListener('data', reader);
  stdout.on('data', (chunk: Buffer) => {
    const verdict = filter.push(chunk);
    if (verdict.forward.length > 0) {
      const lines = Buffer.concat(verdict.forward);
      for (const reader of readers) reader(lines);
    }
    for (const message of verdict.oversized) {
      events.oversized(
        message,
        `upstream message larger than maxMessageBytes (${limits.maxMessageBytes} bytes)`,
      );
    }
    if (verdict.broken) {
      events.broken(verdict.broken);
      stdout.destroy();
      child.kill('SIGKILL');
    }
  });
}

/**
 * A fetch for HTTP upstreams whose response bodies are capped (R40). A POST's response stream
 * carries one call: over its message size, total size or idle time it is cut off and that call
 * fails. A GET stream (Streamable HTTP's standalone stream, or the legacy HTTP+SSE transport's
 * only stream, which carries every call's response) serves everyone: an event over the message
 * cap is dropped and fails only the call it answers, and the stream, which may rightly live for
 * days, has no total or idle cap. Only an event that never ends within `maxStreamBytes` cuts it.
 */
export function cappedFetch(
  limits: StreamLimits,
  onViolation: (requestId: string | number | undefined, reason: string) => void,
  onOversized: (message: OversizedMessage, reason: string) => void,
  base: typeof fetch = fetch,
): typeof fetch {
  return async (input, init) => {
    const requestId = jsonRpcId(init?.body);
    // The SDK hands every fetch the transport's one long-lived signal, and Node's fetch keeps a
    // listener on it per request until garbage collection. Each request gets its own signal
    // instead, linked to the long-lived one only while the request is open.
    const outer = init?.signal ?? undefined;
    const own = new AbortController();
    const relay = (): void => own.abort(outer?.reason);
    if (outer?.aborted) own.abort(outer.reason);
    else if (outer) {
      // One listener per request in flight, each removed when its request ends: many at once is
      // concurrency, not a leak, so Node's leak warning at 10 does not apply to this signal.
      setMaxListeners(0, outer);
      outer.addEventListener('abort', relay, { once: true });
    }
    const unlink = (): void => outer?.removeEventListener('abort', relay);
    let res: Response;
    try {
      res = await base(input, { ...init, signal: own.signal });
    } catch (err) {
      unlink();
      throw err;
    }
    if (!res.body) {
      unlink();
      return res;
    }
    const post = (init?.method ?? 'GET').toUpperCase() === 'POST';
    const guard = new LineGuard(limits.maxMessageBytes);
    const sse = res.headers.get('content-type')?.includes('text/event-stream') ?? false;
    const events =
      post || !sse ? undefined : new MessageFilter(limits.maxMessageBytes, limits.maxStreamBytes, 'sse');
    let total = 0;
    let idle: NodeJS.Timeout | undefined;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Only a request's own response stream has an answer to wait for; the standalone GET
        // stream may rightly stay silent for hours.
        const arm = (): void => {
          clearTimeout(idle);
          if (!post) return;
          idle = setTimeout(() => {
            unlink();
            const reason = `upstream stream idle for more than ${limits.idleMs} ms`;
            onViolation(requestId, reason);
            controller.error(new StreamLimitError(reason));
            void reader.cancel().catch(() => undefined);
          }, limits.idleMs);
          idle.unref();
        };
        arm();
        const pump = async (): Promise<void> => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) {
              clearTimeout(idle);
              unlink();
              controller.close();
              return;
            }
            if (events) {
              const verdict = events.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
              for (const message of verdict.oversized) {
                onOversized(
                  message,
                  `upstream event larger than maxMessageBytes (${limits.maxMessageBytes} bytes)`,
                );
              }
              if (verdict.broken) {
                unlink();
                onViolation(undefined, verdict.broken);
                controller.error(new StreamLimitError(verdict.broken));
                await reader.cancel().catch(() => undefined);
                return;
              }
              if (verdict.forward.length > 0) controller.enqueue(Buffer.concat(verdict.forward));
              continue;
            }
            total += value.length;
            const violation =
              total > limits.maxStreamBytes
                ? `upstream stream exceeded ${limits.maxStreamBytes} bytes`
                : guard.push(value);
            if (violation) {
              clearTimeout(idle);
              unlink();
              onViolation(requestId, violation);
              controller.error(new StreamLimitError(violation));
              await reader.cancel().catch(() => undefined);
              return;
            }
            arm();
            controller.enqueue(value);
          }
        };
        pump().catch((err: unknown) => {
          clearTimeout(idle);
          unlink();
          controller.error(err);
        });
      },
      cancel(reason) {
        clearTimeout(idle);
        unlink();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/** The id of the JSON-RPC request a POST carries, so a cut-off stream can fail exactly that call. */
function jsonRpcId(body: unknown): string | number | undefined {
  if (typeof body !== 'string' || !body.includes('"id"')) return undefined;
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
