import { Button, Group, Loader, Stack, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import { fetchPeriod, type PeriodProblem, type ResolvedPeriod } from './contracts';
import { ROLES } from './params';
import classes from './activity.module.css';
import { nextStep } from '../../components/ApiErrorAlert';
import { utcTime, wallTime } from './time';

/** The resolved interval of a phrase, asked of the server (the same parser as every audit query). */
export function usePeriod(phrase: string, timeZone: string) {
  const trimmed = phrase.trim();
  return useQuery<ResolvedPeriod, Error>({
    queryKey: ['audit', 'period', trimmed, timeZone],
    queryFn: ({ signal }) => fetchPeriod(trimmed, timeZone, signal),
    enabled: trimmed !== '',
    // An interactive lookup: a failure is shown at once, the next keystroke asks again.
    retry: false,
    staleTime: 30_000,
  });
}

/** "Thu 3 Dec 00:00 → Fri 4 Dec 00:00 (Europe/Berlin)". */
export function rangeText(period: { from: string; to: string }, timeZone: string): string {
  return `${wallTime(period.from, timeZone)} → ${wallTime(period.to, timeZone)} (${timeZone})`;
}

/**
 * The period box: takes the API's phrases ("last Thursday", "yesterday 9-17", "last week", ISO
 * ranges) in the viewer's time zone, shows the interval the server resolves them to while typing
 * (before anything runs), and the server's suggestions when it cannot read them. Submitting hands
 * the phrase to `onRun`; the typed text is never cleared by a refusal.
 */
export function PeriodBox({
  value,
  timeZone,
  onRun,
}: {
  value: string;
  timeZone: string;
  onRun: (phrase: string) => void;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const [debounced] = useDebouncedValue(text, 300);
  const period = usePeriod(debounced, timeZone);
  const stale = debounced.trim() !== text.trim();
  // A 400 is about the phrase itself (shown on the box); anything else is the gateway's trouble.
  const problem =
    period.error instanceof ApiError && period.error.status === 400
      ? (period.error.problem as PeriodProblem)
      : undefined;
  const suggestions = problem?.suggestions ?? [];

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() !== '' && !(problem && !stale)) onRun(text.trim());
  };

  let status: React.ReactNode = null;
  if (text.trim() === '') {
    status = (
      <Text size="xs" className={classes.muted}>
        Type a period, e.g. “last Thursday”, “yesterday 9-17”, “last week”.
      </Text>
    );
  } else if (stale || period.isFetching) {
    status = (
      <Group gap={6}>
        <Loader size={12} />
        <Text size="xs" className={classes.muted}>
          Reading “{text.trim()}”…
        </Text>
      </Group>
    );
  } else if (period.data) {
    status = (
      <Text
        size="xs"
        data-testid="period-range"
        title={`${utcTime(period.data.from)} → ${utcTime(period.data.to)}`}
      >
        {rangeText(period.data, period.data.tz || timeZone)}
      </Text>
    );
  }

  return (
    <form onSubmit={submit} aria-label="Period">
      <Stack gap={4}>
        <Group gap="xs" align="flex-end" wrap="nowrap">
          <TextInput
            label="Period"
            description={`In your time zone, ${timeZone}`}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            placeholder="last Thursday"
            w={260}
            classNames={{ description: classes.muted }}
            error={problem ? `${problem.code}: ${problem.message}` : undefined}
            aria-describedby="period-status"
          />
          <Button type="submit" color="indigo.8" disabled={text.trim() === '' || Boolean(problem && !stale)}>
            Show activity
          </Button>
        </Group>
        <div id="period-status" aria-live="polite">
          {status}
          {period.error && !stale && !period.isFetching ? (
            <Stack gap={4}>
              {!problem ? (
                <Text size="xs" c="red">
                  {period.error instanceof ApiError ? `${period.error.problem.code}: ` : ''}
                  {period.error.message} — {nextStep(period.error, ROLES).advice}
                </Text>
              ) : null}
              {suggestions.length > 0 ? (
                <Group gap={6}>
                  <Text size="xs">Try:</Text>
                  {suggestions.map((s) => (
                    <Button
                      key={s}
                      size="compact-xs"
                      variant="outline"
                      color="indigo.8"
                      onClick={() => setText(s)}
                    >
                      {s}
                    </Button>
                  ))}
                </Group>
              ) : null}
            </Stack>
          ) : null}
        </div>
      </Stack>
    </form>
  );
}
