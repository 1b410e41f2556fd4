import type { DevIdp, DevIdpOptions } from './dev-idp';

export type { DevIdp, DevIdpOptions } from './dev-idp';
export { mountDevIdp } from './mount';
export { DEV_ONLY_BANNER } from './pages';
export { DEV_IDP_CLIENTS, DEV_USER_GRANT, MCP_SCOPE, SEEDED_USERS, findSeededUser } from './users';
export type { DevIdpSecrets, SeededUser } from './users';

/**
 * Starts the development IdP. oidc-provider is loaded only here, on first use: it is ESM that
 * Node's require(esm) loads but Jest cannot, so importing this folder stays safe everywhere.
 */
export async function loadDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const { createDevIdp } = await import('./dev-idp.js');
  return createDevIdp(options);
}
