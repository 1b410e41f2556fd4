import { Text } from '@mantine/core';
import { localTime, viewerZone } from './words';

/** A moment in the viewer's zone, UTC on hover; "—" when there is none. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <>—</>;
  const date = new Date(at);
  return (
    <Text component="time" dateTime={date.toISOString()} title={`${date.toISOString()} (UTC)`} size="sm">
      {localTime(date, viewerZone())}
    </Text>
  );
}
