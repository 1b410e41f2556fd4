import { Autocomplete, Button, Group, Paper, Select, Table, Text } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client';
import type { ActivitySummary, AuditEvent } from './contracts';
import classes from './activity.module.css';
import { EventDrawer } from './EventDrawer';
import { ROLES, type ActivityParams } from './params';
import { DECISIONS, OUTCOMES, OutcomeBadge, type Outcome } from './outcomes';
import { ApiErrorAlert } from '../../components/ApiErrorAlert';
import { Stamp } from './time';

const PAGE = 100;

/** The filter the events table, the exports and the API share. */
export function eventQuery(params: ActivityParams, period: { from: string; to: string }) {
  const outcome = (OUTCOMES as readonly string[]).includes(params.outcome)
    ? (params.outcome as Outcome)
    : undefined;
  return {
    user: params.user,
    from: period.from,
    to: period.to,
    ...(params.server ? { server: params.server } : {}),
    ...(params.tool ? { tool: params.tool } : {}),
    ...(params.decision ? { decision: params.decision } : {}),
    ...(outcome ? { outcome } : {}),
  };
}

/** Filters (in the URL), the dense events table newest first with "load older", and the drawer. */
export function EventsTable({
  params,
  period,
  summary,
  onFilter,
}: {
  params: ActivityParams;
  period: { from: string; to: string };
  summary: ActivitySummary | undefined;
  onFilter: (patch: Partial<ActivityParams>) => void;
}) {
  const query = eventQuery(params, period);
  const events = useInfiniteQuery({
    queryKey: ['audit', 'events', query],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.GET('/api/v1/audit/events', {
          params: { query: { ...query, limit: PAGE, ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const [open, setOpen] = useState<AuditEvent | null>(null);
  const rows = events.data?.pages.flatMap((p) => p.events) ?? [];
  const servers = summary?.servers.map((s) => s.server) ?? [];
  const tools = [
    ...new Set(
      (summary?.tools ?? []).filter((t) => !params.server || t.server === params.server).map((t) => t.tool),
    ),
  ];

  return (
    <Paper withBorder p="xs">
      <Group gap="xs" mb="xs" align="flex-end">
        <Text fw={600} size="sm" mr="auto">
          events{' '}
          <Text span size="xs" className={classes.muted}>
            newest first
            {rows.length ? ` · ${rows.length} shown${events.hasNextPage ? ', more older' : ''}` : ''}
          </Text>
        </Text>
        <Autocomplete
          size="xs"
          label="server"
          data={servers}
          value={params.server}
          onChange={(v) => onFilter({ server: v })}
          w={150}
          clearable
        />
        <Autocomplete
          size="xs"
          label="tool"
          data={tools}
          value={params.tool}
          onChange={(v) => onFilter({ tool: v })}
          w={150}
          clearable
        />
        <Autocomplete
          size="xs"
          label="decision"
          data={DECISIONS}
          value={params.decision}
          onChange={(v) => onFilter({ decision: v })}
          w={120}
          clearable
        />
        <Select
          size="xs"
          label="outcome"
          data={[...OUTCOMES]}
          value={params.outcome || null}
          onChange={(v) => onFilter({ outcome: v ?? '' })}
          w={130}
          clearable
        />
      </Group>
      {events.error ? (
        <ApiErrorAlert error={events.error} neededRoles={ROLES} onRetry={() => void events.refetch()} />
      ) : null}
      <Table.ScrollContainer minWidth={900} maxHeight={520}>
        <Table
          stickyHeader
          striped
          highlightOnHover
          verticalSpacing={2}
          fz="xs"
          aria-label="events"
          style={{ whiteSpace: 'nowrap' }}
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th>occurredAt</Table.Th>
              <Table.Th>kind</Table.Th>
              <Table.Th>outcome</Table.Th>
              <Table.Th>decision</Table.Th>
              <Table.Th>server</Table.Th>
              <Table.Th>tool</Table.Th>
              <Table.Th>action</Table.Th>
              <Table.Th>touched</Table.Th>
              <Table.Th>matchedRules</Table.Th>
              <Table.Th ta="right">gateway / upstream</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((e) => (
              <Table.Tr
                key={e.id}
                tabIndex={0}
                style={{ cursor: 'pointer' }}
                onClick={() => setOpen(e)}
                onKeyDown={(k) => {
                  if (k.key === 'Enter' || k.key === ' ') {
                    k.preventDefault();
                    setOpen(e);
                  }
                }}
              >
                <Table.Td>
                  <Stamp at={e.occurredAt} seconds />
                </Table.Td>
                <Table.Td>{e.kind}</Table.Td>
                <Table.Td>
                  <OutcomeBadge outcome={e.outcome} />
                </Table.Td>
                <Table.Td>{e.decision ?? ''}</Table.Td>
                <Table.Td ff="monospace">{e.server ?? ''}</Table.Td>
                <Table.Td ff="monospace">{e.tool ?? (e.adminAction || e.method)}</Table.Td>
                <Table.Td>{e.action ?? ''}</Table.Td>
                <Table.Td ff="monospace">{(e.touched ?? []).join(', ')}</Table.Td>
                <Table.Td ff="monospace">{(e.matchedRules ?? []).join(', ')}</Table.Td>
                <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                  {e.gatewayUs != null
                    ? `${(e.gatewayUs / 1000).toFixed(1)} / ${((e.upstreamUs ?? 0) / 1000).toFixed(1)} ms`
                    : ''}
                </Table.Td>
              </Table.Tr>
            ))}
            {!events.isPending && rows.length === 0 && !events.error ? (
              <Table.Tr>
                <Table.Td colSpan={10}>
                  <Text size="xs" className={classes.muted}>
                    No events match this filter in this period.
                  </Text>
                </Table.Td>
              </Table.Tr>
            ) : null}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Group justify="center" mt="xs">
        {events.hasNextPage ? (
          <Button
            size="xs"
            variant="default"
            loading={events.isFetchingNextPage}
            onClick={() => void events.fetchNextPage()}
          >
            Load older
          </Button>
        ) : rows.length > 0 ? (
          <Text size="xs" className={classes.muted}>
            That is every event of the period.
          </Text>
        ) : null}
      </Group>
      <EventDrawer event={open} onClose={() => setOpen(null)} />
    </Paper>
  );
}
