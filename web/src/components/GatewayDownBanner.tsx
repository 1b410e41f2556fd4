import { Alert, Loader, Group, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError } from '../api/client';

/** True for errors that mean the gateway itself is unreachable or unwell (not a refusal). */
export function isGatewayDown(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    (error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504)
  );
}

const PROBE_MS = 3_000;

/**
 * A banner across the top while the gateway cannot be reached: it appears when any query fails
 * that way, probes `/healthz` every few seconds, and once the gateway answers refetches every
 * query and disappears.
 */
export function GatewayDownBanner() {
  const client = useQueryClient();
  const [down, setDown] = useState(false);
  const [since, setSince] = useState<Date | undefined>(undefined);

  useEffect(
    () =>
      client.getQueryCache().subscribe((event) => {
        if (event.type === 'updated' && event.action.type === 'error' && isGatewayDown(event.action.error)) {
          setDown(true);
          setSince((s) => s ?? new Date());
        }
      }),
    [client],
  );

  useEffect(() => {
    if (!down) return undefined;
    const timer = setInterval(() => {
      fetch('/healthz', { cache: 'no-store' })
        .then((res) => {
          if (!res.ok) return;
          setDown(false);
          setSince(undefined);
          void client.refetchQueries({ type: 'active' });
        })
        .catch(() => undefined);
    }, PROBE_MS);
    return () => clearInterval(timer);
  }, [down, client]);

  if (!down) return null;
  return (
    <Alert
      color="red"
      variant="filled"
      radius={0}
      role="status"
      aria-live="polite"
      data-testid="gateway-down"
    >
      <Group gap="xs">
        <Loader size="xs" color="white" />
        <Text size="sm" fw={600}>
          The gateway is not answering{since ? ` since ${since.toLocaleTimeString()}` : ''}.
        </Text>
        <Text size="sm">Retrying every {PROBE_MS / 1000} seconds; what you typed stays here.</Text>
      </Group>
    </Alert>
  );
}
