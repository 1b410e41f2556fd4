import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DirectError, DirectErrorCode } from './errors';
import { loadDirectTarget, parseLegacyConfig, pickDirectServer } from './legacy-config';

function errorOf(run: () => unknown): DirectError {
  try {
    run();
  } catch (error) {
    if (error instanceof DirectError) return error;
    throw error;
  }
  throw new Error('expected a DirectError');
}

describe('legacy host configs', () => {
  it('reads a Claude Desktop config with command, args, env and cwd', () => {
    const servers = parseLegacyConfig(
      JSON.stringify({
        mcpServers: {
          filesystem: {
            command: 'npx',
            args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'],
            env: { DEBUG: '1' },
            cwd: '/srv',
          },
        },
      }),
      'claude_desktop_config.json',
    );
    expect(servers).toEqual([
      {
        kind: 'stdio',
        name: 'filesystem',
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'],
        env: { DEBUG: '1' },
        cwd: '/srv',
      },
    ]);
  });

  it('reads a Cursor config with a stdio server and a remote url server', () => {
    const servers = parseLegacyConfig(
      JSON.stringify({
        mcpServers: {
          memory: { command: 'node', args: ['memory.js'] },
          remote: { url: 'https://mcp.example.com/mcp', headers: { 'x-team': 'a' } },
        },
      }),
      '.cursor/mcp.json',
    );
    expect(servers[0]).toEqual({
      kind: 'stdio',
      name: 'memory',
      command: 'node',
      args: ['memory.js'],
      env: {},
    });
    expect(servers[1]).toMatchObject({ kind: 'http', name: 'remote', headers: { 'x-team': 'a' } });
    expect(servers[1]?.kind === 'http' && servers[1].url.href).toBe('https://mcp.example.com/mcp');
  });

  it('reads a VS Code mcp.json with stdio and http servers', () => {
    const servers = parseLegacyConfig(
      JSON.stringify({
        servers: {
          everything: { type: 'stdio', command: 'node', args: ['e.js'], env: { A: 'b' } },
          web: { type: 'http', url: 'http://127.0.0.1:9000/mcp' },
        },
      }),
      '.vscode/mcp.json',
    );
    expect(servers.map((s) => [s.name, s.kind])).toEqual([
      ['everything', 'stdio'],
      ['web', 'http'],
    ]);
  });

  it('reads the servers nested under "mcp" in a VS Code settings.json', () => {
    const servers = parseLegacyConfig(
      JSON.stringify({
        'editor.fontSize': 12,
        mcp: { servers: { memory: { type: 'stdio', command: 'node' } } },
      }),
      'settings.json',
    );
    expect(servers.map((s) => s.name)).toEqual(['memory']);
  });

  it.each([
    ['not JSON', '{ "mcpServers": ', /claude\.json: not JSON/],
    [
      'neither shape',
      '{ "other": {} }',
      /no "mcpServers" \(Claude Desktop, Cursor\) or "servers" \(VS Code\)/,
    ],
    ['servers not an object', '{ "mcpServers": [] }', /"mcpServers" must be an object of servers by name/],
    [
      'args not strings',
      '{ "mcpServers": { "fs": { "command": "npx", "args": [1] } } }',
      /server "fs", field "args\.0"/,
    ],
    [
      'no command nor url',
      '{ "mcpServers": { "fs": { "args": [] } } }',
      /server "fs".*expected \{ "command"/,
    ],
    [
      'a relative url',
      '{ "mcpServers": { "web": { "url": "/mcp" } } }',
      /server "web", field "url": not an absolute URL/,
    ],
    [
      'an ftp url',
      '{ "mcpServers": { "web": { "url": "ftp://x/mcp" } } }',
      /server "web", field "url": must be http/,
    ],
    ['VS Code without a type', '{ "servers": { "fs": { "command": "npx" } } }', /server "fs", field "type"/],
    [
      'VS Code sse',
      '{ "servers": { "fs": { "type": "sse", "url": "http://x" } } }',
      /server "fs", field "type"/,
    ],
    [
      'VS Code envFile',
      '{ "servers": { "fs": { "type": "stdio", "command": "x", "envFile": ".env" } } }',
      /field "envFile": not supported/,
    ],
    [
      'a VS Code input variable',
      '{ "servers": { "fs": { "type": "stdio", "command": "x", "env": { "K": "${input:key}" } } } }',
      /server "fs" uses \$\{input:key\}/,
    ],
  ])('refuses %s, naming file, server and field', (_what, text, message) => {
    const error = errorOf(() => parseLegacyConfig(text, 'claude.json'));
    expect(error.code).toBe(DirectErrorCode.CONFIG_INVALID);
    expect(error.message).toMatch(message);
  });

  describe('picking the server', () => {
    const servers = parseLegacyConfig(
      JSON.stringify({ mcpServers: { memory: { command: 'a' }, Files: { command: 'b' } } }),
      'c.json',
    );

    it('takes the one --server names, reported under its own name', () => {
      expect(pickDirectServer(servers, 'c.json', { server: 'memory' })).toMatchObject({
        upstream: 'memory',
        server: { name: 'memory' },
      });
    });

    it('renames with --as', () => {
      expect(pickDirectServer(servers, 'c.json', { server: 'Files', as: 'files' }).upstream).toBe('files');
    });

    it('asks for --server when there are several', () => {
      const error = errorOf(() => pickDirectServer(servers, 'c.json'));
      expect(error.code).toBe(DirectErrorCode.SERVER_AMBIGUOUS);
      expect(error.message).toBe('c.json has several servers (memory, Files); pick one with --server <name>');
    });

    it('names the servers there are when --server names another', () => {
      const error = errorOf(() => pickDirectServer(servers, 'c.json', { server: 'postgres' }));
      expect(error.code).toBe(DirectErrorCode.SERVER_NOT_FOUND);
      expect(error.message).toBe('c.json has no server "postgres"; it has: memory, Files');
    });

    it('asks for --as when the name is not a gateway upstream name', () => {
      const error = errorOf(() => pickDirectServer(servers, 'c.json', { server: 'Files' }));
      expect(error.code).toBe(DirectErrorCode.UPSTREAM_NAME_INVALID);
      expect(error.message).toMatch(/give the gateway's name for it with --as <name>/);
    });

    it('refuses an --as that is not an upstream name', () => {
      expect(errorOf(() => pickDirectServer(servers, 'c.json', { server: 'memory', as: 'a__b' })).code).toBe(
        DirectErrorCode.UPSTREAM_NAME_INVALID,
      );
    });
  });

  it('loads a file from disk and says when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-legacy-'));
    const file = join(dir, 'mcp.json');
    writeFileSync(file, JSON.stringify({ servers: { memory: { type: 'stdio', command: 'node' } } }));
    expect(loadDirectTarget(file).upstream).toBe('memory');
    const missing = errorOf(() => loadDirectTarget(join(dir, 'nope.json')));
    expect(missing.code).toBe(DirectErrorCode.CONFIG_UNREADABLE);
    expect(missing.message).toMatch(/cannot read .*nope\.json/);
  });
});
