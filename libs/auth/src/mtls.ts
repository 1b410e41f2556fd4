import { createHash, type X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertificateIdentity } from './principal';

/** What the TLS layer says about a connection's client certificate. */
export interface ConnectionCertificate {
  /** The certificate, when one was presented and verified against the configured CA bundle. */
  certificate?: CertificateIdentity;
  /** True when a certificate was presented but does not verify (possible with `clientCertificate: optional`). */
  rejected: boolean;
  /** For a rejected certificate: why, and what it claims to be (unverified: for logs and messages only). */
  refusal?: CertificateRefusal;
}

export interface CertificateRefusal {
  /** OpenSSL's verification error, e.g. `CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  reason: string;
  subject: string;
  issuer: string;
}

const NONE: ConnectionCertificate = Object.freeze({ rejected: false });
const known = new WeakMap<Socket, ConnectionCertificate>();

/**
 * Reads the client certificate of a connection once, then answers from memory: a keep-alive
 * connection pays for parsing and hashing on its first request only. Plain (non-TLS)
 * connections and TLS connections without a client certificate have none.
 *
 * The verdict comes from the TLS layer (`authorized`), so it is only as good as the listener's
 * CA bundle. Renegotiation is switched off on first read: it is the only way a TLS 1.2 peer could
 * swap certificates mid-connection and make the remembered answer stale.
 */
export function connectionCertificate(socket: Socket): ConnectionCertificate {
  const remembered = known.get(socket);
  if (remembered) return remembered;
  const tls = socket as Partial<TLSSocket>;
  if (!tls.encrypted || typeof tls.getPeerX509Certificate !== 'function') return NONE;
  tls.disableRenegotiation?.();
  const peer = tls.getPeerX509Certificate();
  const result = peer ? judge(peer, tls) : NONE;
  known.set(socket, result);
  return result;
}

function judge(peer: X509Certificate, tls: Partial<TLSSocket>): ConnectionCertificate {
  const subject = distinguishedName(peer.subject);
  const issuer = distinguishedName(peer.issuer);
  if (!tls.authorized) {
    return { rejected: true, refusal: { reason: verifyError(tls.authorizationError), subject, issuer } };
  }
  return {
    rejected: false,
    certificate: {
      subject,
      issuer,
      serialNumber: peer.serialNumber,
      thumbprint: thumbprint(peer.raw),
    },
  };
}

/** RFC 8705 §3.1 `x5t#S256`: base64url (no padding) SHA-256 of the DER certificate. */
export function thumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

/**
 * Node prints names one RDN per line in certificate order, with RFC 2253 escaping of the
 * values (`\,`, `\+`, control characters as `\0A`), so a value can never forge a separator.
 * RFC 4514 wants the most specific RDN first and `+` between the parts of a multi-valued RDN.
 */
export function distinguishedName(multiline: string): string {
  if (multiline === '') return '';
  return multiline
    .split('\n')
    .reverse()
    .map((rdn) => rdn.replaceAll(' + ', '+'))
    .join(',');
}

function verifyError(error: unknown): string {
  if (typeof error === 'string') return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : 'UNKNOWN';
}
