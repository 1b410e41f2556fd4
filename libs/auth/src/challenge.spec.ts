import { authFailure } from './challenge';
import { AuthError, AuthErrorCode } from './token-validator';

const META = 'https://gw.test/.well-known/oauth-protected-resource/mcp';

describe('authFailure', () => {
  it('challenges a request without credentials with no error code (RFC 6750 §3.1)', () => {
    expect(authFailure(new AuthError(AuthErrorCode.TOKEN_MISSING, 'x'), META, [])).toEqual({
      status: 401,
      headers: { 'www-authenticate': `Bearer resource_metadata="${META}"` },
    });
  });

  it('says invalid_token with a description for every refused token', () => {
    for (const code of Object.values(AuthErrorCode)) {
      if (
        [
          AuthErrorCode.TOKEN_MISSING,
          AuthErrorCode.INSUFFICIENT_SCOPE,
          AuthErrorCode.IDP_UNAVAILABLE,
          AuthErrorCode.KEYS_UNAVAILABLE,
        ].includes(code)
      )
        continue;
      const f = authFailure(new AuthError(code, 'bad "quoted" \\ token'), META, ['mcp']);
      expect(f.status).toBe(401);
      expect(f.headers['www-authenticate']).toBe(
        `Bearer error="invalid_token", error_description="bad 'quoted' ' token", scope="mcp", resource_metadata="${META}"`,
      );
    }
  });

  it('answers missing scopes with 403 insufficient_scope', () => {
    const f = authFailure(new AuthError(AuthErrorCode.INSUFFICIENT_SCOPE, 'needs mcp'), META, [
      'mcp',
      'tools',
    ]);
    expect(f.status).toBe(403);
    expect(f.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="needs mcp", scope="mcp tools", resource_metadata="${META}"`,
    );
  });

  it('answers an unreachable IdP with 503 and Retry-After, not a challenge', () => {
    expect(authFailure(new AuthError(AuthErrorCode.IDP_UNAVAILABLE, 'down'), META, [])).toEqual({
      status: 503,
      headers: { 'retry-after': '5' },
    });
  });
});
