import { readFileSync } from 'node:fs';

import { SERVER_NAME } from '@gatehouse/config';
import { z } from 'zod';

import { DirectError, DirectErrorCode } from './errors';

/** A server the host used to start itself (stdio) or reach itself (http), before Gatehouse. */
export type DirectServer =
  | {
      kind: 'stdio';
      /** The server's key in the legacy file. */
      name: string;
      command: string;
      args: string[];
      env: Record<string, string>;
      cwd?: string;
    }
  | { kind: 'http'; name: string; url: URL; headers: Record<string, string> };

/** The direct server the bridge uses, and the gateway upstream its calls are reported under. */
export interface DirectTarget {
  server: DirectServer;
  /** The gateway upstream name: the server's key, or `--as`. */
  upstream: string;
  /** The legacy file, for messages. */
  file: string;
}

const stringMap = z.record(z.string(), z.string());

/** Claude Desktop and Cursor: `command`/`args`/`env`/`cwd`, or (Cursor) a remote `url` with `headers`. */
const desktopStdio = z.object({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
  cwd: z.string().min(1).optional(),
  type: z.literal('stdio').optional(),
});
const desktopRemote = z.object({
  url: z.string().min(1),
  headers: stringMap.optional(),
  type: z.enum(['http', 'streamable-http']).optional(),
});
type DesktopEntry = z.infer<typeof desktopStdio> | z.infer<typeof desktopRemote>;

/** The entry's shape decides its schema, so an error names the field rather than "no variant matched". */
function desktopSchema(entry: unknown): typeof desktopStdio | typeof desktopRemote | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  if ('command' in entry) return desktopStdio;
  if ('url' in entry) return desktopRemote;
  return undefined;
}

/** VS Code (`.vscode/mcp.json`, or `mcp.servers` in settings.json): `type` says which. */
const vscodeEntry = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    env: stringMap.optional(),
    envFile: z.string().optional(),
    cwd: z.string().min(1).optional(),
  }),
  z.object({
    type: z.literal('http'),
    url: z.string().min(1),
    headers: stringMap.optional(),
  }),
]);

/** Keys of a VS Code entry the bridge cannot honour; named in the error rather than ignored. */
const UNSUPPORTED_VSCODE_KEYS = ['envFile'] as const;

function fail(code: DirectErrorCode, message: string): never {
  throw new DirectError(code, message);
}

function issueText(file: string, server: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  const what = issue?.message ?? 'invalid entry';
  return `${file}: server "${server}"${field !== undefined ? `, field "${field}"` : ''}: ${what}`;
}

function toServer(file: string, name: string, entry: DesktopEntry): DirectServer {
  if ('command' in entry) {
    return {
      kind: 'stdio',
      name,
      command: entry.command,
      args: entry.args ?? [],
      env: entry.env ?? {},
      ...(entry.cwd !== undefined ? { cwd: entry.cwd } : {}),
    };
  }
  let url: URL;
  try {
    url = new URL(entry.url);
  } catch {
    return fail(
      DirectErrorCode.CONFIG_INVALID,
      `${file}: server "${name}", field "url": not an absolute URL: ${entry.url}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(
      DirectErrorCode.CONFIG_INVALID,
      `${file}: server "${name}", field "url": must be http:// or https://`,
    );
  }
  return { kind: 'http', name, url, headers: entry.headers ?? {} };
}

/**
 * Reads the MCP server configs hosts use today, so a team can point Gatehouse at the
 * file it already has: Claude Desktop and Cursor (`{ "mcpServers": { name: { command,
 * args, env, cwd } } }`, Cursor also `{ url, headers }`), and VS Code (`{ "servers": {
 * name: { type: "stdio" | "http", ... } } }`, also nested under `"mcp"` in settings.json).
 * Everything wrong is named by file, server and field: a half-understood config would
 * run something other than what the host ran.
 */
export function parseLegacyConfig(text: string, file: string): DirectServer[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return fail(DirectErrorCode.CONFIG_INVALID, `${file}: not JSON: ${(error as Error).message}`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return fail(DirectErrorCode.CONFIG_INVALID, `${file}: expected a JSON object`);
  }
  const root = document as Record<string, unknown>;
  const nested = root.mcp;
  const vscodeRoot =
    nested !== null && typeof nested === 'object' && !Array.isArray(nested)
      ? (nested as Record<string, unknown>)
      : root;
  if (root.mcpServers !== undefined) return parseSection(file, 'mcpServers', root.mcpServers, 'desktop');
  if (vscodeRoot.servers !== undefined) return parseSection(file, 'servers', vscodeRoot.servers, 'vscode');
  return fail(
    DirectErrorCode.CONFIG_INVALID,
    `${file}: no "mcpServers" (Claude Desktop, Cursor) or "servers" (VS Code) object found`,
  );
}

function parseSection(
  file: string,
  key: string,
  section: unknown,
  shape: 'desktop' | 'vscode',
): DirectServer[] {
  if (section === null || typeof section !== 'object' || Array.isArray(section)) {
    return fail(DirectErrorCode.CONFIG_INVALID, `${file}: "${key}" must be an object of servers by name`);
  }
  const servers: DirectServer[] = [];
  for (const [name, entry] of Object.entries(section as Record<string, unknown>)) {
    if (shape === 'desktop') {
      const schema = desktopSchema(entry);
      if (!schema) {
        fail(
          DirectErrorCode.CONFIG_INVALID,
          `${file}: server "${name}": expected { "command", "args", "env", "cwd" } or { "url", "headers" }`,
        );
      }
      const parsed = schema.safeParse(entry);
      if (!parsed.success) fail(DirectErrorCode.CONFIG_INVALID, issueText(file, name, parsed.error));
      servers.push(toServer(file, name, parsed.data));
      continue;
    }
    const parsed = vscodeEntry.safeParse(entry);
    if (!parsed.success) fail(DirectErrorCode.CONFIG_INVALID, issueText(file, name, parsed.error));
    for (const unsupported of UNSUPPORTED_VSCODE_KEYS) {
      if (unsupported in parsed.data) {
        fail(
          DirectErrorCode.CONFIG_INVALID,
          `${file}: server "${name}", field "${unsupported}": not supported by gatehouse bridge; put the variables in "env"`,
        );
      }
    }
    const data = parsed.data;
    const server =
      data.type === 'stdio'
        ? toServer(file, name, {
            command: data.command,
            ...(data.args !== undefined ? { args: data.args } : {}),
            ...(data.env !== undefined ? { env: data.env } : {}),
            ...(data.cwd !== undefined ? { cwd: data.cwd } : {}),
          })
        : toServer(file, name, {
            url: data.url,
            ...(data.headers !== undefined ? { headers: data.headers } : {}),
          });
    servers.push(server);
  }
  for (const server of servers) {
    const inputs = JSON.stringify(server).match(/\$\{input:[^}]*\}/);
    if (inputs) {
      fail(
        DirectErrorCode.CONFIG_INVALID,
        `${file}: server "${server.name}" uses ${inputs[0]}, which only VS Code can prompt for; put the value in the file or in "env"`,
      );
    }
  }
  return servers;
}

/**
 * Picks the direct server: the only one in the file, or the one `server` names; its
 * gateway upstream name is `as`, or the server's own name when that is a valid one.
 */
export function pickDirectServer(
  servers: DirectServer[],
  file: string,
  choice: { server?: string; as?: string } = {},
): DirectTarget {
  const names = servers.map((s) => s.name);
  let server: DirectServer | undefined;
  if (choice.server !== undefined) {
    server = servers.find((s) => s.name === choice.server);
    if (!server) {
      fail(
        DirectErrorCode.SERVER_NOT_FOUND,
        `${file} has no server "${choice.server}"${names.length > 0 ? `; it has: ${names.join(', ')}` : ''}`,
      );
    }
  } else if (servers.length === 1) {
    server = servers[0];
  } else if (servers.length === 0) {
    fail(DirectErrorCode.SERVER_NOT_FOUND, `${file} lists no servers`);
  } else {
    fail(
      DirectErrorCode.SERVER_AMBIGUOUS,
      `${file} has several servers (${names.join(', ')}); pick one with --server <name>`,
    );
  }
  if (!server) return fail(DirectErrorCode.SERVER_NOT_FOUND, `${file} lists no servers`);
  const upstream = choice.as ?? server.name;
  if (!SERVER_NAME.test(upstream)) {
    fail(
      DirectErrorCode.UPSTREAM_NAME_INVALID,
      choice.as !== undefined
        ? `--as ${choice.as}: not a gateway upstream name (lowercase letters, digits and dashes, starting with a letter)`
        : `the server "${server.name}" in ${file} is not a valid gateway upstream name; give the gateway's name for it with --as <name>`,
    );
  }
  return { server, upstream, file };
}

/** Reads and parses `file` and picks the server, as {@link pickDirectServer}. */
export function loadDirectTarget(file: string, choice: { server?: string; as?: string } = {}): DirectTarget {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(DirectErrorCode.CONFIG_UNREADABLE, `cannot read ${file}: ${(error as Error).message}`);
  }
  return pickDirectServer(parseLegacyConfig(text, file), file, choice);
}
