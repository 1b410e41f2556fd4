import { apiErrorFilter, apiErrorInterceptor, type ApiErrorHandling } from '@gatehouse/observability';
import { PolicyError, PolicyErrorCode, policyErrorStatus } from './policy-error';

const handling: ApiErrorHandling<PolicyError> = {
  area: 'policy',
  type: PolicyError,
  status: (err) => policyErrorStatus(err.code),
  internal: (message, errorId) => new PolicyError(PolicyErrorCode.INTERNAL, message, undefined, errorId),
};

/** Answers a {@link PolicyError} as `{ error: { code, message, problems?, errorId? } }`. */
export const PolicyErrorFilter = apiErrorFilter(handling);

/** Anything unexpected in a policy handler becomes `INTERNAL` with an `errorId` on the log line. */
export const PolicyErrorInterceptor = apiErrorInterceptor(handling);
