import type { CONSOLE_ROLES } from '@gatehouse/config';

export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** The client certificate presented on an mTLS connection, as verified by the TLS layer. */
export interface CertificateIdentity {
  /** Subject distinguished name, e.g. `CN=alice-laptop,O=Example`. */
  subject: string;
  /** Issuer distinguished name. */
  issuer: string;
  serialNumber: string;
  /** SHA-256 of the DER certificate, base64url: the RFC 8705 `x5t#S256` thumbprint. */
  thumbprint: string;
}

/** Who made a request: built once per token (and certificate), cached with the token. */
export interface Principal {
  /** `user`: a person's token; `service`: a client-credentials token; `anonymous`: auth.mode none. */
  kind: 'user' | 'service' | 'anonymous';
  issuer: string;
  /** `sub` (for a service account, its client id when the IdP sets no other subject). */
  subject: string;
  name?: string;
  email?: string;
  groups: string[];
  /** Console roles granted through `auth.roles`. */
  roles: ConsoleRole[];
  /** The OAuth client the token was issued to (`azp` / `client_id`). */
  clientId?: string;
  scopes: string[];
  certificate?: CertificateIdentity;
  /** RFC 8705: the `x5t#S256` thumbprint the token is bound to (`cnf`), if it is bound. */
  boundCertificate?: string;
  /** When the token stops being valid (epoch ms); anonymous principals never expire. */
  expiresAt: number;
}

/** The identity a session is bound to (R6): same issuer and subject. */
export function principalKey(p: Pick<Principal, 'issuer' | 'subject'>): string {
  return `${p.issuer}\u0000${p.subject}`;
}
