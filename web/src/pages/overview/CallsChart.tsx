import { BarChart } from '@mantine/charts';

export interface CallsChartRow {
  minute: string;
  Allowed: number;
  Denied: number;
  'Rate-limited': number;
  Errors: number;
}

/** Calls per minute stacked by decision (its own chunk: the chart library loads after the numbers). */
export default function CallsChart({ data }: { data: CallsChartRow[] }) {
  return (
    <BarChart
      h={220}
      data={data}
      dataKey="minute"
      type="stacked"
      withLegend
      tickLine="y"
      series={[
        { name: 'Allowed', color: 'teal.6' },
        { name: 'Denied', color: 'orange.6' },
        { name: 'Rate-limited', color: 'yellow.6' },
        { name: 'Errors', color: 'red.6' },
      ]}
    />
  );
}
