import { ConsoleError, ConsoleErrorCode } from './console-error';

const MAX_LENGTH = 2048;

/**
 * The place to land after sign-in: a path on this gateway, never another site (open redirect).
 * Only `/…` paths qualify; `//host`, `/\host` (browsers read `\` as `/`), schemes, control
 * characters and anything that resolves to another origin are refused.
 */
export function safeReturnTo(raw: unknown, base: string): string {
  if (raw === undefined || raw === '') return '/';
  const refuse = (why: string): never => {
    throw new ConsoleError(
      ConsoleErrorCode.RETURN_TO_INVALID,
      `returnTo must be a path on this gateway such as /console/policies (${why})`,
    );
  };
  if (typeof raw !== 'string') return refuse('given more than once');
  if (raw.length > MAX_LENGTH) return refuse(`longer than ${MAX_LENGTH} characters`);
  if (!raw.startsWith('/')) return refuse('it must start with /');
  if (raw.startsWith('//')) return refuse('// would name another host');
  if (raw.includes('\\')) return refuse('backslashes are not allowed');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(raw)) return refuse('control characters are not allowed');
  const origin = new URL(base).origin;
  const resolved = new URL(raw, origin);
  if (resolved.origin !== origin) return refuse('it resolves to another origin');
  return `${resolved.pathname}${resolved.search}${resolved.hash}`;
}
