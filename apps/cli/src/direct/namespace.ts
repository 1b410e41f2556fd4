/*
 * The aggregated gateway endpoint's names (libs/transport/src/namespace.ts): tools and prompts
 * are `<server>__<name>`, resource URIs `<server>+<uri>`. Restated here so the bridge does not
 * load the transport library; the fallback path presents the direct server under the same
 * names the host saw through the gateway.
 */

const SEPARATOR = '__';

export function qualifyName(server: string, name: string): string {
  return `${server}${SEPARATOR}${name}`;
}

/** The direct server's own name, or undefined when `qualified` belongs to another server. */
export function unqualifyName(server: string, qualified: string): string | undefined {
  const prefix = `${server}${SEPARATOR}`;
  return qualified.startsWith(prefix) && qualified.length > prefix.length
    ? qualified.slice(prefix.length)
    : undefined;
}

export function qualifyUri(server: string, uri: string): string {
  return `${server}+${uri}`;
}

export function unqualifyUri(server: string, qualified: string): string | undefined {
  const prefix = `${server}+`;
  return qualified.startsWith(prefix) ? qualified.slice(prefix.length) : undefined;
}

/** Whether the bridge's gateway URL is the aggregated endpoint (`/mcp`), where names carry the server. */
export function isAggregated(url: URL): boolean {
  return /\/mcp\/?$/.test(url.pathname);
}
