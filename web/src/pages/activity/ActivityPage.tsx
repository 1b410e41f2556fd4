import { Group, Paper, Skeleton, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { api, unwrap } from '../../api/client';
import { AnswerSentence, Touched } from './Answer';
import { fetchTimeline } from './contracts';
import { eventQuery, EventsTable } from './EventsTable';
import { ExportButtons } from './ExportButtons';
import { IntegrityBadge } from './IntegrityBadge';
import { DEFAULT_PERIOD, useActivityParams } from './params';
import { PeriodBox } from './PeriodBox';
import { PersonPicker } from './PersonPicker';
import { ApiErrorAlert } from '../../components/ApiErrorAlert';
import { viewerTimeZone } from './time';
import { ROLES } from './params';

// The chart library is most of this screen's JavaScript: the answer renders without waiting for it.
const CallsChart = lazy(() => import('./CallsChart').then((m) => ({ default: m.CallsChart })));

/**
 * Activity: "what did this person touch, and when?" — the answer as a sentence first, then what
 * was touched, calls over time by decision, every event with its whole record, exports of the
 * filter and the chain verification of the period. The URL names the whole view.
 */
export function ActivityPage() {
  const [params, update] = useActivityParams();
  const timeZone = viewerTimeZone();
  const period = params.period || DEFAULT_PERIOD;
  const user = params.user;

  const summary = useQuery({
    queryKey: ['audit', 'summary', user, period, timeZone],
    enabled: user !== '',
    queryFn: async ({ signal }) =>
      unwrap(
        await api.GET('/api/v1/audit/users/{subject}/summary', {
          params: { path: { subject: user }, query: { period, tz: timeZone } },
          signal,
        }),
      ),
  });
  const timeline = useQuery({
    queryKey: ['audit', 'timeline', user, period, timeZone],
    enabled: user !== '',
    queryFn: ({ signal }) => fetchTimeline(user, period, timeZone, signal),
  });
  const resolved = summary.data?.period;

  return (
    <Stack gap="sm" maw={1600}>
      <Title order={1} fz="h2">
        Activity
      </Title>
      <Group align="flex-start" gap="lg">
        <PersonPicker value={user} onChange={(subject) => update({ user: subject })} />
        <PeriodBox value={period} timeZone={timeZone} onRun={(phrase) => update({ period: phrase })} />
      </Group>

      {user === '' ? (
        <Paper withBorder p="md">
          <Text>
            Pick a person and a period to see what they touched: servers, tools and resources, every call, and
            the proof that the trail was not altered.
          </Text>
        </Paper>
      ) : summary.error ? (
        <ApiErrorAlert error={summary.error} neededRoles={ROLES} onRetry={() => void summary.refetch()} />
      ) : !summary.data || !resolved ? (
        <Stack gap="xs" aria-busy="true">
          <Skeleton h={32} w="70%" />
          <Skeleton h={120} />
        </Stack>
      ) : (
        <>
          <AnswerSentence who={user} summary={summary.data} timeZone={resolved.timeZone || timeZone} />
          <Group justify="space-between" align="flex-start">
            <IntegrityBadge period={resolved} />
            <ExportButtons
              query={eventQuery(params, resolved)}
              fileStem={`audit-${user}-${resolved.from.slice(0, 10)}`}
            />
          </Group>
          <Touched summary={summary.data} onFilter={(patch) => update(patch)} />
          {timeline.error ? (
            <ApiErrorAlert
              error={timeline.error}
              neededRoles={ROLES}
              onRetry={() => void timeline.refetch()}
            />
          ) : timeline.data ? (
            <Suspense fallback={<Skeleton h={180} />}>
              <CallsChart timeline={timeline.data} />
            </Suspense>
          ) : (
            <Skeleton h={180} />
          )}
          <EventsTable params={params} period={resolved} summary={summary.data} onFilter={update} />
        </>
      )}
    </Stack>
  );
}
