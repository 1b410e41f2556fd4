import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { AuthErrorCode, TokenValidator } from './token-validator';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'https://gatehouse.example.test/mcp';

/**
 * A JWKS endpoint on loopback that counts its fetches and can be switched off. The keys and
 * tokens are forged here on purpose: the attack table needs tokens no real IdP would sign
 * (the identity issue adds a real oidc-provider for the happy paths).
 */
class Jwks {
  fetches = 0;
  up = true;
  keys: JWK[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((_req, res) => {
      this.fetches++;
      if (!this.up) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
}

async function keyPair(
  kid: string,
): Promise<{ kid: string; privateKey: KeyLike; publicKey: KeyLike; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

const nowSec = () => Math.floor(Date.now() / 1000);

async function sign(
  key: { kid: string; privateKey: KeyLike },
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, ...header })
    .setIssuer((claims.iss as string) ?? ISSUER)
    .setAudience((claims.aud as string) ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime((claims.exp as number) ?? nowSec() + 300)
    .sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('TokenValidator', () => {
  const jwks = new Jwks();
  let k1: Awaited<ReturnType<typeof keyPair>>;
  let validator: TokenValidator;

  const expectRefused = async (token: string, code: AuthErrorCode, v = validator) =>
    expect(v.validate(token)).rejects.toMatchObject({ code });

  beforeAll(async () => {
    await jwks.start();
    k1 = await keyPair('k1');
    jwks.keys = [k1.jwk];
    validator = new TokenValidator({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      jwksUri: jwks.url,
      jwksCooldownMs: 60_000,
    });
  });
  afterAll(async () => jwks.stop());

  it('accepts a token from the issuer, for this gateway, signed with a published key', async () => {
    const result = await validator.validate(await sign(k1, { groups: ['data-platform'] }));
    expect(result.claims.sub).toBe('alice');
    expect(result.claims.groups).toEqual(['data-platform']);
  });

  it('R1: refuses a token whose aud is another resource', async () => {
    await expectRefused(
      await sign(k1, { aud: 'https://other.example.test' }),
      AuthErrorCode.AUDIENCE_MISMATCH,
    );
  });

  describe('R3: algorithm attacks', () => {
    it('refuses alg=none', async () => {
      const token = `${b64({ alg: 'none', kid: 'k1' })}.${b64({ sub: 'eve', iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 300 })}.`;
      await expectRefused(token, AuthErrorCode.ALGORITHM_NOT_ALLOWED);
    });

    it('refuses RS→HS confusion (HS256 keyed with the public key)', async () => {
      const pem = await exportSPKI(k1.publicKey);
      const token = await new SignJWT({ sub: 'eve' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime(nowSec() + 300)
        .sign(new TextEncoder().encode(pem));
      await expectRefused(token, AuthErrorCode.ALGORITHM_NOT_ALLOWED);
    });

    it('refuses a stripped signature', async () => {
      const [h, p] = (await sign(k1)).split('.');
      await expectRefused(`${h}.${p}.`, AuthErrorCode.SIGNATURE_INVALID);
    });

    it('refuses the right kid signed with the wrong key', async () => {
      const impostor = await keyPair('k1');
      await expectRefused(await sign(impostor), AuthErrorCode.SIGNATURE_INVALID);
    });

    it('refuses an unknown kid', async () => {
      const stranger = await keyPair('nobody-publishes-this');
      await expectRefused(await sign(stranger), AuthErrorCode.KEY_UNKNOWN);
    });

    it('refuses to be configured with none or HMAC algorithms', () => {
      for (const algorithms of [['none'], ['HS256'], ['RS256', 'HS512'], []]) {
        expect(
          () => new TokenValidator({ issuer: ISSUER, audience: AUDIENCE, algorithms, jwksUri: jwks.url }),
        ).toThrow();
      }
    });
  });

  describe('R4: issuer and time', () => {
    it('requires the issuer exactly', async () => {
      await expectRefused(await sign(k1, { iss: `${ISSUER}/` }), AuthErrorCode.ISSUER_MISMATCH);
      await expectRefused(await sign(k1, { iss: 'https://IDP.example.test' }), AuthErrorCode.ISSUER_MISMATCH);
    });

    it('accepts exp 59 s in the past and refuses it 61 s in the past', async () => {
      await expect(validator.validate(await sign(k1, { exp: nowSec() - 59 }))).resolves.toBeDefined();
      await expectRefused(await sign(k1, { exp: nowSec() - 61 }), AuthErrorCode.EXPIRED);
    });

    it('accepts nbf 59 s in the future and refuses it 61 s in the future', async () => {
      await expect(validator.validate(await sign(k1, { nbf: nowSec() + 59 }))).resolves.toBeDefined();
      await expectRefused(await sign(k1, { nbf: nowSec() + 61 }), AuthErrorCode.NOT_YET_VALID);
    });

    it('never allows more than 60 s of skew, whatever is configured', async () => {
      const lax = new TokenValidator({
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        jwksUri: jwks.url,
        clockToleranceSec: 600,
      });
      await expectRefused(await sign(k1, { exp: nowSec() - 120 }), AuthErrorCode.EXPIRED, lax);
    });

    it('refuses a token it accepted before once it has expired', async () => {
      const token = await sign(k1, { exp: nowSec() + 30 });
      await validator.validate(token);
      await expect(validator.validate(token, Date.now() + 200_000)).rejects.toMatchObject({
        code: AuthErrorCode.EXPIRED,
      });
    });
  });

  it('requires the configured typ when one is set', async () => {
    const strict = new TokenValidator({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      jwksUri: jwks.url,
      typ: 'at+jwt',
    });
    await expect(strict.validate(await sign(k1, {}, { typ: 'at+jwt' }))).resolves.toBeDefined();
    await expectRefused(await sign(k1, {}, { typ: 'JWT' }), AuthErrorCode.TYPE_MISMATCH, strict);
  });

  describe('R5: key set caching', () => {
    it('turns a flood of random kids into at most one JWKS fetch per cooldown', async () => {
      const fresh = new TokenValidator({
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        jwksUri: jwks.url,
        jwksCooldownMs: 60_000,
      });
      await fresh.validate(await sign(k1));
      const before = jwks.fetches;
      const strangers = await Promise.all(Array.from({ length: 20 }, (_, i) => keyPair(`random-${i}`)));
      for (const s of strangers) await expectRefused(await sign(s), AuthErrorCode.KEY_UNKNOWN, fresh);
      expect(jwks.fetches - before).toBeLessThanOrEqual(1);
    });

    it('keeps validating with cached keys while the IdP is down', async () => {
      const cached = new TokenValidator({
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        jwksUri: jwks.url,
      });
      await cached.validate(await sign(k1));
      jwks.up = false;
      try {
        await expect(cached.validate(await sign(k1, { jti: 'new-token-while-down' }))).resolves.toBeDefined();
      } finally {
        jwks.up = true;
      }
    });

    it('accepts a rotated key after one fetch', async () => {
      const rotating = new TokenValidator({
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        jwksUri: jwks.url,
        jwksCooldownMs: 0,
      });
      await rotating.validate(await sign(k1));
      const k2 = await keyPair('k2');
      jwks.keys = [k1.jwk, k2.jwk];
      const before = jwks.fetches;
      await expect(rotating.validate(await sign(k2))).resolves.toBeDefined();
      expect(jwks.fetches - before).toBe(1);
      jwks.keys = [k1.jwk];
    });
  });
});
