import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createTcpServer,
  connect as tcpConnect,
  type AddressInfo,
  type Socket,
} from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { makeTestPki, type Credential, type TestPki } from '../../../e2e/support/pki';
import { connectionCertificate, distinguishedName } from './mtls';

/**
 * Real TLS connections on loopback, with certificates from a throwaway CA: what the listener's
 * TLS layer reports is read exactly as the gateway reads it.
 */
describe('connectionCertificate', () => {
  let pki: TestPki;
  let server: Server;
  let port: number;
  /** The server side of each accepted connection, in order. */
  const accepted: TLSSocket[] = [];
  const waiting: Array<(s: TLSSocket) => void> = [];
  const open = new Set<TLSSocket>();

  beforeAll(async () => {
    pki = await makeTestPki();
    server = createServer(
      {
        cert: readFileSync(pki.server.cert),
        key: readFileSync(pki.server.key),
        ca: readFileSync(pki.caCert),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (socket) => {
        socket.on('error', () => undefined);
        open.add(socket);
        const next = waiting.shift();
        if (next) next(socket);
        else accepted.push(socket);
      },
    );
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise((ok) => server.close(ok));
    pki.remove();
  });

  /** Opens a client connection (with `credential`, if given) and returns the server's side of it. */
  async function serverSideOf(credential?: Credential, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3') {
    const serverSide = new Promise<TLSSocket>((ok) => {
      const ready = accepted.shift();
      if (ready) ok(ready);
      else waiting.push(ok);
    });
    const client = connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.caCert),
      maxVersion,
      ...(credential ? { cert: readFileSync(credential.cert), key: readFileSync(credential.key) } : {}),
    });
    client.on('error', () => undefined);
    await new Promise<void>((ok) => client.once('secureConnect', ok));
    return { server: await serverSide, client };
  }

  it('reports a verified certificate with its subject, issuer, serial and RFC 8705 thumbprint', async () => {
    const { server: socket, client } = await serverSideOf(pki.client);

    const { certificate, rejected } = connectionCertificate(socket);

    expect(rejected).toBe(false);
    expect(certificate).toEqual({
      subject: 'CN=alice-laptop,O=Gatehouse Tests',
      issuer: 'CN=Gatehouse Test CA,O=Gatehouse Tests',
      serialNumber: new X509Certificate(readFileSync(pki.client.cert)).serialNumber,
      thumbprint: pki.client.thumbprint,
    });
    client.destroy();
  });

  it('tells two certificates of the same CA apart by thumbprint', async () => {
    const a = await serverSideOf(pki.client);
    const b = await serverSideOf(pki.otherClient);

    expect(connectionCertificate(b.server).certificate?.thumbprint).toBe(pki.otherClient.thumbprint);
    expect(connectionCertificate(a.server).certificate?.thumbprint).not.toBe(pki.otherClient.thumbprint);
    a.client.destroy();
    b.client.destroy();
  });

  it('reports a certificate from a foreign CA as rejected, without an identity, and says why', async () => {
    const { server: socket, client } = await serverSideOf(pki.foreignClient);

    const result = connectionCertificate(socket);

    expect(result.rejected).toBe(true);
    expect(result.certificate).toBeUndefined();
    expect(result.refusal).toEqual({
      reason: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/),
      subject: pki.foreignClient.subject,
      issuer: 'CN=Some Other CA,O=Elsewhere',
    });
    client.destroy();
  });

  it('reports an expired certificate of the trusted CA as rejected (CERT_HAS_EXPIRED)', async () => {
    const { server: socket, client } = await serverSideOf(pki.expiredClient);

    const result = connectionCertificate(socket);

    expect(result).toMatchObject({ rejected: true, refusal: { reason: 'CERT_HAS_EXPIRED' } });
    expect(result.certificate).toBeUndefined();
    client.destroy();
  });

  it('reports nothing for a TLS connection without a client certificate', async () => {
    const { server: socket, client } = await serverSideOf();

    expect(connectionCertificate(socket)).toEqual({ rejected: false });
    client.destroy();
  });

  it('reports nothing for a plain TCP connection', async () => {
    const plain = createTcpServer();
    const accepted = new Promise<Socket>((ok) => plain.once('connection', ok));
    await new Promise<void>((ok) => plain.listen(0, '127.0.0.1', ok));
    const client = tcpConnect((plain.address() as AddressInfo).port, '127.0.0.1');

    expect(connectionCertificate(await accepted)).toEqual({ rejected: false });
    client.destroy();
    await new Promise((ok) => plain.close(ok));
  });

  it('escapes subject values so a CN cannot forge another RDN', async () => {
    const forged = await pki.issueClient('forged', [
      { O: 'Acme' },
      { CN: 'mallory,O=Admins' },
      { CN: 'x\nO=Root' },
    ]);
    const { server: socket, client } = await serverSideOf(forged);

    expect(connectionCertificate(socket).certificate?.subject).toBe(
      'CN=x\\0AO=Root,CN=mallory\\,O=Admins,O=Acme',
    );
    client.destroy();
  });

  it('reads a connection once and refuses TLS 1.2 renegotiation afterwards, so the answer cannot go stale', async () => {
    const { server: socket, client } = await serverSideOf(pki.client, 'TLSv1.2');
    const first = connectionCertificate(socket);

    const outcome = await new Promise<string | undefined>((ok) => {
      socket.once('error', (err: Error & { code?: string }) => ok(err.code));
      client.renegotiate({ rejectUnauthorized: false }, (err) => {
        if (!err) ok('renegotiated');
      });
    });

    expect(outcome).toBe('ERR_TLS_RENEGOTIATION_DISABLED');
    expect(connectionCertificate(socket)).toBe(first);
    client.destroy();
  });
});

describe('distinguishedName', () => {
  it.each([
    ['', ''],
    ['CN=alice', 'CN=alice'],
    ['C=DE\nO=Example\nCN=alice', 'CN=alice,O=Example,C=DE'],
    ['O=Acme + OU=ops\nCN=multi', 'CN=multi,O=Acme+OU=ops'],
    ['OU=b\nOU=a\nCN=dup', 'CN=dup,OU=a,OU=b'],
    ['O=Acme\nCN=evil\\,O=Admins', 'CN=evil\\,O=Admins,O=Acme'],
  ])('writes %j as %j (RFC 4514: most specific RDN first)', (multiline, expected) => {
    expect(distinguishedName(multiline)).toBe(expected);
  });
});
