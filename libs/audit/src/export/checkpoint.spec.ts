import { generateKeyPairSync } from 'node:crypto';
import {
  checkpointObject,
  checkpointText,
  checkpointVerifies,
  loadSigningKey,
  publicKeyPem,
  signCheckpoint,
  type CheckpointBody,
  type SignedCheckpoint,
} from './checkpoint';
import { ExportError } from './export-error';
import { batchJobId, batchObjectKey, checkpointKey, manifestKey } from './keys';
import { jobOptions, queueName, retryHorizonSeconds } from './queue';

const pem = (type: 'ed25519' | 'rsa') =>
  (type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : generateKeyPairSync('ed25519').privateKey
  )
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();

const body = (overrides: Partial<CheckpointBody> = {}): CheckpointBody => ({
  version: 'gatehouse-checkpoint-v1',
  number: 2,
  createdAt: '2026-11-24T10:00:00.000Z',
  previousSignature: 'cHJldmlvdXM=',
  heads: [
    { writerId: 'b0000000-0000-4000-8000-000000000000', seq: 7, hash: 'ab'.repeat(32) },
    { writerId: 'a0000000-0000-4000-8000-000000000000', seq: 3, hash: 'cd'.repeat(32) },
  ],
  ...overrides,
});

describe('signed checkpoints (R18)', () => {
  const key = loadSigningKey(pem('ed25519'));
  const signed = signCheckpoint(body(), key);

  it('verifies with the public key and survives the S3 object round trip', () => {
    expect(checkpointVerifies(signed, publicKeyPem(key))).toBe(true);
    const parsed = JSON.parse(checkpointObject(signed)) as SignedCheckpoint;
    expect(checkpointVerifies(parsed, publicKeyPem(key))).toBe(true);
  });

  it('signs the same body to the same bytes (a retried PUT is identical)', () => {
    expect(signCheckpoint(body(), key).signature).toBe(signed.signature);
  });

  it('sorts heads by writer, so the signed text does not depend on their order', () => {
    const reversed = body({ heads: [...body().heads].reverse() });
    expect(checkpointText(reversed)).toBe(checkpointText(body()));
  });

  it.each<[string, Partial<CheckpointBody>]>([
    [
      'a head moved back (records deleted)',
      { heads: [{ writerId: 'a0000000-0000-4000-8000-000000000000', seq: 2, hash: 'cd'.repeat(32) }] },
    ],
    [
      'another hash',
      { heads: [{ writerId: 'a0000000-0000-4000-8000-000000000000', seq: 3, hash: 'ee'.repeat(32) }] },
    ],
    ['the chain to the previous checkpoint cut', { previousSignature: null }],
    ['renumbered', { number: 3 }],
  ])('fails to verify when %s', (_what, change) => {
    const tampered: SignedCheckpoint = { body: body(change), signature: signed.signature };
    expect(checkpointVerifies(tampered, publicKeyPem(key))).toBe(false);
  });

  it('fails with another key', () => {
    expect(checkpointVerifies(signed, publicKeyPem(loadSigningKey(pem('ed25519'))))).toBe(false);
  });

  it.each([
    [
      'a path that does not exist',
      '/nonexistent/checkpoint-key.pem',
      /neither PEM text nor an existing file.*openssl genpkey/,
    ],
    [
      'text that is not a key',
      '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----',
      /not a readable private key/,
    ],
    ['an RSA key', pem('rsa'), /is a rsa key; checkpoints are signed with Ed25519/],
  ])('refuses %s as the signing key, naming the fix', (_what, value, message) => {
    expect(() => loadSigningKey(value)).toThrow(ExportError);
    expect(() => loadSigningKey(value)).toThrow(message);
  });
});

describe('job ids, queue names and object keys (R24)', () => {
  const batch = {
    sink: 'siem-soc',
    writerId: '5c2e0000-0000-4000-8000-000000000001',
    firstSeq: 1001,
    lastSeq: 2000,
  };

  it('are deterministic and contain no ":"', () => {
    expect(batchJobId(batch)).toBe('siem-soc-5c2e0000-0000-4000-8000-000000000001-1001-2000');
    expect(queueName('siem-soc')).toBe('audit-export-siem-soc');
    for (const id of [batchJobId(batch), queueName('s3')]) expect(id).not.toContain(':');
  });

  it('puts a batch under the UTC hour of its first record', () => {
    const at = new Date('2026-01-02T03:59:59.999Z');
    expect(batchObjectKey('gh/', batch, at)).toBe(
      'gh/audit/2026/01/02/03/5c2e0000-0000-4000-8000-000000000001-1001-2000.jsonl.gz',
    );
    expect(manifestKey('', batch, at)).toBe(
      'manifests/2026/01/02/03/5c2e0000-0000-4000-8000-000000000001-1001-2000.json',
    );
    expect(checkpointKey('', 42)).toBe('checkpoints/000000000042.json');
  });

  it.each([
    [12, 1000, 2047],
    [1, 1000, 0],
    [5, 200, 3],
  ])(
    'with %i attempts from %i ms, retries for %i s and keeps jobs longer than that',
    (attempts, backoffMs, horizon) => {
      const settings = { prefix: 'p', attempts, backoffMs };
      expect(retryHorizonSeconds(settings)).toBe(horizon);
      const options = jobOptions(settings, 'x');
      expect(options.backoff).toEqual({ type: 'exponential', delay: backoffMs });
      const keep = (options.removeOnComplete as { age: number }).age;
      expect(keep).toBeGreaterThan(horizon);
      expect((options.removeOnFail as { age: number }).age).toBe(keep);
    },
  );
});
