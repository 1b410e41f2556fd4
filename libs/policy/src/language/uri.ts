/**
 * Resource URIs as the policy decides on them (issue 13 point 4). The gateway cannot know how an
 * upstream normalises the URIs it serves, so it
 * - canonicalises what RFC 3986 says is the same URI (scheme and host case, percent-encoding of
 *   unreserved characters and hex case, `.` and `..` segments); the canonical URI is both what the
 *   policy decides on and what is forwarded, so the two never differ;
 * - refuses what it could only guess at: an encoded slash or backslash (`%2F`, `%5C`), a raw
 *   backslash, NUL or any other control character (raw or encoded), a malformed `%`, a URI
 *   without a scheme;
 * - gives deny rules a looser form to match too ({@link looseUri}): what an upstream might still
 *   read as the same resource (leading zeros in numeric segments, repeated or trailing slashes,
 *   letter case, any percent-encoding, query and fragment) is denied when its loose form matches.
 */
export type CanonicalUri = { ok: true; uri: string } | { ok: false; reason: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function canonicalUri(raw: string): CanonicalUri {
  if (CONTROL.test(raw)) return refuse('it contains a control character (NUL, newline, …)');
  if (raw.includes('\\')) return refuse('it contains a backslash, a path separator on some upstreams');
  const m = SCHEME.exec(raw);
  if (!m) return refuse('it is not an absolute URI (scheme:…)');
  const scheme = (m[1] as string).toLowerCase();
  let rest = m[2] as string;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash);
    rest = rest.slice(0, hash);
  }
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q);
    rest = rest.slice(0, q);
  }
  let authority: string | undefined;
  let path = rest;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    path = slash < 0 ? '' : rest.slice(slash);
  }
  const parts: string[] = [];
  for (const [what, value, strict] of [
    ['authority', authority ?? '', true],
    ['path', path, true],
    ['query', query, false],
    ['fragment', fragment, false],
  ] as const) {
    const normal = normalisePercent(value, strict);
    if (!normal.ok) return refuse(`its ${what} ${normal.reason}`);
    parts.push(normal.uri);
  }
  const [auth, p, qs, frag] = parts as [string, string, string, string];
  const host = authority === undefined ? '' : `//${lowerHost(auth)}`;
  return { ok: true, uri: `${scheme}:${host}${removeDotSegments(p)}${qs}${frag}` };
}

/**
 * The form deny rules also match (lower-case): the canonical URI without query and fragment,
 * every percent-encoding decoded, repeated and trailing slashes removed, and numeric path
 * segments without leading zeros (`…/text/01` → `…/text/1`).
 */
export function looseUri(canonical: string): string {
  let s = canonical;
  const cut = s.search(/[?#]/);
  if (cut >= 0) s = s.slice(0, cut);
  const m = /^([^:]+:)(\/\/[^/]*)?(.*)$/s.exec(s);
  const head = `${m?.[1] ?? ''}${m?.[2] ?? ''}`;
  let path = decodeAll(m?.[3] ?? s);
  path = path
    .split('/')
    .filter((seg, i) => seg !== '' || i === 0)
    .map((seg) => (/^\d+$/.test(seg) ? seg.replace(/^0+(?=\d)/, '') : seg))
    .join('/');
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return `${head}${path}`.toLowerCase();
}

function refuse(why: string): CanonicalUri {
  return { ok: false, reason: `the resource URI is ambiguous and is refused: ${why}` };
}

/** Unreserved characters decoded, other escapes upper-case hex; in the authority and path, no escaped `/`, `\` or control. */
function normalisePercent(value: string, strict: boolean): CanonicalUri {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = value.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex))
      return { ok: false, reason: `has a "%" not followed by two hex digits` };
    const code = parseInt(hex, 16);
    if (code < 0x20 || code === 0x7f) return { ok: false, reason: `encodes a control character (%${hex})` };
    if (strict && (code === 0x2f || code === 0x5c)) {
      return { ok: false, reason: `encodes a ${code === 0x2f ? 'slash' : 'backslash'} (%${hex})` };
    }
    const decoded = String.fromCharCode(code);
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return { ok: true, uri: out };
}

/** `user@Host:port` → `user@host:port` (userinfo and port keep their case). */
function lowerHost(authority: string): string {
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPort = authority.slice(at + 1);
  const colon = hostPort.startsWith('[') ? hostPort.indexOf(']:') + 1 : hostPort.lastIndexOf(':');
  const host = colon > 0 ? hostPort.slice(0, colon) : hostPort;
  const port = colon > 0 ? hostPort.slice(colon) : '';
  return `${userinfo}${host.toLowerCase()}${port === ':' ? '' : port}`;
}

/** RFC 3986 §5.2.4. */
function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const absolute = path.startsWith('/');
  const segments = path.split('/');
  if (absolute) segments.shift();
  const out: string[] = [];
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  });
  return `${absolute ? '/' : ''}${out.join('/')}`;
}

function decodeAll(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
