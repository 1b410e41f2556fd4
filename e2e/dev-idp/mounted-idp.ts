import { parseArgs } from 'node:util';

import Fastify from 'fastify';

import { loadDevIdp, mountDevIdp, type DevIdp } from '../../libs/auth/src/dev-idp';

/**
 * A bare Fastify server with the development IdP mounted under /dev-idp, as the gateway mounts it in
 * dev mode, plus the gateway's RFC 9728 metadata. Run from dist/ by the tests (Jest cannot load
 * oidc-provider); prints one JSON line `{url, issuer, resource, secrets}` once it serves.
 *   --data-dir <dir>      where the IdP writes dev-idp/secrets.json
 *   --without-metadata    no /.well-known/oauth-protected-resource (a gateway without authentication)
 *   --broken              the IdP fails to start (its routes must answer 503, the app keeps serving)
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      'without-metadata': { type: 'boolean', default: false },
      broken: { type: 'boolean', default: false },
    },
  });
  console.log = console.info = console.warn = console.error;
  const app = Fastify();
  let started!: (idp: DevIdp) => void;
  let failed!: (error: unknown) => void;
  const idp = new Promise<DevIdp>((ok, fail) => {
    started = ok;
    failed = fail;
  });
  mountDevIdp(app, '/dev-idp', idp);

  let url = '';
  if (!values['without-metadata']) {
    app.get('/.well-known/oauth-protected-resource', async () => ({
      resource: `${url}/mcp`,
      authorization_servers: [`${url}/dev-idp`],
    }));
    app.get('/.well-known/oauth-protected-resource/mcp', async () => ({
      resource: `${url}/mcp`,
      authorization_servers: [`${url}/dev-idp`],
    }));
  }
  // A route outside the mount: the app's own JSON parsing must be untouched by the IdP's plugin.
  app.post('/echo', async (request) => ({ received: request.body }));
  // Lets a test see what the IdP does once closed (as on gateway shutdown).
  app.post('/close-idp', async () => {
    await (await idp).close();
    return { closed: true };
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  if (values.broken) {
    failed(new Error('the signing keys are unreadable'));
    process.once('SIGTERM', () => void app.close());
    process.stdout.write(
      `${JSON.stringify({ url, issuer: `${url}/dev-idp`, resource: `${url}/mcp`, secrets: {} })}\n`,
    );
    return;
  }
  // Through the lib's door, as the gateway loads it: oidc-provider only on first use.
  loadDevIdp({
    issuer: `${url}/dev-idp`,
    resource: `${url}/mcp`,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
  }).then(started, failed);
  const running = await idp;

  const stop = () => void Promise.all([running.close(), app.close()]);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(
    `${JSON.stringify({ url, issuer: running.issuer, resource: `${url}/mcp`, secrets: running.secrets })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `mounted-idp: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
