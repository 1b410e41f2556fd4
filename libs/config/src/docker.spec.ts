import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { parseConfigText } from './load';

/**
 * The production shape in docker/ cannot be started here (no container engine), so these tests
 * hold its files to what docs/operations.md promises, and prove the gateway accepts the
 * configuration the containers get. docker/smoke-local.sh runs the same shape without Docker.
 */
const ROOT = resolve(__dirname, '../../..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
}

/** Compose's `${NAME:-default}` interpolation, with nothing set: every default applies. */
function interpolate(text: string): string {
  return text.replace(
    /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g,
    (_m, _name: string, fallback?: string) => fallback ?? '',
  );
}

const compose = parse(interpolate(read('docker/compose.yml')), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const haproxy = read('docker/haproxy/haproxy.cfg');
const dockerfile = read('docker/Dockerfile');
const gateways = Object.keys(services).filter((name) => name.startsWith('gateway-'));

describe('docker/compose.yml', () => {
  it('runs two gateway replicas from docker/Dockerfile', () => {
    expect(gateways).toEqual(['gateway-1', 'gateway-2']);
    for (const name of gateways) {
      expect(services[name]?.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    }
  });

  it('points every replica at the same Postgres and Redis services', () => {
    for (const name of gateways) {
      const env = services[name]?.environment ?? {};
      expect(new URL(env.DATABASE_URL ?? '').hostname).toBe('postgres');
      expect(new URL(env.REDIS_URL ?? '').hostname).toBe('redis');
      expect(services[name]?.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
    }
  });

  it('runs Postgres 15 and Redis 7 with maxmemory-policy noeviction', () => {
    expect(services.postgres?.image).toBe('postgres:15');
    expect(services.redis?.image).toBe('redis:7');
    const command = services.redis?.command ?? [];
    expect(command[command.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
  });

  it('puts HAProxy with docker/haproxy/haproxy.cfg in front', () => {
    expect(services.haproxy?.image).toMatch(/^haproxy:/);
    expect(services.haproxy?.volumes).toContain(
      './haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro',
    );
  });

  it('has placeholders for the IdP and S3 behind profiles, off by default', () => {
    expect(services.idp?.profiles).toEqual(['idp']);
    expect(services.minio?.image).toMatch(/^minio\/minio/);
    expect(services.minio?.profiles).toEqual(['s3']);
  });

  it('gives a replica longer to stop than its own shutdown grace', () => {
    const { config } = parseConfigText(read('docker/gatehouse.yaml'), {});
    for (const name of gateways) {
      const grace = /^(\d+)s$/.exec(services[name]?.stop_grace_period ?? '')?.[1];
      expect(Number(grace) * 1000).toBeGreaterThan(config.server.shutdownGraceMs);
    }
  });

  it('mounts a configuration the gateway accepts with the environment compose sets', () => {
    const env = services['gateway-1']?.environment ?? {};
    const mount = services['gateway-1']?.volumes?.find((v) => v.includes(env.GATEHOUSE_CONFIG ?? '?'));
    expect(mount?.split(':')[0]).toBe('./gatehouse.yaml');
    const { config } = parseConfigText(read('docker/gatehouse.yaml'), {
      ...env,
      HOST: '0.0.0.0',
      PORT: '8080',
    });
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.database.url).toBe(env.DATABASE_URL);
    expect(config.redis.url).toBe(env.REDIS_URL);
    expect(Object.keys(config.upstreams).length).toBeGreaterThan(0);
  });

  it('runs demo upstreams that exist in the image under /app/node_modules', () => {
    const { config } = parseConfigText(read('docker/gatehouse.yaml'), {});
    for (const upstream of Object.values(config.upstreams)) {
      if (upstream.transport !== 'stdio') continue;
      for (const arg of upstream.args.filter((a) => a.startsWith('/app/'))) {
        expect(existsSync(resolve(ROOT, arg.slice('/app/'.length)))).toBe(true);
      }
    }
  });
});

describe('docker/haproxy/haproxy.cfg', () => {
  const backend = haproxy.slice(/^backend gateways$/m.exec(haproxy)?.index ?? haproxy.length);
  const backendLines = backend
    .split('\n')
    .slice(
      0,
      backend.split('\n').findIndex((line, i) => i > 0 && /^\S/.test(line)),
    )
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));

  it('has a gateways backend to inspect', () => {
    expect(backendLines[0]).toBe('backend gateways');
    expect(backendLines.length).toBeGreaterThan(5);
  });

  it('balances round robin', () => {
    expect(backendLines).toContain('balance roundrobin');
  });

  it.each([['cookie'], ['stick'], ['balance source'], ['hash-type'], ['balance uri'], ['balance hdr']])(
    'has no stickiness (%s)',
    (directive) => {
      expect(backendLines.filter((line) => line.startsWith(directive))).toEqual([]);
    },
  );

  it('checks each replica on /readyz and wants 200', () => {
    expect(backendLines).toContain('option httpchk');
    expect(backendLines.find((l) => l.startsWith('http-check send'))).toMatch(/meth GET uri \/readyz/);
    expect(backendLines).toContain('http-check expect status 200');
  });

  it('names every gateway replica of compose.yml on the port the image listens on', () => {
    const port = /^\s*PORT=(\d+)/m.exec(dockerfile)?.[1];
    const servers = backendLines.filter((l) => l.startsWith('server ')).map((l) => l.split(/\s+/)[2]);
    expect(servers).toEqual(gateways.map((name) => `${name}:${port}`));
    expect(backendLines.filter((l) => l.startsWith('server ')).every((l) => / check\b/.test(l))).toBe(true);
  });
});

describe('docker/Dockerfile', () => {
  const froms = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+ /.test(l));

  it('is multi-stage on node:<pinned major>-slim, the major package.json pins as devDependencies.node', () => {
    const pinned = (JSON.parse(read('package.json')) as { devDependencies: Record<string, string> })
      .devDependencies.node;
    const major = pinned?.split('.')[0];
    expect(major).toMatch(/^\d+$/);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.every((l) => l.startsWith(`FROM node:${major}-slim `))).toBe(true);
  });

  it('installs with npm ci and builds with npm run build', () => {
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  it('copies only paths that exist in the repository', () => {
    const sources = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect([source, existsSync(resolve(ROOT, source))]).toEqual([source, true]);
  });

  it('runs the built gateway as the non-root node user', () => {
    const user = instructions.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('USER '));
    const cmd = instructions.findIndex((l) => l.startsWith('CMD '));
    expect(user.at(-1)?.[0]).toBe('USER node');
    expect(user.at(-1)?.[1]).toBeLessThan(cmd);
    expect(instructions[cmd]).toContain('"dist/apps/gateway/src/main.js"');
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain('dist/apps/gateway/src/main.js');
  });
});
