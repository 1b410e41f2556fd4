import { Tooltip } from '@mantine/core';

const local = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

/** "2026-12-08 01:32:18 UTC" */
export function utcText(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The viewer's time zone, e.g. Europe/Berlin. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * A point in time in the viewer's own zone, with the UTC time on hover (and in the element's
 * `dateTime` for machines and screen readers).
 */
export function Time({ value, format }: { value: string | number | Date; format?: Intl.DateTimeFormat }) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return <span>{String(value)}</span>;
  const utc = utcText(date);
  return (
    <Tooltip label={utc} withArrow openDelay={200}>
      <time dateTime={date.toISOString()} title={utc} tabIndex={0}>
        {(format ?? local).format(date)}
      </time>
    </Tooltip>
  );
}
