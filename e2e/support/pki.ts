import 'reflect-metadata';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** A certificate and its private key as PEM files, with what a test compares the gateway against. */
export interface Credential {
  /** Path of the PEM certificate. */
  cert: string;
  /** Path of the PEM (PKCS#8) private key. */
  key: string;
  /** RFC 8705 `x5t#S256`: base64url SHA-256 of the DER, computed here, not by the gateway. */
  thumbprint: string;
}

/** A client certificate with a plain `O`, `CN` subject. */
export interface NamedCredential extends Credential {
  /** The subject as RFC 4514 writes it (most specific first): `CN=alice-laptop,O=Gatehouse Tests`. */
  subject: string;
}

/** One attribute-value pair of a distinguished name, e.g. `{ CN: 'alice' }`; several make a multi-valued RDN. */
export type Rdn = Record<string, string>;

/** A throwaway PKI for one test file, in its own temp directory. */
export interface TestPki {
  dir: string;
  /** PEM of the CA the gateway trusts for client certificates (it also signed the server's). */
  caCert: string;
  /** The gateway's certificate for `127.0.0.1` and `localhost`. */
  server: Credential;
  /** Client certificates issued by the trusted CA. */
  client: NamedCredential;
  otherClient: NamedCredential;
  /** Issued by the trusted CA, expired since yesterday. */
  expiredClient: NamedCredential;
  /** Issued by a CA the gateway does not trust. */
  foreignClient: NamedCredential;
  /** Another client certificate from the trusted CA, its subject RDNs in certificate (DER) order. */
  issueClient(file: string, subject: Rdn[]): Promise<Credential>;
  remove(): void;
}

const KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;

interface Authority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/**
 * Issues a CA, a server certificate and client certificates with WebCrypto and
 * `@peculiar/x509` (no `openssl` binary needed) into a fresh temp directory.
 */
export async function makeTestPki(): Promise<TestPki> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'));
  const ca = await authority([{ O: 'Gatehouse Tests' }, { CN: 'Gatehouse Test CA' }]);
  const foreign = await authority([{ O: 'Elsewhere' }, { CN: 'Some Other CA' }]);
  const clientUse = (): x509.Extension[] => [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ];
  const named = async (
    file: string,
    org: string,
    cn: string,
    issuer: Authority,
    notAfter?: number,
  ): Promise<NamedCredential> => ({
    ...(await issue(dir, file, [{ O: org }, { CN: cn }], issuer, clientUse(), notAfter)),
    subject: `CN=${cn},O=${org}`,
  });
  const caCert = join(dir, 'ca.crt');
  writeFileSync(caCert, ca.cert.toString('pem'));
  return {
    dir,
    caCert,
    server: await issue(dir, 'server', [{ O: 'Gatehouse Tests' }, { CN: 'localhost' }], ca, [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ]),
    client: await named('alice', 'Gatehouse Tests', 'alice-laptop', ca),
    otherClient: await named('bob', 'Gatehouse Tests', 'bob-laptop', ca),
    expiredClient: await named('expired', 'Gatehouse Tests', 'expired-laptop', ca, Date.now() - DAY),
    foreignClient: await named('foreign', 'Elsewhere', 'foreign-laptop', foreign),
    issueClient: (file, subject) => issue(dir, file, subject, ca, clientUse()),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function authority(name: Rdn[]): Promise<Authority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: jsonName(name),
    notBefore: new Date(Date.now() - 2 * DAY),
    notAfter: new Date(Date.now() + 2 * DAY),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function issue(
  dir: string,
  file: string,
  subject: Rdn[],
  issuer: Authority,
  extensions: x509.Extension[],
  notAfter = Date.now() + 2 * DAY,
): Promise<Credential> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: jsonName(subject),
    issuer: issuer.cert.subject,
    notBefore: new Date(notAfter - 3 * DAY),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
      ...extensions,
    ],
  });
  const certPath = join(dir, `${file}.crt`);
  const keyPath = join(dir, `${file}.key`);
  const pem = cert.toString('pem');
  writeFileSync(certPath, pem);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  writeFileSync(keyPath, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600 });
  const der = new X509Certificate(pem).raw;
  return { cert: certPath, key: keyPath, thumbprint: createHash('sha256').update(der).digest('base64url') };
}

function jsonName(rdns: Rdn[]): x509.JsonName {
  return rdns.map((rdn) => Object.fromEntries(Object.entries(rdn).map(([type, value]) => [type, [value]])));
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY, true, ['sign', 'verify']);
}

/** A positive 16-byte serial (top bit clear, so DER needs no sign byte). */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
