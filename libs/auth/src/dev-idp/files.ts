import { generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A private JSON Web Key as oidc-provider's `jwks` option takes it. */
export type PrivateJwk = Record<string, unknown> & { kty: string; kid: string; d: string };

/** Where the development IdP keeps its files under the gateway's data directory. */
export function devIdpDir(dataDir: string): string {
  return join(dataDir, 'dev-idp');
}

/** Writes a file only its owner can read (0600), replacing it in one step. */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

async function generateSigningKey(): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk,
    kty: 'RSA',
    d: String(jwk.d),
    kid: randomBytes(8).toString('hex'),
    use: 'sig',
    alg: 'RS256',
  };
}

function isSigningKeySet(value: unknown): value is { keys: [PrivateJwk, ...PrivateJwk[]] } {
  if (typeof value !== 'object' || value === null) return false;
  const keys = (value as { keys?: unknown }).keys;
  return (
    Array.isArray(keys) &&
    keys.length > 0 &&
    keys.every(
      (key: unknown) =>
        typeof key === 'object' &&
        key !== null &&
        (key as PrivateJwk).kty === 'RSA' &&
        typeof (key as PrivateJwk).d === 'string' &&
        typeof (key as PrivateJwk).kid === 'string',
    )
  );
}

/**
 * The signing keys: read from `<dataDir>/dev-idp/jwks.json` when it exists (so tokens survive a
 * restart), else generated and, with a data directory, written there (0600).
 */
export async function loadSigningKeys(dataDir: string | undefined): Promise<PrivateJwk[]> {
  if (dataDir === undefined) return [await generateSigningKey()];
  const dir = devIdpDir(dataDir);
  const file = join(dir, 'jwks.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!isSigningKeySet(parsed)) {
      throw new Error(`${file} is not a set of private RSA signing keys; delete it to get a new key`);
    }
    // A private key file someone copied around with wider permissions is narrowed again.
    await chmod(file, 0o600);
    return parsed.keys;
  }
  const key = await generateSigningKey();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writePrivateFile(file, `${JSON.stringify({ keys: [key] }, null, 2)}\n`);
  return [key];
}

/** Writes `<dataDir>/dev-idp/secrets.json` (0600): the issuer and the confidential clients' secrets. */
export async function writeSecrets(dataDir: string, issuer: string, secrets: object): Promise<string> {
  const dir = devIdpDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'secrets.json');
  await writePrivateFile(file, `${JSON.stringify({ issuer, secrets }, null, 2)}\n`);
  return file;
}
