import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { ConfigError, parseConfigText, redactedConfig } from './load';
import { configSchema, upstreamSchema } from './schema';

/**
 * gatehouse.example.yaml and docs/configuration.md promise to show every key; these tests keep
 * that promise when someone adds a key to the schema.
 */
const ROOT = resolve(__dirname, '../../..');
const EXAMPLE = readFileSync(resolve(ROOT, 'gatehouse.example.yaml'), 'utf8');
const DOCS = readFileSync(resolve(ROOT, 'docs/configuration.md'), 'utf8');
const EXAMPLE_ENV = {
  GITHUB_TOKEN: 'ghp_example_token_value',
  GATEHOUSE_DATABASE_URL: 'postgres://gatehouse:example-password@db.internal:5432/gatehouse',
  GATEHOUSE_INTROSPECTION_SECRET: 'example-introspection-secret',
  GATEHOUSE_CONSOLE_SECRET: 'example-console-secret',
  GATEHOUSE_PAGER_SECRET: 'example-pager-secret-0123456789abcdef',
  SPLUNK_HEC_TOKEN: 'example-hec-token',
  GATEHOUSE_WEBHOOK_SECRET: 'example-webhook-secret-0123456789abcdef',
  GATEHOUSE_CURSOR_SECRET: 'example-cursor-secret-0123456789abcdef',
};

/** Every leaf key path the schema accepts; upstream keys appear as `upstreams.<name>.…`. */
function schemaPaths(schema: z.core.$ZodType, prefix: string[] = []): string[] {
  const def = unwrap(schema)._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  if (def.type === 'object') {
    return Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([k, v]) =>
      schemaPaths(v, [...prefix, k]),
    );
  }
  if (def.type === 'union') {
    return [...new Set((def.options as z.core.$ZodType[]).flatMap((o) => schemaPaths(o, prefix)))];
  }
  if (def.type === 'record' && unwrap(def.valueType as z.core.$ZodType)._zod.def.type === 'union') {
    return schemaPaths(def.valueType as z.core.$ZodType, [...prefix, '<name>']);
  }
  return [prefix.join('.')];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType };
  return ['default', 'prefault', 'optional'].includes(def.type) && def.innerType
    ? unwrap(def.innerType)
    : schema;
}

function getIn(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>(
    (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
    value,
  );
}

const PATHS = schemaPaths(configSchema);

describe('gatehouse.example.yaml', () => {
  it('parses and validates with the environment variables it references', () => {
    const loaded = parseConfigText(EXAMPLE, EXAMPLE_ENV, 'gatehouse.example.yaml');
    const { upstreams } = loaded.config;
    expect(Object.values(upstreams).map((u) => u.transport)).toEqual(
      expect.arrayContaining(['stdio', 'http']),
    );
    expect(Object.values(upstreams).some((u) => u.tags.env === 'prod')).toBe(true);
    expect(loaded.config.server.bodyLimitBytes).toBe(4 * 1024 * 1024);
  });

  it('refuses to start without them, naming the variable', () => {
    expect(() => parseConfigText(EXAMPLE, {}, 'gatehouse.example.yaml')).toThrow(ConfigError);
    expect(() => parseConfigText(EXAMPLE, {}, 'gatehouse.example.yaml')).toThrow(/export GITHUB_TOKEN/);
  });

  it('keeps its secrets out of the redacted form', () => {
    const out = JSON.stringify(redactedConfig(parseConfigText(EXAMPLE, EXAMPLE_ENV)));
    expect(out).not.toContain('ghp_example_token_value');
    expect(out).not.toContain('example-password');
    expect(out).not.toContain('example-introspection-secret');
    expect(out).not.toContain('example-console-secret');
    expect(out).not.toContain('example-pager-secret');
    expect(out).not.toContain('example-hec-token');
    expect(out).not.toContain('example-webhook-secret');
  });

  it.each(PATHS)('sets %s', (path) => {
    const raw: unknown = parse(EXAMPLE, { merge: true });
    const parts = path.split('.');
    const found =
      parts[0] === 'upstreams' && parts[1] === '<name>'
        ? Object.values(getIn(raw, ['upstreams']) as Record<string, unknown>).some(
            (u) => getIn(u, parts.slice(2)) !== undefined,
          )
        : getIn(raw, parts) !== undefined;
    expect(found).toBe(true);
  });
});

describe('docs/configuration.md', () => {
  /** Reference table rows: key -> the Default cell. */
  const rows = new Map(
    DOCS.split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').map((cell) => cell.trim()))
      .map((cells) => [cells[1]?.replace(/`/g, '') ?? '', cells[3] ?? ''] as const),
  );
  const stdioDefaults = upstreamSchema.parse({ transport: 'stdio', command: 'x' });
  const httpDefaults = upstreamSchema.parse({ transport: 'http', url: 'https://x.example' });
  const topDefaults = configSchema.parse({});
  // Optional sections (server.tls) only have defaults once present with their required keys.
  const sectionDefaults = configSchema.parse({
    server: { tls: { certFile: 'x', keyFile: 'y' } },
    bypass: { alerts: { webhook: { url: 'https://pager.example', secret: 'x'.repeat(32) } } },
  });

  it.each(PATHS)('documents %s in a reference table', (path) => {
    expect([...rows.keys()]).toContain(path);
  });

  it.each(PATHS)('states the default of %s as the schema does', (path) => {
    const cell = rows.get(path) ?? '';
    const spans = [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1] ?? '');
    const parts = path.split('.');
    if (parts[1] === '<name>') {
      const rest = parts.slice(2);
      const stdio = getIn(stdioDefaults, rest);
      const http = getIn(httpDefaults, rest);
      if (spans.length === 2) {
        // Only sharing differs by transport; its cell reads "`shared` (stdio), `per-session` (http)".
        expect(spans.map((s) => parse(s) as unknown)).toEqual([stdio, http]);
        return;
      }
      const base = stdio === undefined ? httpDefaults : stdioDefaults;
      if (cell === '(required)') {
        const { [rest[0] ?? '']: _dropped, ...without } = base as Record<string, unknown>;
        expect(upstreamSchema.safeParse(base).success).toBe(true);
        expect(upstreamSchema.safeParse(without).success).toBe(false);
        return;
      }
      const expected = stdio === undefined ? http : stdio;
      expect(spans.length === 1 ? (parse(spans[0] ?? '') as unknown) : undefined).toEqual(expected);
      return;
    }
    expect(spans.length === 1 ? (parse(spans[0] ?? '') as unknown) : undefined).toEqual(
      spans.length === 0
        ? getIn(topDefaults, parts)
        : (getIn(topDefaults, parts) ?? getIn(sectionDefaults, parts)),
    );
  });

  it.each([
    'PORT',
    'HOST',
    'PUBLIC_URL',
    'DATABASE_URL',
    'REDIS_URL',
    'LOG_LEVEL',
    'GATEHOUSE_DATA_DIR',
    'OIDC_ISSUER',
    'OIDC_AUDIENCE',
  ])('lists the %s override, and it works as documented', (name) => {
    const row = DOCS.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    const key = row?.split('|')[2]?.trim().replace(/`/g, '') ?? '';
    const values: Record<string, string> = {
      PORT: '8181',
      HOST: '0.0.0.0',
      PUBLIC_URL: 'https://gw.example.com',
      DATABASE_URL: 'postgres://postgres@db/gh',
      REDIS_URL: 'redis://cache:6379',
      LOG_LEVEL: 'debug',
      GATEHOUSE_DATA_DIR: '/data',
      OIDC_ISSUER: 'https://login.example.com/realms/corp',
      OIDC_AUDIENCE: 'https://gw.example.com/mcp',
    };
    const value = values[name] ?? '';
    const { config } = parseConfigText('', { [name]: value });
    expect(String(getIn(config, key.split('.')))).toBe(value);
  });
});
