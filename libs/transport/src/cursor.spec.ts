import { CursorSealer, type CursorBinding } from './cursor';
import { TransportError } from './jsonrpc';

const alice: CursorBinding = { endpoint: '*', principal: 'https://idp\u0000alice', method: 'tools/list' };
const sealer = CursorSealer.fromSecret('0123456789abcdef0123456789abcdef');

function refusal(open: () => unknown): TransportError {
  try {
    open();
  } catch (err) {
    return err as TransportError;
  }
  throw new Error('the cursor opened');
}

describe('list cursors (13.8)', () => {
  it('opens for the caller, endpoint and list it was sealed for, and hides its payload', () => {
    const cursor = sealer.seal(alice, [1, 'upstream-cursor']);
    expect(sealer.open(alice, cursor)).toEqual([1, 'upstream-cursor']);
    expect(Buffer.from(cursor, 'base64url').toString('latin1')).not.toContain('upstream-cursor');
    expect(sealer.seal(alice, [1])).not.toBe(sealer.seal(alice, [1]));
  });

  it.each([
    ['another principal', { ...alice, principal: 'https://idp\u0000bob' }],
    ['another endpoint', { ...alice, endpoint: 'everything' }],
    ['another list', { ...alice, method: 'prompts/list' }],
  ])('does not open for %s', (_label, other) => {
    const err = refusal(() => sealer.open(other, sealer.seal(alice, [1])));
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/cursor was not issued/);
  });

  it.each([
    ['plain base64 JSON', Buffer.from(JSON.stringify(['tools/list', 1])).toString('base64url')],
    ['garbage', 'garbage'],
    ['empty', ''],
    ['a flipped bit', flip(sealer.seal(alice, [1]))],
    [
      'a cursor of another key',
      CursorSealer.fromSecret('another secret of thirty-two chars!').seal(alice, [1]),
    ],
  ])('refuses %s with -32602', (_label, cursor) => {
    expect(refusal(() => sealer.open(alice, cursor)).code).toBe('INVALID_PARAMS');
  });

  it('refuses a cursor that is not a string', () => {
    expect(refusal(() => sealer.open(alice, 5)).message).toMatch(/must be a string/);
  });
});

function flip(cursor: string): string {
  const bytes = Buffer.from(cursor, 'base64url');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
  return bytes.toString('base64url');
}
