import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { TransportError, TransportErrorCode } from './jsonrpc';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Who a cursor was issued to: a cursor opens only for the same principal, endpoint and list. */
export interface CursorBinding {
  /** `*` (aggregated) or the passthrough server name. */
  endpoint: string;
  /** {@link principalKey} of the caller. */
  principal: string;
  method: string;
}

/** A cursor sealer bound to one call: what {@link AggregateRouter.list} and the passthrough use. */
export interface BoundCursors {
  seal(payload: unknown): string;
  /** The payload, or -32602 when the cursor was not issued by this gateway to this caller for this list. */
  open(raw: unknown): unknown;
}

/**
 * List cursors are AES-256-GCM sealed: the payload (the upstream's position and its own cursor)
 * cannot be read or changed, and the principal, the endpoint and the list method are the
 * associated data, so a cursor handed to (or stolen by) anyone else does not open.
 */
export class CursorSealer {
  private constructor(private readonly key: Buffer) {}

  /** Derives the AEAD key from `server.cursorSecret` or the deployment's shared secret. */
  static fromSecret(secret: string | Buffer): CursorSealer {
    return new CursorSealer(Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'list-cursor v1', 32)));
  }

  bind(binding: CursorBinding): BoundCursors {
    return { seal: (payload) => this.seal(binding, payload), open: (raw) => this.open(binding, raw) };
  }

  seal(binding: CursorBinding, payload: unknown): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associatedData(binding));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(binding: CursorBinding, raw: unknown): unknown {
    if (typeof raw !== 'string') {
      throw new TransportError(TransportErrorCode.INVALID_PARAMS, 'the cursor must be a string');
    }
    const bytes = Buffer.from(raw, 'base64url');
    if (bytes.length > 1 + IV_BYTES + TAG_BYTES && bytes[0] === VERSION) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(1, 1 + IV_BYTES));
        decipher.setAAD(associatedData(binding));
        decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
        const body = Buffer.concat([
          decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]);
        return JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        // A wrong tag (forged, changed, or issued to someone else): the same answer below.
      }
    }
    throw new TransportError(
      TransportErrorCode.INVALID_PARAMS,
      `the cursor was not issued by this gateway to this caller for ${binding.method} on this endpoint; start the list again without a cursor`,
    );
  }
}

function associatedData(b: CursorBinding): Buffer {
  return Buffer.from(JSON.stringify(['gatehouse-cursor', b.endpoint, b.principal, b.method]), 'utf8');
}
