import { describe, expect, test } from '@jest/globals';
import { ApiError } from '../api/client';
import { nextStep } from './ApiErrorAlert';
import { isGatewayDown } from './GatewayDownBanner';

const err = (status: number) => new ApiError(status, { code: 'X', message: 'm' });

describe('what to do next after an API error', () => {
  test('401: sign in again; 403: the role; 5xx and network: retry', () => {
    expect(nextStep(err(401)).action).toBe('sign-in');
    expect(nextStep(err(403), 'auditor or admin').advice).toContain('auditor or admin');
    expect(nextStep(err(503)).action).toBe('retry');
    expect(nextStep(err(0)).title).toBe('The gateway could not be reached');
    expect(nextStep(err(400)).action).toBeUndefined();
  });

  test('the gateway-down banner only counts unreachable or unavailable gateways', () => {
    expect(isGatewayDown(err(0))).toBe(true);
    expect(isGatewayDown(err(502))).toBe(true);
    expect(isGatewayDown(err(403))).toBe(false);
    expect(isGatewayDown(new Error('x'))).toBe(false);
  });
});
