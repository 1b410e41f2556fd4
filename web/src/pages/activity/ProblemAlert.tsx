import { Alert, Button, Group, Text } from '@mantine/core';
import { ApiError } from '../../api/client';

/**
 * What to do next for a refusal, by the server's code and status: sign in again, which role is
 * needed, fix the input, or retry.
 */
export function nextStep(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'Your session has ended: sign in again, then come back to this link.';
    if (error.status === 403)
      return 'This needs the console role auditor or admin; ask whoever grants roles in your identity provider.';
    if (error.status === 400 || error.status === 422) return 'Change the input above and try again.';
    if (error.status === 503 || error.status >= 500)
      return 'The gateway could not answer just now; try again in a moment.';
    if (error.status === 429) return 'Too many requests: wait a moment, then try again.';
    return 'Try again; if it keeps failing, send this code to whoever runs the gateway.';
  }
  return 'The gateway did not answer: check your connection, then try again.';
}

/**
 * An API error with its code and message and what to do next (the shell's ApiErrorAlert follows
 * the same pattern; this screen switches to it once it is merged).
 */
export function ProblemAlert({
  error,
  title,
  onRetry,
}: {
  error: unknown;
  title: string;
  onRetry?: () => void;
}) {
  const code = error instanceof ApiError ? error.problem.code : 'NETWORK_ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" variant="light" title={title} role="alert">
      <Text size="sm">
        <Text span ff="monospace" fw={600}>
          {code}
        </Text>
        : {message}
      </Text>
      <Group gap="sm" mt={6}>
        <Text size="sm">{nextStep(error)}</Text>
        {onRetry ? (
          <Button size="compact-xs" variant="outline" color="red" onClick={onRetry}>
            Retry
          </Button>
        ) : null}
      </Group>
    </Alert>
  );
}
