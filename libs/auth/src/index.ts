export { TokenValidator, AuthError, AuthErrorCode } from './token-validator';
export type { TokenValidatorOptions, ValidatedToken } from './token-validator';
