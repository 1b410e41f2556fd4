import { Time } from '../../components/Time';

/** The viewer's IANA time zone, as the browser knows it (the period box sends it as `tz`). */
export function viewerTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(timeZone: string, withYear: boolean, seconds: boolean): Intl.DateTimeFormat {
  const key = `${timeZone}|${withYear}|${seconds}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      ...(withYear ? { year: 'numeric' } : {}),
      hour: '2-digit',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
    });
    formats.set(key, f);
  }
  return f;
}

/**
 * "Thu 3 Dec 00:00" in `timeZone` (the year is added when it is not the current one), so a
 * sentence reads like the brief's example whatever the browser's locale.
 */
export function wallTime(iso: string, timeZone = viewerTimeZone(), seconds = false): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const withYear = at.getUTCFullYear() !== new Date().getUTCFullYear();
  const parts = format(timeZone, withYear, seconds).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const clock = `${get('hour')}:${get('minute')}${seconds ? `:${get('second')}` : ''}`;
  return [get('weekday'), get('day'), get('month'), withYear ? get('year') : '', clock]
    .filter(Boolean)
    .join(' ');
}

/** ISO UTC with the zone spelled out, for the hover. */
export function utcTime(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : `${at.toISOString().replace('.000Z', 'Z')} (UTC)`;
}

const stampFormats = new Map<string, Intl.DateTimeFormat>();

/** An instant in the viewer's zone ("Thu 3 Dec, 09:15"), UTC on hover: the shell's `<Time>`. */
export function Stamp({ at, seconds = false }: { at: string; seconds?: boolean }) {
  const timeZone = viewerTimeZone();
  const key = `${timeZone}|${seconds}`;
  let format = stampFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
    });
    stampFormats.set(key, format);
  }
  return <Time value={at} format={format} />;
}
