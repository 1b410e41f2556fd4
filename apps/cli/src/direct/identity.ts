import { createHash } from 'node:crypto';

import { decodeJwt } from 'jose';

/**
 * Who the bridge uploads as, to key the spool: the `sub` (and issuer) of a JWT bearer, which
 * survives token refreshes; a hash of an opaque token; `anonymous` without one. Nothing here is
 * verified: it only keeps one person's spool from being uploaded under another's token.
 */
export function identityOf(token: string | undefined): string {
  if (token === undefined) return 'anonymous';
  try {
    const claims = decodeJwt(token);
    if (typeof claims.sub === 'string') return `${claims.iss ?? ''} ${claims.sub}`;
  } catch {
    // Not a JWT: fall through to the token's hash.
  }
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}
