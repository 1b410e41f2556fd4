import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { serveConsole } from './console.module';

/** The console's serving rules on a bare Fastify instance, with a build made up in a temp dir. */
describe('serving the console', () => {
  let app: FastifyInstance;
  afterEach(async () => app?.close());

  let base = '';
  async function serve(dir: string): Promise<void> {
    app = Fastify();
    serveConsole(app, dir);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }

  /** A GET with the path sent exactly as written (fetch would resolve `..` first). */
  function get(path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((ok, fail) => {
      const url = new URL(base);
      const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  it('without a build answers 503 CONSOLE_NOT_BUILT saying to run npm run build, with the headers', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'console-')), 'missing');
    await serve(dir);
    for (const url of ['/console', '/console/activity', '/console/assets/index-x.js']) {
      const res = await get(url);
      expect(res.status).toBe(503);
      const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('CONSOLE_NOT_BUILT');
      expect(error.message).toContain('npm run build');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves only files of the build: no path reaches outside dist/web/assets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<meta name="csp-nonce" content="__CSP_NONCE__">');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'export {}');
    writeFileSync(join(dir, 'secret.txt'), 'not an asset');
    await serve(dir);

    const ok = await get('/console/assets/index-abc.js');
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(ok.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    for (const url of [
      '/console/assets/../secret.txt',
      '/console/assets/..%2Fsecret.txt',
      '/console/assets/%2e%2e/secret.txt',
      '/console/assets/..%2Findex.html',
      '/console/assets/',
    ]) {
      const res = await get(url);
      expect(res.body).not.toContain('not an asset');
      expect(res.body).not.toContain('csp-nonce');
    }

    // The page: a fresh nonce in the meta tag and in the CSP, never cached.
    const page = await get('/console/break-glass?x=1');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    const nonce = /'nonce-([^']+)'/.exec(String(page.headers['content-security-policy']))?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(page.body).toBe(`<meta name="csp-nonce" content="${nonce}">`);
  });
});
