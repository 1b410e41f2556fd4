import * as chrono from 'chrono-node';

/** A half-open interval [from, to) and the words it came from. */
export interface Period {
  from: Date;
  to: Date;
  /** The phrase as given, or undefined for explicit `from`/`to`. */
  phrase?: string;
  timeZone: string;
}

/**
 * Thrown for a phrase or time zone that cannot be understood; the message says what to send.
 * `unreadable` marks a phrase nothing could be read from (the API answers `PERIOD_UNREADABLE`
 * with {@link periodSuggestions}).
 */
export class PeriodError extends Error {
  constructor(
    message: string,
    readonly unreadable = false,
  ) {
    super(message);
  }
}

/** Phrases this resolver reads, to offer when it cannot read one; the ISO range ends with today. */
export function periodSuggestions(timeZone: string, now: Date): string[] {
  let zone = 'UTC';
  try {
    zone = checkTimeZone(timeZone);
  } catch {
    // the suggestions still help in UTC
  }
  const today = wallAt(now, zone);
  const iso = (w: Wall) => `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  return [
    'today',
    'yesterday 9-17',
    'last Thursday',
    'last week',
    'this month',
    'last 7 days',
    `${iso(addDays(today, -2))}..${iso(today)}`,
  ];
}

/** Throws {@link PeriodError} unless `timeZone` is an IANA name this runtime knows. */
export function checkTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new PeriodError(`unknown time zone "${timeZone}": send an IANA name such as Europe/Berlin`);
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const parts = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in `timeZone` at `instant`. */
function wallAt(instant: Date, timeZone: string): Wall {
  let format = parts.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    parts.set(timeZone, format);
  }
  const value = (type: string) => Number(format.formatToParts(instant).find((p) => p.type === type)?.value);
  return {
    year: value('year'),
    month: value('month'),
    day: value('day'),
    hour: value('hour'),
    minute: value('minute'),
  };
}

/** Minutes `timeZone` is ahead of UTC at `instant`. */
function offsetAt(instant: Date, timeZone: string): number {
  const w = wallAt(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  return Math.round((asUtc - Math.floor(instant.getTime() / 60000) * 60000) / 60000);
}

/** The instant a wall clock reading in `timeZone` names (the earlier one in a DST overlap). */
export function instantOf(wall: Wall, timeZone: string): Date {
  const naive = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Two rounds settle the offset even when the first guess lands across a DST change.
  let guess = naive - offsetAt(new Date(naive), timeZone) * 60000;
  guess = naive - offsetAt(new Date(guess), timeZone) * 60000;
  return new Date(guess);
}

const addDays = (w: Wall, days: number): Wall => {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0 };
};

const HOUR_RANGE = /\b([01]?\d|2[0-4])\s*[-–]\s*([01]?\d|2[0-4])\b(?![:.\d])/;

/**
 * Parses a natural phrase ("today", "yesterday 9-17", "last Thursday", "last week", "March 3 to
 * March 5") with chrono-node as a person in `timeZone` means it at `now`. A day without hours is
 * the whole day; "week" and "month" phrases are the whole calendar week (Monday first) or month;
 * a time without an end is that hour. `9-17` after a day is read as hours, not as September 17.
 */
export function parsePeriod(phrase: string, timeZone: string, now: Date): Period {
  const zone = checkTimeZone(timeZone);
  const exact = isoRange(phrase, zone) ?? countedDays(phrase, zone, now) ?? wholeYear(phrase, zone, now);
  if (exact) {
    if (exact.to <= exact.from) throw new PeriodError(`the period "${phrase}" ends before it starts`);
    return { ...exact, phrase, timeZone: zone };
  }
  const text = phrase.trim().replace(HOUR_RANGE, (_m, a: string, b: string) => `from ${a}:00 to ${b}:00`);
  const [result] = chrono.parse(
    text,
    { instant: now, timezone: offsetAt(now, zone) },
    { forwardDate: false },
  );
  if (!result) {
    throw new PeriodError(
      `cannot read the period "${phrase}": try "today", "yesterday 9-17", "last Thursday", "last week", "2026-12-01..2026-12-03", or send from and to`,
      true,
    );
  }
  // chrono computed the instant with the offset in force now; read it back as a wall date with
  // that same offset, then place the wall times with the offset of their own day.
  const shift = offsetAt(now, zone) * 60000;
  const local = (d: Date): Wall => {
    const s = new Date(d.getTime() + shift);
    return {
      year: s.getUTCFullYear(),
      month: s.getUTCMonth() + 1,
      day: s.getUTCDate(),
      hour: s.getUTCHours(),
      minute: s.getUTCMinutes(),
    };
  };
  const start = local(result.start.date());
  const day: Wall = { ...start, hour: 0, minute: 0 };
  let from: Wall;
  let to: Wall;
  if (/\bweek\b/i.test(text)) {
    // chrono anchors "this week" on a Sunday; the week here starts on Monday.
    if (/\bthis\s+week\b/i.test(text)) Object.assign(day, local(now), { hour: 0, minute: 0 });
    const weekday = (new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay() + 6) % 7;
    from = addDays(day, -weekday);
    to = addDays(from, 7);
  } else if (/\bmonth\b/i.test(text)) {
    from = { ...day, day: 1 };
    to = addDays({ ...day, day: 1 }, 32);
    to = { ...to, day: 1 };
  } else if (result.start.isCertain('hour')) {
    from = start;
    if (result.end) to = local(result.end.date());
    else to = { ...start, hour: start.hour + 1 };
    if (result.end && !result.end.isCertain('hour')) to = addDays(local(result.end.date()), 1);
  } else {
    from = day;
    to = addDays(result.end ? { ...local(result.end.date()), hour: 0, minute: 0 } : day, 1);
  }
  const fromInstant = instantOf(from, zone);
  const toInstant = instantOf(to, zone);
  if (toInstant <= fromInstant) {
    throw new PeriodError(`the period "${phrase}" ends before it starts`);
  }
  return { from: fromInstant, to: toInstant, phrase, timeZone: zone };
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** One end of an ISO range: a date (a whole day in the zone) or an instant with its offset. */
function isoEnd(text: string, zone: string, end: boolean): Date | undefined {
  const day = ISO_DAY.exec(text);
  if (day) {
    const wall = { year: Number(day[1]), month: Number(day[2]), day: Number(day[3]), hour: 0, minute: 0 };
    const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day));
    if (check.getUTCMonth() !== wall.month - 1 || check.getUTCDate() !== wall.day) return undefined;
    return instantOf(end ? addDays(wall, 1) : wall, zone);
  }
  if (ISO_INSTANT.test(text) && !Number.isNaN(Date.parse(text))) return new Date(text);
  return undefined;
}

/**
 * `2026-12-01..2026-12-03` (also `to`, `/` or a dash between): dates are whole days in the zone,
 * both ends included; instants carry their own offset and the end is excluded. A single date is
 * that day.
 */
function isoRange(phrase: string, zone: string): { from: Date; to: Date } | undefined {
  const text = phrase.trim();
  if (ISO_DAY.test(text)) {
    const from = isoEnd(text, zone, false);
    const to = isoEnd(text, zone, true);
    if (!from || !to) throw new PeriodError(`cannot read the period "${phrase}": no such date`, true);
    return { from, to };
  }
  const m = /^(\S+)\s*(?:\.\.|\s\s*to\s\s*|\/|\s[-–]\s)\s*(\S+)$/i.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const from = isoEnd(m[1], zone, false);
  const to = isoEnd(m[2], zone, true);
  if (from && to) return { from, to };
  const bad = [m[1], m[2]].find((end) => /^\d{4}-\d{2}-\d{2}/.test(end) && !isoEnd(end, zone, false));
  if (bad) {
    throw new PeriodError(
      `cannot read the period "${phrase}": "${bad}" is not a date (YYYY-MM-DD) or an instant with an offset (2026-12-01T09:00:00Z)`,
      true,
    );
  }
  return undefined;
}

/** `last 7 days`, `past 2 weeks`: whole days in the zone, today included. */
function countedDays(phrase: string, zone: string, now: Date): { from: Date; to: Date } | undefined {
  const m = /^(?:last|past|previous)\s+(\d{1,4})\s+(day|week)s?$/i.exec(phrase.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const days = Number(m[1]) * (m[2].toLowerCase() === 'week' ? 7 : 1);
  if (days < 1 || days > 3660) return undefined;
  const today = { ...wallAt(now, zone), hour: 0, minute: 0 };
  return { from: instantOf(addDays(today, 1 - days), zone), to: instantOf(addDays(today, 1), zone) };
}

/** `this year`, `last year`, `2025`: the calendar year in the zone. */
function wholeYear(phrase: string, zone: string, now: Date): { from: Date; to: Date } | undefined {
  const text = phrase.trim().toLowerCase();
  const current = wallAt(now, zone).year;
  const year =
    text === 'this year'
      ? current
      : text === 'last year'
        ? current - 1
        : /^\d{4}$/.test(text)
          ? Number(text)
          : 0;
  if (year < 1970 || year > 9999) return undefined;
  const start = { year, month: 1, day: 1, hour: 0, minute: 0 };
  return { from: instantOf(start, zone), to: instantOf({ ...start, year: year + 1 }, zone) };
}
