import type { ChildProcess } from 'node:child_process';

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
export function cappedFetch(limits: StreamLimits, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    if (!res.body) return res;
    const guard = new LineGuard(limits.maxMessageBytes);
    let total = 0;
    let idle: NodeJS.Timeout | undefined;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const arm = (): void => {
          clearTimeout(idle);
          idle = setTimeout(() => {
            controller.error(new StreamLimitError(`upstream stream idle for more than ${limits.idleMs} ms`));
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
          controller.error(err);
        });
      },
      cancel(reason) {
        clearTimeout(idle);
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
