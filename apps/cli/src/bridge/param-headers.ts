/**
 * SEP-2243 (2026-07-28 Streamable HTTP): a tool may mark primitive arguments
 * with `x-mcp-header: Name` in its input schema, and the HTTP client must then
 * mirror them as `Mcp-Param-Name` headers so proxies can route without parsing
 * bodies. The host talks stdio and sends no headers, so the bridge, being the
 * HTTP client, mirrors them from the tool definitions it has relayed.
 */

/** One argument mirrored into a header. */
export interface ParamDeclaration {
  /** Property names from the arguments object down to the value. */
  path: string[];
  headerName: string;
}

const HEADER_KEY = 'x-mcp-header';
const PREFIX = 'Mcp-Param-';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';

/**
 * Finds the declarations along `properties` chains. Invalid declarations are
 * skipped: the gateway judges the tool, the bridge only mirrors what is valid.
 */
export function scanParamDeclarations(inputSchema: unknown): ParamDeclaration[] {
  const found: ParamDeclaration[] = [];
  const visit = (node: unknown, path: string[]) => {
    if (node === null || typeof node !== 'object') return;
    const schema = node as Record<string, unknown>;
    const name = schema[HEADER_KEY];
    if (path.length > 0 && typeof name === 'string' && TOKEN.test(name))
      found.push({ path, headerName: name });
    const properties = schema.properties;
    if (properties !== null && typeof properties === 'object') {
      for (const [key, child] of Object.entries(properties)) visit(child, [...path, key]);
    }
  };
  visit(inputSchema, []);
  return found;
}

function toText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!Number.isInteger(value) || Number.isSafeInteger(value))
  ) {
    return String(value);
  }
  return undefined;
}

/** Plain when it is a safe visible-ASCII field value, else `=?base64?<utf-8 base64>?=`. */
export function encodeParamValue(value: string): string {
  const plain =
    value.length > 0 &&
    value === value.trim() &&
    !(value.startsWith(BASE64_PREFIX) && value.endsWith(BASE64_SUFFIX)) &&
    /^[\t\x20-\x7e]*$/.test(value);
  return plain ? value : `${BASE64_PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${BASE64_SUFFIX}`;
}

/** The `Mcp-Param-*` headers for one call; absent, null and non-primitive values get none. */
export function paramHeaders(
  declarations: readonly ParamDeclaration[],
  args: unknown,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { path, headerName } of declarations) {
    let value: unknown = args;
    for (const key of path)
      value =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    const text = value === null || value === undefined ? undefined : toText(value);
    if (text !== undefined) headers[`${PREFIX}${headerName}`] = encodeParamValue(text);
  }
  return headers;
}
