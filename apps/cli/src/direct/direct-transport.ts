import { StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';

import type { DirectServer } from './legacy-config';

/**
 * The transport to the direct server, as the host itself would open it: the command spawned
 * with the SDK's stdio client transport (its stderr goes to the bridge's stderr, which hosts
 * show in their MCP logs), or Streamable HTTP to the url with the configured headers.
 *
 * The child's environment is the SDK's safe default set (PATH, HOME, ...) plus the entry's
 * `env`, as Claude Desktop does; not the bridge's own environment, which holds the gateway
 * token that a third-party server must never see.
 */
export function directTransport(server: DirectServer): Transport {
  if (server.kind === 'stdio') {
    return new StdioClientTransport({
      command: server.command,
      args: server.args,
      env: { ...getDefaultEnvironment(), ...server.env },
      ...(server.cwd !== undefined ? { cwd: server.cwd } : {}),
      stderr: 'inherit',
    });
  }
  return new StreamableHTTPClientTransport(server.url, { requestInit: { headers: server.headers } });
}

/** One line naming the direct server, for logs. */
export function describeDirect(server: DirectServer): string {
  return server.kind === 'stdio'
    ? `${server.name} (${[server.command, ...server.args].join(' ')})`
    : `${server.name} (${server.url.href})`;
}
