import { Badge, Card, Group, SimpleGrid, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, type ReactNode } from 'react';
import { requestJson } from '../../app/http';
import { ApiErrorAlert } from '../../components/ApiErrorAlert';
import { Time } from '../../components/Time';
import type { Overview } from './types';

const CallsChart = lazy(() => import('./CallsChart'));

/** How often the overview refreshes itself. */
export const OVERVIEW_REFRESH_MS = 15_000;

const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function Stat({
  label,
  value,
  hint,
  color,
}: {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  color?: string;
}) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700} c={color}>
        {value}
      </Text>
      {hint ? (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      ) : null}
    </Card>
  );
}

function ms(p: { p50Ms: number; p99Ms: number } | null): string {
  return p ? `${p.p50Ms} / ${p.p99Ms} ms` : '—';
}

function seconds(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const STATE_COLOR = { up: 'green', down: 'red', 'on-demand': 'gray' } as const;

/** Is the gateway healthy, and what is happening right now: the last hour, refreshing itself. */
export function OverviewPage() {
  const overview = useQuery({
    queryKey: ['overview'],
    queryFn: () => requestJson<Overview>('/api/v1/overview'),
    refetchInterval: OVERVIEW_REFRESH_MS,
  });

  if (overview.isPending) {
    return (
      <Stack>
        <Title order={1} size="h3">
          Overview
        </Title>
        <Skeleton h={300} />
      </Stack>
    );
  }
  if (overview.isError) {
    return (
      <Stack>
        <Title order={1} size="h3">
          Overview
        </Title>
        <ApiErrorAlert error={overview.error} onRetry={() => void overview.refetch()} />
      </Stack>
    );
  }
  const o = overview.data;
  const chart = o.perMinute.map((m) => ({
    minute: minuteFormat.format(new Date(m.minute)),
    Allowed: m.calls - m.denied - m.rateLimited - m.errors,
    Denied: m.denied,
    'Rate-limited': m.rateLimited,
    Errors: m.errors,
  }));
  const down = o.upstreams.filter((u) => u.state === 'down');
  const dead = o.export.sinks.reduce((n, s) => n + s.deadLetters, 0);

  return (
    <Stack gap="md">
      <Group justify="space-between" align="baseline">
        <Title order={1} size="h3">
          Overview
        </Title>
        <Text size="sm" c="dimmed" data-testid="overview-period">
          <Time value={o.from} /> – <Time value={o.to} /> · updated <Time value={overview.dataUpdatedAt} /> ·
          refreshes every {OVERVIEW_REFRESH_MS / 1000} s
        </Text>
      </Group>

      <SimpleGrid cols={{ base: 2, md: 4, lg: 8 }} spacing="sm">
        <Stat label="Calls" value={o.totals.calls} hint="last hour" />
        <Stat label="Denied" value={o.totals.denied} color={o.totals.denied > 0 ? 'orange' : undefined} />
        <Stat label="Rate-limited" value={o.totals.rateLimited} />
        <Stat label="Errors" value={o.totals.errors} color={o.totals.errors > 0 ? 'red' : undefined} />
        <Stat label="Gateway p50 / p99" value={ms(o.latency.gateway)} />
        <Stat label="Upstream p50 / p99" value={ms(o.latency.upstream)} />
        <Stat
          label="Bypass grants"
          value={o.bypass.active}
          color={o.bypass.active > 0 ? 'red' : undefined}
          hint={`active · ${o.bypass.pendingApproval} awaiting approval`}
        />
        <Stat
          label="Replicas"
          value={o.replicas.filter((r) => r.live).length}
          hint={`live · ${o.replicas.length} seen this hour`}
        />
      </SimpleGrid>

      <Card withBorder>
        <Text fw={600} mb="xs" id="calls-chart-title">
          Calls per minute by decision
        </Text>
        <div role="img" aria-labelledby="calls-chart-title">
          <Suspense fallback={<Skeleton h={220} />}>
            <CallsChart data={chart} />
          </Suspense>
        </div>
      </Card>

      <SimpleGrid cols={{ base: 1, lg: 3 }} spacing="md">
        <Card withBorder>
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Upstreams</Text>
            {down.length > 0 ? (
              <Badge color="red">{down.length} down</Badge>
            ) : (
              <Badge color="green">healthy</Badge>
            )}
          </Group>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Server</Table.Th>
                <Table.Th>Transport</Table.Th>
                <Table.Th>State</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {o.upstreams.map((u) => (
                <Table.Tr key={u.server}>
                  <Table.Td>{u.server}</Table.Td>
                  <Table.Td>
                    {u.transport}, {u.sharing}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={STATE_COLOR[u.state]}>
                      {u.state}
                    </Badge>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>

        <Card withBorder>
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Audit export</Text>
            {!o.export.enabled ? (
              <Badge color="gray">off</Badge>
            ) : dead > 0 ? (
              <Badge color="red">{dead} dead letters</Badge>
            ) : (
              <Badge color="green">no dead letters</Badge>
            )}
          </Group>
          {o.export.enabled ? (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Sink</Table.Th>
                  <Table.Th>Lag</Table.Th>
                  <Table.Th>Waiting</Table.Th>
                  <Table.Th>Dead letters</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {o.export.sinks.map((s) => (
                  <Table.Tr key={s.sink}>
                    <Table.Td>{s.sink}</Table.Td>
                    <Table.Td c={s.alerting ? 'red' : undefined}>{seconds(s.lagSeconds)}</Table.Td>
                    <Table.Td>{s.undelivered}</Table.Td>
                    <Table.Td>{s.deadLetters}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Text size="sm" c="dimmed">
              The audit trail is not exported (export.enabled is off); records stay in Postgres.
            </Text>
          )}
        </Card>

        <Card withBorder>
          <Text fw={600} mb="xs">
            Replicas
          </Text>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Last seen</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {o.replicas.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>
                    {r.hostname}{' '}
                    {r.live ? null : (
                      <Badge size="xs" color="gray">
                        gone
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{r.version}</Table.Td>
                  <Table.Td>
                    <Time value={r.lastSeenAt} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
