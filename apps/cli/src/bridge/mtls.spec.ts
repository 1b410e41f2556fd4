import { FAST_RETRY, startHost, type Host } from './__tests__/host';
import { makeTestPki, type TestPki } from './__tests__/certs';
import { TestMcpServer } from './__tests__/mcp-server';

/**
 * The compiled bridge against a real SDK MCP server on HTTPS that requires a
 * client certificate, with a CA and certificates made by openssl for this run.
 */
describe('gatehouse bridge with mutual TLS', () => {
  let pki: TestPki;
  let upstream: TestMcpServer;
  let host: Host | undefined;

  beforeAll(async () => {
    pki = makeTestPki();
    upstream = await new TestMcpServer({
      tls: {
        cert: pki.read(pki.serverCert),
        key: pki.read(pki.serverKey),
        ca: pki.read(pki.caCert),
        requestCert: true,
        rejectUnauthorized: true,
      },
    }).start();
  });

  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  afterAll(async () => {
    await upstream.kill();
    pki.remove();
  });

  it('connects with --cert, --key and --ca to a gateway that requires client certificates', async () => {
    host = await startHost(upstream.url, {
      args: ['--cert', pki.clientCert, '--key', pki.clientKey, '--ca', pki.caCert],
    });

    const result = await host.client.callTool({ name: 'echo', arguments: { text: 'over mTLS' } });

    expect((result.content as Array<{ text: string }>)[0]?.text).toBe('echo: over mTLS');
    expect(upstream.calls('tools/call').at(-1)?.clientCertCn).toBe('bridge-test-client');
  });

  it('fails clearly, without retrying, when no client certificate is given', async () => {
    const before = upstream.seen.length;

    const attempt = startHost(upstream.url, { args: ['--ca', pki.caCert, ...FAST_RETRY] });

    await expect(attempt).rejects.toThrow(
      /Gatehouse bridge: cannot connect to the gateway.*requires a client certificate \(pass --cert and --key\)/,
    );
    expect(upstream.seen.length).toBe(before);
  });

  it('fails clearly when the client certificate comes from a CA the gateway does not trust', async () => {
    const attempt = startHost(upstream.url, {
      args: ['--cert', pki.strangerCert, '--key', pki.strangerKey, '--ca', pki.caCert, ...FAST_RETRY],
    });

    await expect(attempt).rejects.toThrow(/does not accept the client certificate given with --cert/);
  });

  it('refuses a gateway whose certificate it cannot verify when --ca is missing', async () => {
    const attempt = startHost(upstream.url, {
      args: ['--cert', pki.clientCert, '--key', pki.clientKey, ...FAST_RETRY],
    });

    await expect(attempt).rejects.toThrow(
      /cannot connect to the gateway.*(self-signed|unable to verify|certificate)/i,
    );
  });
});
