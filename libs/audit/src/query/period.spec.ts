import { parsePeriod, PeriodError } from './period';

/** Thursday 12 March 2026, 10:00 UTC (Berlin is UTC+1, New York has been on UTC-4 since 8 March). */
const NOW = new Date('2026-03-12T10:00:00Z');

describe('parsePeriod', () => {
  it.each([
    ['today', 'Europe/Berlin', NOW, '2026-03-11T23:00:00.000Z', '2026-03-12T23:00:00.000Z'],
    ['yesterday', 'UTC', NOW, '2026-03-11T00:00:00.000Z', '2026-03-12T00:00:00.000Z'],
    ['yesterday 9-17', 'Europe/Berlin', NOW, '2026-03-11T08:00:00.000Z', '2026-03-11T16:00:00.000Z'],
    ['yesterday 9–17', 'America/New_York', NOW, '2026-03-11T13:00:00.000Z', '2026-03-11T21:00:00.000Z'],
    ['yesterday 9am-5pm', 'UTC', NOW, '2026-03-11T09:00:00.000Z', '2026-03-11T17:00:00.000Z'],
    ['last Thursday', 'Europe/Berlin', NOW, '2026-03-04T23:00:00.000Z', '2026-03-05T23:00:00.000Z'],
    ['last week', 'Europe/Berlin', NOW, '2026-03-01T23:00:00.000Z', '2026-03-08T23:00:00.000Z'],
    ['this week', 'UTC', NOW, '2026-03-09T00:00:00.000Z', '2026-03-16T00:00:00.000Z'],
    ['last month', 'UTC', NOW, '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
    ['March 3 to March 5', 'UTC', NOW, '2026-03-03T00:00:00.000Z', '2026-03-06T00:00:00.000Z'],
    // The DST day in New York has 23 hours.
    [
      'yesterday',
      'America/New_York',
      new Date('2026-03-09T15:00:00Z'),
      '2026-03-08T05:00:00.000Z',
      '2026-03-09T04:00:00.000Z',
    ],
    // Late in the evening in New York it is already the next day in UTC: "today" is still the local day.
    [
      'today',
      'America/New_York',
      new Date('2026-03-13T02:30:00Z'),
      '2026-03-12T04:00:00.000Z',
      '2026-03-13T04:00:00.000Z',
    ],
  ])('reads "%s" in %s', (phrase, tz, now, from, to) => {
    const period = parsePeriod(phrase, tz, now);
    expect([period.from.toISOString(), period.to.toISOString()]).toEqual([from, to]);
    expect(period.timeZone).toBe(tz);
  });

  it('refuses an unknown time zone, naming it', () => {
    expect(() => parsePeriod('today', 'Mars/Olympus', NOW)).toThrow(PeriodError);
    expect(() => parsePeriod('today', 'Mars/Olympus', NOW)).toThrow('unknown time zone "Mars/Olympus"');
  });

  it('refuses words that name no time, suggesting phrases', () => {
    expect(() => parsePeriod('whenever', 'UTC', NOW)).toThrow(
      /cannot read the period "whenever": try "today"/,
    );
  });
});
