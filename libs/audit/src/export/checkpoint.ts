import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ExportError, ExportErrorCode } from './export-error';

/** The newest exported record of one writer chain when the checkpoint was made. */
export interface ChainHead {
  writerId: string;
  seq: number;
  /** `hash` of that record, hex. */
  hash: string;
}

/** What a checkpoint states; its JSON text is what the signature covers. */
export interface CheckpointBody {
  version: 'gatehouse-checkpoint-v1';
  number: number;
  createdAt: string;
  /** The previous checkpoint's signature (base64), null for the first: the checkpoints form a chain (R18). */
  previousSignature: string | null;
  heads: ChainHead[];
}

/** A checkpoint as stored in S3: the body's exact JSON text and its Ed25519 signature. */
export interface SignedCheckpoint {
  body: CheckpointBody;
  /** Base64 Ed25519 signature over `checkpointText(body)`. */
  signature: string;
}

/** The signed text of a body: JSON with keys in a fixed order and heads sorted by writer. */
export function checkpointText(body: CheckpointBody): string {
  const heads = [...body.heads]
    .sort((a, b) => (a.writerId < b.writerId ? -1 : a.writerId > b.writerId ? 1 : 0))
    .map((h) => ({ writerId: h.writerId, seq: h.seq, hash: h.hash }));
  return JSON.stringify({
    version: body.version,
    number: body.number,
    createdAt: body.createdAt,
    previousSignature: body.previousSignature,
    heads,
  });
}

/** The S3 object text of a signed checkpoint. */
export function checkpointObject(checkpoint: SignedCheckpoint): string {
  return `{"signature":${JSON.stringify(checkpoint.signature)},"body":${checkpointText(checkpoint.body)}}`;
}

/**
 * Reads `export.checkpoints.signingKey`: PEM text, or the path of a PEM file. Only Ed25519
 * private keys are accepted (deterministic signatures: a retried checkpoint is byte-identical).
 */
export function loadSigningKey(value: string): KeyObject {
  let pem = value;
  if (!value.includes('-----BEGIN')) {
    if (!existsSync(value)) {
      throw new ExportError(
        ExportErrorCode.SIGNING_KEY,
        `export.checkpoints.signingKey is neither PEM text nor an existing file ("${value}"); create one with: openssl genpkey -algorithm ed25519 -out checkpoint-key.pem`,
      );
    }
    pem = readFileSync(value, 'utf8');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new ExportError(
      ExportErrorCode.SIGNING_KEY,
      `export.checkpoints.signingKey is not a readable private key (${error instanceof Error ? error.message : String(error)}); use an Ed25519 PEM key: openssl genpkey -algorithm ed25519`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ExportError(
      ExportErrorCode.SIGNING_KEY,
      `export.checkpoints.signingKey is a ${key.asymmetricKeyType ?? 'unknown'} key; checkpoints are signed with Ed25519: openssl genpkey -algorithm ed25519`,
    );
  }
  return key;
}

/** The public key verifiers need, as PEM (give it to `gatehouse audit verify --s3 --public-key`). */
export function publicKeyPem(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
}

/** Signs a checkpoint body. */
export function signCheckpoint(body: CheckpointBody, key: KeyObject): SignedCheckpoint {
  return { body, signature: sign(null, Buffer.from(checkpointText(body)), key).toString('base64') };
}

/** Whether the signature over the body verifies with `publicKey` (a PEM or key object). */
export function checkpointVerifies(checkpoint: SignedCheckpoint, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return verify(
    null,
    Buffer.from(checkpointText(checkpoint.body)),
    key,
    Buffer.from(checkpoint.signature, 'base64'),
  );
}
