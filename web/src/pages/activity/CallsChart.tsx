import { BarChart } from '@mantine/charts';
import { Paper, Text } from '@mantine/core';
import { DECISION_SERIES, type Timeline } from './contracts';
import classes from './activity.module.css';
import { viewerTimeZone } from './time';

/** The timeline's series in the API's words, coloured so refusals stand out. */
export const SERIES_COLOURS: Record<(typeof DECISION_SERIES)[number], string> = {
  allowed: 'teal.6',
  denied: 'red.7',
  shadow_denied: 'orange.5',
  rate_limited: 'yellow.6',
  bypassed: 'grape.6',
  failed: 'gray.6',
};

/** A bucket's label in the viewer's zone: hours for short buckets, days for long ones. */
function bucketLabel(start: string, bucketSeconds: number, timeZone: string): string {
  const at = new Date(start);
  const opts: Intl.DateTimeFormatOptions =
    bucketSeconds >= 86_400
      ? { timeZone, weekday: 'short', day: 'numeric', month: 'short' }
      : { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return new Intl.DateTimeFormat('en-GB', opts).format(at);
}

/** Calls over the period, one stacked bar per bucket, split by decision. */
export function CallsChart({ timeline }: { timeline: Timeline }) {
  const timeZone = viewerTimeZone();
  const data = timeline.buckets.map((b) => ({
    ...b,
    bucket: bucketLabel(b.start, timeline.bucketSeconds, timeZone),
  }));
  const total = timeline.buckets.reduce(
    (n, b) => n + DECISION_SERIES.reduce((m, s) => m + (b[s] ?? 0), 0),
    0,
  );
  const minutes = Math.round(timeline.bucketSeconds / 60);
  return (
    <Paper component="section" withBorder p="xs" aria-label="calls over the period">
      <Text fw={600} size="sm" mb={4}>
        calls over the period{' '}
        <Text span size="xs" className={classes.muted}>
          ({total} in buckets of {minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`}, by decision)
        </Text>
      </Text>
      <BarChart
        h={180}
        data={data}
        dataKey="bucket"
        type="stacked"
        withLegend
        legendProps={{ verticalAlign: 'top', height: 28 }}
        tickLine="none"
        gridAxis="y"
        yAxisProps={{ allowDecimals: false }}
        series={DECISION_SERIES.map((name) => ({ name, color: SERIES_COLOURS[name] }))}
      />
    </Paper>
  );
}
