export { TokenValidator, AuthError, AuthErrorCode } from './token-validator';
export type { TokenValidatorOptions, ValidatedToken } from './token-validator';
export { principalKey } from './principal';
export type { Principal, CertificateIdentity, ConsoleRole } from './principal';
export { PrincipalMapper, readPath, scopesOf } from './principal-mapper';
export { Authenticator, bearerToken, INTROSPECTION_CACHE_MS } from './authenticator';
export type { AuthenticateInput } from './authenticator';
export { GatewayUrls, DEV_IDP_PATH } from './gateway-urls';
export type { ResolvedUrls } from './gateway-urls';
export { authFailure } from './challenge';
export type { AuthFailure } from './challenge';
export { connectionCertificate } from './mtls';
export type { ConnectionCertificate } from './mtls';
export { AuthModule } from './auth.module';
export * from './console';
export {
  AdminAction,
  ADMIN_ACTION_KEY,
  ADMIN_AUDIT,
  AUDIT_UNAVAILABLE,
  AdminAuditUnavailableError,
  adminActor,
  adminClient,
  adminEntry,
  requestDetails,
  SYSTEM_ADMIN_ACTOR,
} from './admin-audit';
export type {
  AdminActionMeta,
  AdminActionOptions,
  AdminActor,
  AdminAudit,
  AdminAuditEntry,
  AdminAuditFailure,
  AdminAuditResult,
  AdminAuditTicket,
} from './admin-audit';
export * from './api';
