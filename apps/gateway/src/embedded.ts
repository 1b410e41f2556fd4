import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { LoadedConfig } from '@gatehouse/config';
import { configSchema } from '@gatehouse/config';

/** The demo MCP servers `npm start` runs when no gatehouse.yaml exists (all installed from npm). */
export function withDemoUpstreams(loaded: LoadedConfig): LoadedConfig {
  if (loaded.file !== undefined || Object.keys(loaded.config.upstreams).length > 0) return loaded;
  const demoDir = resolve(loaded.config.dataDir, 'demo');
  mkdirSync(demoDir, { recursive: true });
  const readme = join(demoDir, 'README.txt');
  if (!existsSync(readme)) {
    writeFileSync(readme, 'This folder is served by the demo filesystem MCP server behind Gatehouse.\n');
  }
  const bin = (pkg: string): string =>
    join(dirname(require.resolve(`${pkg}/package.json`)), 'dist', 'index.js');
  const stdio = (
    args: string[],
    sharing: 'shared' | 'per-session',
    description: string,
    readOnlyTools: string[] = [],
  ): unknown => ({
    transport: 'stdio',
    command: process.execPath,
    args,
    sharing,
    description,
    tags: { env: 'demo' },
    // Attested read-only for the demo policy (policies/demo.yaml); every other tool is a write.
    readOnlyTools,
  });
  const upstreams = configSchema.shape.upstreams.parse({
    // per-session: it exercises sampling, elicitation and roots, which need one client behind them.
    everything: stdio(
      [bin('@modelcontextprotocol/server-everything'), 'stdio'],
      'per-session',
      'MCP reference server exercising every protocol feature',
    ),
    filesystem: stdio(
      [bin('@modelcontextprotocol/server-filesystem'), demoDir],
      'shared',
      `files under ${demoDir}`,
      ['read_*', 'list_*', 'directory_tree', 'search_files', 'get_file_info'],
    ),
    memory: stdio([bin('@modelcontextprotocol/server-memory')], 'shared', 'knowledge-graph memory', [
      'read_graph',
      'search_nodes',
      'open_nodes',
    ]),
  });
  return { ...loaded, config: { ...loaded.config, upstreams } };
}
