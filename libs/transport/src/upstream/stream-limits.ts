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

  /** Returns an error message when the chunk pushes an unterminated line past the cap. */
  push(chunk: Uint8Array): string | undefined {
    const last = chunk.lastIndexOf(10);
    this.sinceNewline = last < 0 ? this.sinceNewline + chunk.length : chunk.length - last - 1;
    return this.sinceNewline > this.maxMessageBytes
      ? `upstream sent more than ${this.maxMessageBytes} bytes without a message boundary`
      : undefined;
  }
}

/**
 * Watches a stdio upstream's stdout and kills the process when one message exceeds the cap, so
 * a runaway server cannot make the gateway buffer without bound; the connection then fails its
 * calls with a clear error and the pool restarts it.
 */
export function guardStdout(
  child: ChildProcess,
  limits: StreamLimits,
  onViolation: (reason: string) => void,
): void {
  const guard = new LineGuard(limits.maxMessageBytes);
  child.stdout?.prependListener('data', (chunk: Buffer) => {
    const violation = guard.push(chunk);
    if (violation) {
      onViolation(violation);
      child.stdout?.destroy();
      child.kill('SIGKILL');
    }
  });
}

/**
 * A fetch for HTTP upstreams whose response bodies are capped in message size, total size and
 * idle time (R40). A violation errors the body stream, which the SDK reports as a failed call.
 */
export function cappedFetch(
  limits: StreamLimits,
  onViolation: (requestId: string | number | undefined, reason: string) => void,
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
    const guard = new LineGuard(limits.maxMessageBytes);
    let total = 0;
    let idle: NodeJS.Timeout | undefined;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Only a request's own response stream has an answer to wait for; the standalone GET
        // stream may rightly stay silent for hours.
        const timed = (init?.method ?? 'GET').toUpperCase() === 'POST';
        const arm = (): void => {
          clearTimeout(idle);
          if (!timed) return;
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
