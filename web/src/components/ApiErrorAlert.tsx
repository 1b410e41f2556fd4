import { Alert, Button, Code, Group, Text } from '@mantine/core';
import { ApiError } from '../api/client';

/** What the person can do about an error, in words. */
export interface NextStep {
  title: string;
  advice: string;
  action?: 'sign-in' | 'retry';
}

/** The server's code and message of any error (ApiError or not). */
export function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof ApiError)
    return { status: error.status, code: error.problem.code, message: error.problem.message };
  return { status: 0, code: 'ERROR', message: error instanceof Error ? error.message : String(error) };
}

/** What to do next, from the status the gateway answered. */
export function nextStep(error: unknown, neededRoles?: string): NextStep {
  const { status } = describeError(error);
  if (status === 401) {
    return {
      title: 'You are not signed in',
      advice: 'Your session ended. Sign in again to carry on here.',
      action: 'sign-in',
    };
  }
  if (status === 403) {
    return {
      title: 'Not allowed',
      advice: neededRoles
        ? `This needs the console role ${neededRoles}. Roles come from your identity provider's groups; ask your Gatehouse administrator.`
        : "The gateway refused this for your roles (its message names the role needed). Roles come from your identity provider's groups; ask your Gatehouse administrator.",
    };
  }
  if (status === 0 || status >= 500) {
    return {
      title: status === 0 ? 'The gateway could not be reached' : 'The gateway could not answer',
      advice: 'This is usually temporary. Try again in a moment; if it persists, check the gateway log.',
      action: 'retry',
    };
  }
  return { title: 'The request was refused', advice: 'Check what you entered and try again.' };
}

/**
 * Any API error, shown the same way everywhere: the server's code and message, and what to do
 * next (sign in again, which role is needed, retry).
 */
export function ApiErrorAlert({
  error,
  onRetry,
  neededRoles,
  onSignIn,
}: {
  error: unknown;
  onRetry?: () => void;
  neededRoles?: string;
  onSignIn?: () => void;
}) {
  const { code, message, status } = describeError(error);
  const step = nextStep(error, neededRoles);
  return (
    <Alert color={status === 403 ? 'orange' : 'red'} title={step.title} role="alert" variant="light">
      <Text size="sm">
        <Code>{code}</Code> {message}
      </Text>
      <Text size="sm" mt={4}>
        {step.advice}
      </Text>
      {(step.action === 'retry' && onRetry) || (step.action === 'sign-in' && onSignIn) ? (
        <Group mt="xs">
          {step.action === 'retry' && onRetry ? (
            <Button size="xs" variant="default" onClick={onRetry}>
              Retry
            </Button>
          ) : null}
          {step.action === 'sign-in' && onSignIn ? (
            <Button size="xs" onClick={onSignIn}>
              Sign in again
            </Button>
          ) : null}
        </Group>
      ) : null}
    </Alert>
  );
}
