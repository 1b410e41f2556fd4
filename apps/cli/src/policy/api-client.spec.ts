import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PolicyApi, type BearerSource } from './api-client';
import { PolicyCliErrorCode } from './errors';
import { push } from './push';

/**
 * Answers the real gateway cannot be made to give on demand (a propose refused right after its
 * draft was created, a 409, a 500, a proxy's HTML page): a plain HTTP server stands in for it here.
 * Every other answer is proven against the real gateway in e2e/policy-cli/push-diff.spec.ts.
 */
describe('PolicyApi answers a real gateway cannot be made to give', () => {
  let server: Server;
  let base: string;
  let answer: (method: string, url: string) => { status: number; body: string };
  const seen: Array<{ method: string; url: string; authorization?: string }> = [];
  let dir: string;

  const bearer: BearerSource = {
    token: () => Promise.resolve('t0k3n'),
    renew: () => Promise.resolve(false),
    describe: 'the token in $GATEHOUSE_TOKEN',
    remedy: 'get a new one',
  };
  const io = { out: () => undefined, err: () => undefined };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      const { status, body } = answer(req.method ?? '', req.url ?? '');
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
  beforeEach(() => {
    seen.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-api-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      '- subject: { any: true }\n  resource: { server: a }\n  action: read\n',
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says which draft exists when proposing it is refused, so CI does not push twice blindly', async () => {
    answer = (method, url) =>
      url.endsWith('/propose')
        ? {
            status: 409,
            body: JSON.stringify({
              error: { code: 'INVALID_TRANSITION', message: 'version 7 is not a draft' },
            }),
          }
        : { status: 201, body: JSON.stringify({ number: 7, status: 'draft' }) };

    await expect(
      push(new PolicyApi(base, bearer), { dir, message: 'm', propose: true }, io),
    ).rejects.toMatchObject({
      code: PolicyCliErrorCode.REFUSED,
      message: `draft version 7 was created (${base}/api/v1/policy/versions/7) but could not be proposed: cannot propose the version: version 7 is not a draft (409)`,
    });
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /api/v1/policy/versions',
      'POST /api/v1/policy/versions/7/propose',
    ]);
    expect(seen.every((r) => r.authorization === 'Bearer t0k3n')).toBe(true);
  });

  it("reports a 500 with the gateway's message, and a non-JSON success as not a gateway", async () => {
    const api = new PolicyApi(`${base}/`, bearer);
    answer = () => ({
      status: 500,
      body: JSON.stringify({ error: { code: 'INTERNAL', message: 'see errorId e1' } }),
    });
    await expect(api.active()).rejects.toMatchObject({
      code: PolicyCliErrorCode.GATEWAY_UNREACHABLE,
      message: 'cannot read policy versions: the gateway answered 500: see errorId e1',
    });

    answer = () => ({ status: 200, body: '<html>sign in to the proxy</html>' });
    await expect(api.active()).rejects.toMatchObject({
      message: expect.stringContaining('answered 200 without JSON: is'),
    });
  });
});
