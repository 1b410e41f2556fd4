import { ConsoleError, ConsoleErrorCode } from './console-error';
import { safeReturnTo } from './return-to';

const base = 'https://gatehouse.example.com';

describe('safeReturnTo (open-redirect guard)', () => {
  it.each([
    [undefined, '/'],
    ['', '/'],
    ['/', '/'],
    ['/console', '/console'],
    ['/console/policies?tab=drafts#top', '/console/policies?tab=drafts#top'],
    ['/console/../admin', '/admin'],
    ['/a%2F%2Fb', '/a%2F%2Fb'],
  ])('keeps the same-origin path %j as %j', (raw, expected) => {
    expect(safeReturnTo(raw, base)).toBe(expected);
  });

  it.each([
    ['an absolute URL', 'https://evil.example/'],
    ['an absolute URL to this very host', 'https://gatehouse.example.com/console'],
    ['a protocol-relative URL', '//evil.example'],
    ['a backslash after the slash', '/\\evil.example'],
    ['a backslash later on', '/console\\..\\..\\evil'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a data: URL', 'data:text/html,hi'],
    ['a relative path', 'console'],
    ['a CR LF', '/console\r\nLocation: https://evil.example'],
    ['a tab (browsers strip it: /\t/evil → //evil)', '/\t/evil.example'],
    ['a NUL', '/console\u0000'],
    ['a repeated parameter', ['/a', '/b']],
    ['something very long', `/${'a'.repeat(2048)}`],
  ])('refuses %s', (_what, raw) => {
    let caught: unknown;
    try {
      safeReturnTo(raw, base);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConsoleError);
    expect((caught as ConsoleError).code).toBe(ConsoleErrorCode.RETURN_TO_INVALID);
    expect((caught as ConsoleError).message).toMatch(/^returnTo must be a path on this gateway/);
  });
});
