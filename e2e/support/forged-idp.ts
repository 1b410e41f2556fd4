import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';

export interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicKey: KeyLike;
  jwk: JWK;
}

/**
 * A loopback stand-in for an IdP's discovery document and key set, for the attack table: it
 * signs tokens no real IdP would (wrong audience, forged headers, bound to certificates), and
 * can be switched off to play an IdP outage. Happy paths use the real oidc-provider instead.
 */
export class ForgedIdp {
  issuer = '';
  jwksFetches = 0;
  discoveryFetches = 0;
  up = true;
  keys: SigningKey[] = [];
  private server!: Server;

  static async start(): Promise<ForgedIdp> {
    const idp = new ForgedIdp();
    idp.server = createServer((req, res) => {
      if (!idp.up) return void res.writeHead(503).end();
      if (req.url === '/.well-known/openid-configuration') {
        idp.discoveryFetches++;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer: idp.issuer,
            jwks_uri: `${idp.issuer}/jwks`,
            authorization_endpoint: `${idp.issuer}/auth`,
            token_endpoint: `${idp.issuer}/token`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
          }),
        );
      }
      if (req.url === '/jwks') {
        idp.jwksFetches++;
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ keys: idp.keys.map((k) => k.jwk) }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((ok) => idp.server.listen(0, '127.0.0.1', ok));
    idp.issuer = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
    idp.keys = [await newKey('k1')];
    return idp;
  }

  get key(): SigningKey {
    return this.keys[0] as SigningKey;
  }

  /** A token for `audience` signed with `key` (default the published one); claims and header override. */
  async sign(
    audience: string,
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key: SigningKey = this.key,
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'alice',
      scope: 'mcp',
      iss: this.issuer,
      aud: audience,
      iat: now,
      exp: now + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, ...header })
      .sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
}

export async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}
