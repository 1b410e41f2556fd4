import { SERVER_NAME } from '@gatehouse/config';

/**
 * Names on the aggregated endpoint are `<server>__<name>`. Server names contain no underscore,
 * so the first `__` always ends the server part: two servers can never produce the same name
 * and one server cannot shadow another's tool (R46).
 */
export const SEPARATOR = '__';

export function qualify(server: string, name: string): string {
  return `${server}${SEPARATOR}${name}`;
}

export function unqualify(qualified: string): { server: string; name: string } | undefined {
  const at = qualified.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  const server = qualified.slice(0, at);
  const name = qualified.slice(at + SEPARATOR.length);
  if (!SERVER_NAME.test(server) || name.length === 0) return undefined;
  return { server, name };
}

/**
 * Resource URIs (and URI templates) get the server prepended to their scheme: `file:///a`
 * from `fs` becomes `fs+file:///a`. The mapping is reversible, keeps template variables
 * intact so clients can still expand them, and stays a valid URI because server names start
 * with a letter and use only scheme characters.
 */
export function qualifyUri(server: string, uri: string): string {
  return `${server}+${uri}`;
}

export function unqualifyUri(qualified: string): { server: string; uri: string } | undefined {
  const plus = qualified.indexOf('+');
  const colon = qualified.indexOf(':');
  if (plus <= 0 || colon < 0 || plus > colon) return undefined;
  const server = qualified.slice(0, plus);
  if (!SERVER_NAME.test(server)) return undefined;
  return { server, uri: qualified.slice(plus + 1) };
}
