import { apiErrorFilter, apiErrorInterceptor, type ApiErrorHandling } from '@gatehouse/observability';
import { BypassError, BypassErrorCode, bypassErrorStatus } from './bypass-error';

const handling: ApiErrorHandling<BypassError> = {
  area: 'bypass',
  type: BypassError,
  status: (err) => bypassErrorStatus(err.code),
  internal: (message, errorId) => new BypassError(BypassErrorCode.INTERNAL, message, undefined, errorId),
  // A grant is immutable: PATCH and PUT are refused, and the answer says what is allowed.
  headers: (err): Record<string, string> =>
    err.code === BypassErrorCode.GRANT_IMMUTABLE ? { allow: 'GET' } : {},
};

/** Answers a {@link BypassError} as `{ error: { code, message, problems?, errorId? } }`. */
export const BypassErrorFilter = apiErrorFilter(handling);

/** Anything unexpected in a bypass handler becomes `INTERNAL` with an `errorId` on the log line. */
export const BypassErrorInterceptor = apiErrorInterceptor(handling);
