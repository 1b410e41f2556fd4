import { describe as describeMessage, LineGuard, MessageFilter } from './stream-limits';

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
const text = (buffers: Buffer[]): string => Buffer.concat(buffers).toString('utf8');

/** 13.5 / R40: an oversized stdio message fails its own call; the stream goes on. */
describe('MessageFilter', () => {
  it('forwards complete lines within the cap unchanged, however they are chunked', () => {
    const filter = new MessageFilter(100, 1000);
    const input = line({ jsonrpc: '2.0', id: 1, result: {} }) + line({ jsonrpc: '2.0', method: 'x' });
    const out: Buffer[] = [];
    for (const ch of input) out.push(...filter.push(Buffer.from(ch)).forward);
    expect(text(out)).toBe(input);
  });

  it('drops an oversized SDK-style response and reports the id from its end', () => {
    const filter = new MessageFilter(64, 10_000);
    const big = line({
      result: { content: [{ type: 'text', text: 'x'.repeat(500) }] },
      jsonrpc: '2.0',
      id: 7,
    });
    const after = line({ result: {}, jsonrpc: '2.0', id: 8 });
    const verdict = filter.push(Buffer.from(big + after));
    expect(verdict.oversized).toEqual([{ kind: 'response', id: 7, bytes: big.length - 1 }]);
    expect(text(verdict.forward)).toBe(after);
    expect(verdict.broken).toBeUndefined();
  });

  it('reports a response whose id leads the line at once, before the line ends', () => {
    const filter = new MessageFilter(64, 10_000);
    const first = filter.push(
      Buffer.from(`{"jsonrpc":"2.0","id":"a-1","result":{"text":"${'y'.repeat(200)}`),
    );
    expect(first.oversized).toEqual([expect.objectContaining({ kind: 'response', id: 'a-1' })]);
    const rest = filter.push(Buffer.from(`"}}\n${line({ jsonrpc: '2.0', id: 2, result: {} })}`));
    expect(rest.oversized).toEqual([]);
    expect(text(rest.forward)).toBe(line({ jsonrpc: '2.0', id: 2, result: {} }));
  });

  it("never takes a server request's id for a response's", () => {
    const filter = new MessageFilter(64, 10_000);
    const request = line({
      method: 'sampling/createMessage',
      params: { p: 'z'.repeat(300) },
      jsonrpc: '2.0',
      id: 0,
    });
    expect(filter.push(Buffer.from(request)).oversized).toEqual([
      { kind: 'request', bytes: request.length - 1 },
    ]);
  });

  it('reports an oversized line whose id cannot be read without one, so the caller can fail every candidate', () => {
    const filter = new MessageFilter(64, 10_000);
    const odd = line({ result: { t: 'q'.repeat(10_000) }, id: 4, jsonrpc: '2.0', extra: true });
    expect(filter.push(Buffer.from(odd)).oversized).toEqual([{ kind: 'response', bytes: odd.length - 1 }]);
  });

  it('keeps memory bounded and reports a run without newline past maxStreamBytes as broken', () => {
    const filter = new MessageFilter(1024, 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let broken: string | undefined;
    let chunks = 0;
    while (!broken && chunks < 1000) {
      const verdict = filter.push(chunk);
      expect(verdict.forward).toEqual([]);
      broken = verdict.broken;
      chunks++;
    }
    expect(broken).toMatch(/without a message boundary/);
    expect(chunks).toBe(17);
  });

  it('reads ids of every shape from the start or the end of a line', () => {
    const head = (s: string) => describeMessage(Buffer.from(s), undefined, s.length);
    expect(head('{"jsonrpc":"2.0","id":12,"result":{"a":[1,2,')).toEqual({
      kind: 'response',
      id: 12,
      bytes: 44,
    });
    expect(head('{"id":"x\\"y","error":{"code":1')).toMatchObject({ kind: 'response', id: 'x"y' });
    expect(head('xxxxxxxx')).toEqual({ kind: 'unknown', bytes: 8 });
    const tail = describeMessage(Buffer.from('xxxx'), Buffer.from('xx"}]},"jsonrpc":"2.0","id":3}'), 9);
    expect(tail).toEqual({ kind: 'unknown', id: 3, bytes: 9 });
    const nested = describeMessage(Buffer.from('{"result":{"a":'), Buffer.from('{"id":5}}}'), 9);
    expect(nested).toEqual({ kind: 'response', bytes: 9 });
  });
});

describe('MessageFilter on an SSE stream', () => {
  const event = (value: unknown): string => `event: message\ndata: ${JSON.stringify(value)}\n\n`;

  it('forwards whole events within the cap and drops an oversized one, reading its id', () => {
    const filter = new MessageFilter(256, 10_000, 'sse');
    const small = event({ jsonrpc: '2.0', id: 1, result: {} });
    const big = event({
      result: { content: [{ type: 'text', text: 'e'.repeat(5000) }] },
      jsonrpc: '2.0',
      id: 2,
    });
    const out: Buffer[] = [];
    const oversized = [];
    const input = Buffer.from(small + big + small);
    for (let i = 0; i < input.length; i += 700) {
      const verdict = filter.push(input.subarray(i, i + 700));
      out.push(...verdict.forward);
      oversized.push(...verdict.oversized);
    }
    expect(text(out)).toBe(small + small);
    expect(oversized).toEqual([expect.objectContaining({ kind: 'response', id: 2 })]);
  });
});

describe('LineGuard', () => {
  it('measures a line that ends in the chunk that completes it (R40)', () => {
    const guard = new LineGuard(100);
    expect(guard.push(Buffer.from('a'.repeat(80)))).toBeUndefined();
    expect(guard.push(Buffer.from(`${'a'.repeat(80)}\nshort\n`))).toMatch(/more than 100 bytes/);
    expect(new LineGuard(100).push(Buffer.from(`${'b'.repeat(150)}\n`))).toMatch(/more than 100 bytes/);
  });
});
