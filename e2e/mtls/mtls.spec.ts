import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ConfigError, parseConfigText } from '@gatehouse/config';
import { eventually, FAST_RETRY, startHost, type Host } from '../../apps/cli/src/bridge/__tests__/host';
import { startGateway } from '../../apps/gateway/src/bootstrap';
import { makeTestPki, type Credential, type TestPki } from '../support/pki';
import { gatewayWith, initializeBody, serverBin } from '../transport/helpers';
import { ForgedIdp } from '../support/forged-idp';

type Gateway = Awaited<ReturnType<typeof gatewayWith>>;
type Mode = 'off' | 'optional' | 'required';

const UPSTREAMS = `upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(serverBin('@modelcontextprotocol/server-everything'))}, stdio]
`;
const AUDIENCE = 'https://gatehouse.mtls.test/mcp';

/**
 * Issue 3 point 8: the gateway's HTTPS listener with client certificates, and RFC 8705
 * certificate-bound tokens. Real gateway (in process, on real Postgres), real `gatehouse bridge`
 * (the compiled CLI: `npm run build` first) driven by a real SDK client, real `everything`
 * upstream; the CA and certificates are made for this run. Only the IdP is a stand-in (a
 * discovery document and JWKS on loopback), because no IdP here issues certificate-bound tokens.
 */
let pki: TestPki;
const hosts: Host[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
});

afterEach(async () => {
  for (const host of hosts.splice(0)) await host.close();
});

afterAll(() => pki.remove());

/** `server:` keys for gatewayWith: the listener's certificate and the client-certificate mode. */
function tlsKeys(mode: Mode, extra: string[] = []): string[] {
  return [
    ...extra,
    'tls:',
    `  certFile: ${JSON.stringify(pki.server.cert)}`,
    `  keyFile: ${JSON.stringify(pki.server.key)}`,
    ...(mode === 'off' ? [] : [`  clientCaFile: ${JSON.stringify(pki.caCert)}`]),
    `  clientCertificate: ${mode}`,
  ];
}

/** Bridge arguments: trust the test CA, and present `credential` when given. */
function bridgeArgs(credential?: Credential): string[] {
  return [...(credential ? ['--cert', credential.cert, '--key', credential.key] : []), '--ca', pki.caCert];
}

async function bridge(gateway: Gateway, args: string[], env: Record<string, string> = {}): Promise<Host> {
  const host = await startHost(`${gateway.url}/mcp`, { args, env });
  hosts.push(host);
  return host;
}

async function echo(host: Host, message: string): Promise<unknown> {
  const result = await host.client.callTool({ name: 'everything__echo', arguments: { message } });
  return result.content;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON-RPC shapes
  json: any;
}

/** One HTTPS request straight to the gateway (no bridge), presenting `credential` when given. */
async function https(
  gateway: Gateway,
  options: { credential?: Credential; path?: string; token?: string } = {},
): Promise<Answer> {
  const { credential, path = '/mcp', token } = options;
  const agent = new Agent({
    connect: {
      ca: readFileSync(pki.caCert),
      ...(credential ? { cert: readFileSync(credential.cert), key: readFileSync(credential.key) } : {}),
    },
  });
  try {
    const post = path === '/mcp';
    const res = await request(`${gateway.url}${path}`, {
      dispatcher: agent,
      method: post ? 'POST' : 'GET',
      headers: {
        accept: 'application/json, text/event-stream',
        ...(post ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(post ? { body: initializeBody() } : {}),
    });
    const text = await res.body.text();
    const data = text.split('\n').find((l) => l.startsWith('data: '));
    let json: unknown = data ? data.slice(6) : text;
    try {
      json = JSON.parse(json as string);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.statusCode, headers: res.headers, json };
  } finally {
    await agent.close();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- pino lines are arbitrary JSON
function logLines(gateway: Gateway): any[] {
  return gateway.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

async function logged(
  gateway: Gateway,
  msg: string,
  match: (line: Record<string, unknown>) => boolean = () => true,
) {
  await eventually(() => logLines(gateway).some((l) => l.msg === msg && match(l)), `log line "${msg}"`);
  return logLines(gateway).filter((l) => l.msg === msg && match(l));
}

describe('HTTPS listener with clientCertificate: required', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await gatewayWith(UPSTREAMS, {}, tlsKeys('required'));
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('listens on https:// and logs that client certificates are required', async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const [line] = await logged(gateway, 'listening over HTTPS, client certificates required');
    expect(line).toMatchObject({
      url: gateway.url,
      tls: true,
      clientCertificate: 'required',
      clientCaFile: pki.caCert,
    });
  });

  it('calls a tool through the bridge that presents a certificate from the trusted CA', async () => {
    const host = await bridge(gateway, bridgeArgs(pki.client));

    expect(await echo(host, 'over mTLS')).toEqual([{ type: 'text', text: 'Echo: over mTLS' }]);
  });

  it('refuses the bridge without a client certificate in the handshake, and the bridge says to pass --cert', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, { args: [...bridgeArgs(), ...FAST_RETRY] });

    await expect(attempt).rejects.toThrow(/requires a client certificate \(pass --cert and --key\)/);
    await logged(gateway, 'TLS handshake failed');
  });

  it('refuses a certificate from a foreign CA in the handshake', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, {
      args: [...bridgeArgs(pki.foreignClient), ...FAST_RETRY],
    });

    await expect(attempt).rejects.toThrow(/does not accept the client certificate given with --cert/);
  });

  it('refuses an expired certificate of the trusted CA in the handshake', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, {
      args: [...bridgeArgs(pki.expiredClient), ...FAST_RETRY],
    });

    await expect(attempt).rejects.toThrow(/does not accept the client certificate given with --cert/);
  });
});

describe('HTTPS listener with clientCertificate: optional', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await gatewayWith(UPSTREAMS, {}, tlsKeys('optional'));
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('logs that client certificates are optional', async () => {
    await logged(gateway, 'listening over HTTPS, client certificates optional');
  });

  it('calls a tool through the bridge with a certificate from the trusted CA', async () => {
    const host = await bridge(gateway, bridgeArgs(pki.client));

    expect(await echo(host, 'with a certificate')).toEqual([
      { type: 'text', text: 'Echo: with a certificate' },
    ]);
  });

  it('calls a tool through the bridge without a certificate', async () => {
    const host = await bridge(gateway, bridgeArgs());

    expect(await echo(host, 'without one')).toEqual([{ type: 'text', text: 'Echo: without one' }]);
  });

  it('logs a refused certificate once per connection, with what it claims to be', async () => {
    await https(gateway, { credential: pki.foreignClient });

    const [line] = await logged(gateway, 'client certificate refused');
    expect(line).toMatchObject({
      level: 40,
      certificate: {
        reason: expect.stringMatching(/^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/),
        subject: pki.foreignClient.subject,
        issuer: 'CN=Some Other CA,O=Elsewhere',
      },
    });
  });

  it('answers a foreign-CA certificate with an RFC 6750 invalid_token challenge and a JSON-RPC error', async () => {
    const answer = await https(gateway, { credential: pki.foreignClient });

    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(
      /^Bearer error="invalid_token", error_description="the client certificate does not verify/,
    );
    expect(answer.json).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32001, data: { reason: 'UNAUTHENTICATED', auth: 'CERTIFICATE_INVALID' } },
    });
  });

  it('refuses an unverifiable certificate on every route, not only /mcp', async () => {
    const healthy = await https(gateway, { path: '/healthz' });
    const refused = await https(gateway, { path: '/healthz', credential: pki.foreignClient });

    expect(healthy.status).toBe(200);
    expect(refused.status).toBe(401);
  });

  it('says why an expired certificate of the trusted CA is refused', async () => {
    const answer = await https(gateway, { credential: pki.expiredClient });

    expect(answer.status).toBe(401);
    expect(answer.json.error.message).toMatch(/does not verify \(CERT_HAS_EXPIRED\)/);
  });
});

describe('HTTPS listener with clientCertificate: off', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await gatewayWith(UPSTREAMS, {}, tlsKeys('off', ['headersTimeoutMs: 1500']));
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('serves MCP over HTTPS to a bridge that only trusts the CA', async () => {
    const host = await bridge(gateway, bridgeArgs());

    expect(await echo(host, 'plain TLS')).toEqual([{ type: 'text', text: 'Echo: plain TLS' }]);
    await logged(gateway, 'listening over HTTPS, client certificates off');
  });

  it('cuts a connection that never starts its TLS handshake after headersTimeoutMs, not two minutes (R41)', async () => {
    const { port } = new URL(gateway.url);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);

    // Jest's 60 s test timeout fails this if Node's 120 s default handshake timeout applied.
    await new Promise((closed) => socket.once('close', closed));
    await logged(gateway, 'TLS handshake failed', (l) => l.code === 'ERR_TLS_HANDSHAKE_TIMEOUT');
  });
});

describe('certificate-bound tokens (RFC 8705 cnf x5t#S256)', () => {
  let gateway: Gateway;
  let idp: ForgedIdp;
  let bound: string;
  let unbound: string;

  beforeAll(async () => {
    idp = await ForgedIdp.start();
    gateway = await gatewayWith(
      `auth:\n  mode: oidc\n  issuer: ${idp.issuer}\n  audience: ${AUDIENCE}\n${UPSTREAMS}`,
      {},
      tlsKeys('optional'),
    );
    bound = await idp.sign(AUDIENCE, { cnf: { 'x5t#S256': pki.client.thumbprint } });
    unbound = await idp.sign(AUDIENCE, { sub: 'bob' });
  });

  afterAll(async () => {
    await gateway?.close();
    await idp?.stop();
  });

  const opened = (subject: string) =>
    logged(
      gateway,
      'session opened',
      (l) => (l.principal as { subject?: string } | undefined)?.subject === subject,
    );

  it('accepts a bound token over a connection with that certificate, whose subject reaches the principal', async () => {
    const host = await bridge(gateway, bridgeArgs(pki.client), { GATEHOUSE_TOKEN: bound });

    expect(await echo(host, 'bound')).toEqual([{ type: 'text', text: 'Echo: bound' }]);
    const [line] = await opened('alice');
    expect(line.principal).toMatchObject({ kind: 'user', certificate: pki.client.subject });
  });

  it('refuses the bound token over a connection with another certificate of the same CA', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, {
      args: [...bridgeArgs(pki.otherClient), ...FAST_RETRY],
      env: { GATEHOUSE_TOKEN: bound },
    });

    await expect(attempt).rejects.toThrow(
      /refused this connection's client certificate; check --cert and --key.*HTTP 401.*bound to a different client certificate/,
    );
    const answer = await https(gateway, { credential: pki.otherClient, token: bound });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('refuses the bound token over a connection without a certificate', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, {
      args: [...bridgeArgs(), ...FAST_RETRY],
      env: { GATEHOUSE_TOKEN: bound },
    });

    await expect(attempt).rejects.toThrow(
      /refused this connection's client certificate.*HTTP 401.*bound to a client certificate this connection did not present/,
    );
    const answer = await https(gateway, { token: bound });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('accepts an unbound token with any trusted certificate or none, and names the certificate when there is one', async () => {
    const withCert = await https(gateway, { credential: pki.otherClient, token: unbound });
    const without = await https(gateway, { token: unbound });

    expect([withCert.status, without.status]).toEqual([200, 200]);
    const lines = await opened('bob');
    expect(lines.map((l) => (l.principal as { certificate?: string }).certificate)).toEqual([
      pki.otherClient.subject,
      undefined,
    ]);
  });

  it('refuses the bridge with a foreign-CA certificate and a valid token, and the host learns why', async () => {
    const attempt = startHost(`${gateway.url}/mcp`, {
      args: [...bridgeArgs(pki.foreignClient), ...FAST_RETRY],
      env: { GATEHOUSE_TOKEN: unbound },
    });

    await expect(attempt).rejects.toThrow(
      /refused this connection's client certificate.*HTTP 401.*the client certificate does not verify \(UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)/,
    );
  });

  it('refuses a foreign-CA certificate even alongside a valid token', async () => {
    const answer = await https(gateway, { credential: pki.foreignClient, token: unbound });

    expect(answer.status).toBe(401);
    expect(answer.json.error.data.auth).toBe('CERTIFICATE_INVALID');
  });
});

describe('start-up with server.tls', () => {
  /** Starts a gateway with this `tls:` block; every case here fails before anything listens. */
  async function startWith(tls: Record<string, string>): Promise<unknown> {
    const block = Object.entries(tls)
      .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`)
      .join('');
    const loaded = parseConfigText(`server:\n  port: 0\n  tls:\n${block}auth:\n  mode: none\n`, {});
    return startGateway(loaded).then(
      async (gateway) => {
        await gateway.close();
        throw new Error('the gateway started');
      },
      (err: unknown) => err,
    );
  }

  const files = () => ({ certFile: pki.server.cert, keyFile: pki.server.key });

  it.each([
    [
      'certFile',
      'does not exist',
      () => ({ ...files(), certFile: join(pki.dir, 'missing.crt') }),
      /cannot read ".*missing\.crt" \(ENOENT\)/,
    ],
    [
      'keyFile',
      'does not exist',
      () => ({ ...files(), keyFile: join(pki.dir, 'missing.key') }),
      /cannot read ".*missing\.key" \(ENOENT\)/,
    ],
    [
      'certFile',
      'is a key, not a certificate',
      () => ({ ...files(), certFile: pki.server.key }),
      /is not usable/,
    ],
    [
      'keyFile',
      'belongs to another certificate',
      () => ({ ...files(), keyFile: pki.client.key }),
      /is not usable.*Fix: give the private key that belongs to certFile/s,
    ],
    [
      'clientCaFile',
      'does not exist',
      () => ({ ...files(), clientCertificate: 'required', clientCaFile: join(pki.dir, 'missing-ca.pem') }),
      /cannot read ".*missing-ca\.pem" \(ENOENT\)/,
    ],
    [
      'clientCaFile',
      'holds no certificate',
      () => ({ ...files(), clientCertificate: 'optional', clientCaFile: pki.server.key }),
      /holds no PEM certificate/,
    ],
  ])('refuses to start, naming server.tls.%s, when that file %s', async (key, _case, tls, reason) => {
    const err = await startWith(tls());

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([expect.objectContaining({ key: `server.tls.${key}` })]);
    expect((err as ConfigError).message).toMatch(reason);
  });

  it('refuses a client CA bundle with a certificate that does not parse', async () => {
    const broken = join(pki.dir, 'broken-ca.pem');
    writeFileSync(
      broken,
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );

    const err = await startWith({ ...files(), clientCertificate: 'required', clientCaFile: broken });

    expect((err as ConfigError).message).toMatch(
      /server\.tls\.clientCaFile.*certificate 1 in ".*broken-ca\.pem" cannot be parsed/,
    );
  });
});
