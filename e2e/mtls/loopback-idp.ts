import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';

/**
 * A discovery document and key set on loopback, and a signer for them. The gateway discovers and
 * validates exactly as it would against a real IdP; the tokens are forged here because no IdP
 * in this repository issues certificate-bound (RFC 8705 `cnf`) access tokens.
 */
export class LoopbackIdp {
  issuer = '';
  private server!: Server;
  private privateKey!: KeyLike;
  private jwk!: JWK;

  static async start(): Promise<LoopbackIdp> {
    const idp = new LoopbackIdp();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    idp.privateKey = privateKey;
    idp.jwk = { ...(await exportJWK(publicKey)), kid: 'mtls-test', alg: 'ES256', use: 'sig' };
    idp.server = createServer((req, res) => {
      const json = (body: unknown) =>
        void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/openid-configuration') {
        return json({
          issuer: idp.issuer,
          jwks_uri: `${idp.issuer}/jwks`,
          authorization_endpoint: `${idp.issuer}/auth`,
          token_endpoint: `${idp.issuer}/token`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
        });
      }
      if (req.url === '/jwks') return json({ keys: [idp.jwk] });
      res.writeHead(404).end();
    });
    await new Promise<void>((ok) => idp.server.listen(0, '127.0.0.1', ok));
    idp.issuer = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
    return idp;
  }

  /** An access token for `audience`, valid five minutes; `claims` add to or override the defaults. */
  async token(audience: string, claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'alice', iss: this.issuer, aud: audience, iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'mtls-test', typ: 'at+jwt' })
      .sign(this.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
}
