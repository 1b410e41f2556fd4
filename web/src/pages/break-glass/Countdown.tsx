import { Text } from '@mantine/core';
import { useNow } from './useNow';

/** Under this much time left a countdown turns urgent (red, bold). */
export const URGENT_MS = 5 * 60 * 1000;

/** "1:02:03", "4:59", "0:07": hours only when there are some. */
export function remaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * Time left until `until`, ticking each second: "12:04 left", urgent (red) under five minutes,
 * then "expired". The exact end is in the title, in UTC.
 */
export function Countdown({ until, label = 'left' }: { until: string | Date; label?: string }) {
  const now = useNow(1000);
  const end = new Date(until);
  const left = end.getTime() - now;
  const expired = left <= 0;
  const urgent = !expired && left < URGENT_MS;
  return (
    <Text
      component="span"
      role="timer"
      size="sm"
      ff="monospace"
      fw={urgent ? 700 : 500}
      c={urgent ? 'red.9' : undefined}
      style={{ whiteSpace: 'nowrap' }}
      data-urgent={urgent ? 'true' : 'false'}
      title={`ends ${end.toISOString().replace('.000Z', 'Z')} (UTC)`}
    >
      {expired ? 'expired' : `${remaining(left)} ${label}`}
    </Text>
  );
}
