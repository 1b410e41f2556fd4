import { parsePeriod, PeriodError, periodSuggestions } from './period';

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
    // ISO ranges: dates are whole days in the zone, both included; instants keep their offset.
    ['2026-03-01..2026-03-03', 'UTC', NOW, '2026-03-01T00:00:00.000Z', '2026-03-04T00:00:00.000Z'],
    [
      '2026-03-01 to 2026-03-03',
      'Europe/Berlin',
      NOW,
      '2026-02-28T23:00:00.000Z',
      '2026-03-03T23:00:00.000Z',
    ],
    ['2026-03-05', 'Pacific/Kiritimati', NOW, '2026-03-04T10:00:00.000Z', '2026-03-05T10:00:00.000Z'],
    [
      '2026-03-05T09:00:00Z..2026-03-05T10:30:00+01:00',
      'UTC',
      NOW,
      '2026-03-05T09:00:00.000Z',
      '2026-03-05T09:30:00.000Z',
    ],
    ['last 7 days', 'UTC', NOW, '2026-03-06T00:00:00.000Z', '2026-03-13T00:00:00.000Z'],
    ['past 2 weeks', 'UTC', NOW, '2026-02-27T00:00:00.000Z', '2026-03-13T00:00:00.000Z'],
    ['last year', 'Europe/Berlin', NOW, '2024-12-31T23:00:00.000Z', '2025-12-31T23:00:00.000Z'],
    ['this year', 'UTC', NOW, '2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
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
    let thrown: unknown;
    try {
      parsePeriod('whenever', 'UTC', NOW);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PeriodError);
    expect((thrown as PeriodError).unreadable).toBe(true);
    expect(periodSuggestions('Pacific/Kiritimati', NOW)).toEqual([
      'today',
      'yesterday 9-17',
      'last Thursday',
      'last week',
      'this month',
      'last 7 days',
      '2026-03-11..2026-03-13',
    ]);
  });

  it('refuses an ISO range that ends before it starts, or a date that does not exist', () => {
    expect(() => parsePeriod('2026-03-05..2026-03-01', 'UTC', NOW)).toThrow('ends before it starts');
    expect(() => parsePeriod('2026-02-30..2026-03-01', 'UTC', NOW)).toThrow(PeriodError);
  });
});
