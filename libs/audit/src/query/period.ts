import * as chrono from 'chrono-node';

/** A half-open interval [from, to) and the words it came from. */
export interface Period {
  from: Date;
  to: Date;
  /** The phrase as given, or undefined for explicit `from`/`to`. */
  phrase?: string;
  timeZone: string;
}

/** Thrown for a phrase or time zone that cannot be understood; the message says what to send. */
export class PeriodError extends Error {}

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
  const text = phrase.trim().replace(HOUR_RANGE, (_m, a: string, b: string) => `from ${a}:00 to ${b}:00`);
  const [result] = chrono.parse(
    text,
    { instant: now, timezone: offsetAt(now, zone) },
    { forwardDate: false },
  );
  if (!result) {
    throw new PeriodError(
      `cannot read the period "${phrase}": try "today", "yesterday 9-17", "last Thursday", "last week", or send from and to`,
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
