import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { CertificateIdentity } from './principal';

/** What the TLS layer says about a connection's client certificate. */
export interface ConnectionCertificate {
  /** The certificate, when one was presented and verified against the configured CA bundle. */
  certificate?: CertificateIdentity;
  /** True when a certificate was presented but does not verify (possible with `clientCertificate: optional`). */
  rejected: boolean;
}

const NONE: ConnectionCertificate = Object.freeze({ rejected: false });

/** Reads the client certificate of an mTLS connection; plain connections have none. */
export function connectionCertificate(socket: Socket): ConnectionCertificate {
  const tls = socket as Partial<TLSSocket>;
  if (!tls.encrypted || typeof tls.getPeerCertificate !== 'function') return NONE;
  const cert = tls.getPeerCertificate();
  if (!cert || !cert.raw) return NONE;
  if (!tls.authorized) return { rejected: true };
  return {
    rejected: false,
    certificate: {
      subject: distinguishedName(cert.subject),
      issuer: distinguishedName(cert.issuer),
      serialNumber: cert.serialNumber,
      thumbprint: createHash('sha256').update(cert.raw).digest('base64url'),
    },
  };
}

function distinguishedName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(',');
}
