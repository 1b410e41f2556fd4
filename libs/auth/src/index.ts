export { TokenValidator, AuthError, AuthErrorCode } from './token-validator';
export type { TokenValidatorOptions, ValidatedToken } from './token-validator';
export { principalKey } from './principal';
export type { Principal, CertificateIdentity, ConsoleRole } from './principal';
