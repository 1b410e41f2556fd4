import { Alert, Button, Text } from '@mantine/core';
import { ApiError } from '../../api/client';
import { goToSignIn } from '../../app/session';

/** What to do about a refusal, by status and code: sign in again, which role, retry, or fix the input. */
export function nextStep(error: unknown): string {
  if (!(error instanceof ApiError))
    return 'The gateway did not answer. Check the connection and retry: what you typed is kept.';
  const { status, problem } = error;
  if (status === 401) return 'Your session ended: sign in again, then retry. What you typed is kept.';
  if (problem.code === 'ROLE_REQUIRED' || status === 403) {
    if (problem.code === 'SELF_APPROVAL' || problem.code === 'SELF_REVIEW')
      return 'Ask another incident responder or admin to do this step.';
    if (problem.code === 'CSRF_MISMATCH' || problem.code === 'CSRF_REQUIRED')
      return 'Reload the page to refresh the session, then retry.';
    return 'This needs the incident-responder or admin role (reviews also auditor); ask whoever grants console roles in your IdP.';
  }
  if (status === 409)
    return 'The grant changed meanwhile; the lists are refreshed, check it and retry if still needed.';
  if (status === 404) return 'The grant no longer exists here; the lists are refreshed.';
  if (status === 400) return 'Change what the message names and confirm again.';
  if (status === 503) return 'Nothing was changed. Retry in a moment.';
  return 'Retry in a moment; if it keeps failing, give the error id to the gateway operators.';
}

/** An API error as the console shows it: the server's code and message, and the next step. */
export function ErrorNote({ error, title = 'The gateway refused' }: { error: unknown; title?: string }) {
  const code = error instanceof ApiError ? error.problem.code : 'NETWORK';
  const message = error instanceof Error ? error.message : String(error);
  const errorId = error instanceof ApiError ? error.problem['errorId'] : undefined;
  return (
    <Alert color="red" variant="light" title={`${title}: ${code}`} role="alert">
      <Text size="sm">{message}</Text>
      {typeof errorId === 'string' && <Text size="xs">error id {errorId}</Text>}
      <Text size="sm" fw={600} mt={4}>
        {nextStep(error)}
      </Text>
      {error instanceof ApiError && error.status === 401 && (
        <Button size="xs" mt="xs" onClick={goToSignIn}>
          Sign in again
        </Button>
      )}
    </Alert>
  );
}
