import { AuthErrorCode, type AuthError } from './token-validator';

/** How an authentication failure is answered over HTTP (RFC 6750 §3, RFC 9728 §5.1). */
export interface AuthFailure {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
}

export function authFailure(
  err: AuthError,
  resourceMetadata: string | undefined,
  requiredScopes: readonly string[],
): AuthFailure {
  const params: string[] = [];
  let status: AuthFailure['status'] = 401;
  switch (err.code) {
    case AuthErrorCode.TOKEN_MISSING:
      // No credentials at all: the challenge names no error (RFC 6750 §3.1).
      break;
    case AuthErrorCode.INSUFFICIENT_SCOPE:
      status = 403;
      params.push('error="insufficient_scope"', `error_description="${quoted(err.message)}"`);
      break;
    case AuthErrorCode.IDP_UNAVAILABLE:
    case AuthErrorCode.KEYS_UNAVAILABLE:
      return { status: 503, headers: { 'retry-after': '5' } };
    case AuthErrorCode.TOKEN_MALFORMED:
    case AuthErrorCode.ALGORITHM_NOT_ALLOWED:
    case AuthErrorCode.SIGNATURE_INVALID:
    case AuthErrorCode.KEY_UNKNOWN:
    case AuthErrorCode.ISSUER_MISMATCH:
    case AuthErrorCode.AUDIENCE_MISMATCH:
    case AuthErrorCode.EXPIRED:
    case AuthErrorCode.NOT_YET_VALID:
    case AuthErrorCode.TYPE_MISMATCH:
    case AuthErrorCode.TOKEN_INACTIVE:
    case AuthErrorCode.TOKEN_OPAQUE:
    case AuthErrorCode.CERTIFICATE_MISMATCH:
    case AuthErrorCode.CERTIFICATE_INVALID:
      params.push('error="invalid_token"', `error_description="${quoted(err.message)}"`);
      break;
    default: {
      const unhandled: never = err.code;
      throw new Error(`unmapped auth error ${String(unhandled)}`);
    }
  }
  if (requiredScopes.length > 0) params.push(`scope="${quoted(requiredScopes.join(' '))}"`);
  if (resourceMetadata) params.push(`resource_metadata="${resourceMetadata}"`);
  return {
    status,
    headers: { 'www-authenticate': params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer' },
  };
}

/** RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E inside these quoted strings. */
function quoted(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'");
}
