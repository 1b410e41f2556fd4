import {
  eventAlert,
  firstUseAlert,
  firstUseId,
  summaryAlerts,
  summaryId,
  windowStart,
  type GrantEventRow,
  type UseCountRow,
} from './alert';

const GRANT = '6f1c1d52-7a8b-4c1e-9f00-000000000001';
const OTHER = '6f1c1d52-7a8b-4c1e-9f00-000000000002';

const event = (over: Partial<GrantEventRow>): GrantEventRow => ({
  grantId: GRANT,
  action: 'open',
  actorSubject: 'erin',
  actorName: 'Erin Responder',
  at: new Date('2026-11-24T05:00:00.000Z'),
  comment: null,
  mode: 'immediate',
  reason: 'payments API down',
  incident: 'INC-4711',
  servers: ['everything'],
  tools: ['*'],
  expiresAt: new Date('2026-11-24T06:00:00.000Z'),
  openedBySubject: 'erin',
  ...over,
});

const uses = (over: Partial<UseCountRow>): UseCountRow => ({
  grantId: GRANT,
  windowStart: 1_795_496_400,
  subject: 'alice',
  server: 'everything',
  tool: 'echo',
  count: 1,
  recordIds: [],
  ...over,
});

describe('eventAlert', () => {
  it.each([
    [
      'open',
      'bypass_opened',
      9,
      /opened by Erin Responder \(erin\) for bypass\/grants\/.+active until 2026-11-24T06:00:00.000Z.+incident INC-4711\): payments API down$/,
    ],
    ['approve', 'bypass_approved', 8, /bypass\/grants\/.+ approved by Erin Responder \(erin\), active until/],
    ['revoke', 'bypass_revoked', 5, /bypass\/grants\/.+ revoked by Erin Responder \(erin\): done$/],
    [
      'expire',
      'bypass_expired',
      4,
      /bypass\/grants\/.+ expired at 2026-11-24T06:00:00.000Z \(opened by erin\)$/,
    ],
  ] as const)(
    'turns a grant %s into %s with severity %d and the id <kind>-<grant>',
    (action, kind, severity, message) => {
      const alert = eventAlert(event({ action, comment: action === 'revoke' ? 'done' : null }));
      expect(alert).toMatchObject({
        id: `${kind}-${GRANT}`,
        kind,
        severity,
        grantId: GRANT,
        subject: 'erin',
        occurredAt: '2026-11-24T05:00:00.000Z',
        recordIds: [],
      });
      expect(alert.message).toMatch(message);
    },
  );

  it('says an approval-first grant waits for a second person, and names a subject without a display name once', () => {
    const alert = eventAlert(event({ mode: 'approval-first', actorName: null, incident: null }));
    expect(alert.message).toBe(
      `break-glass bypass opened by erin for bypass/grants/${GRANT} (waiting for a second person to approve; servers everything, tools *): payments API down`,
    );
  });
});

describe('firstUseAlert', () => {
  it('names the caller and the tool, with one id per grant whichever call came first', () => {
    const row = {
      grantId: GRANT,
      recordId: 'r-1',
      occurredAt: new Date('2026-11-24T05:01:00.000Z'),
      subject: 'alice',
      server: 'everything',
      tool: 'echo',
      method: 'tools/call',
    };
    expect(firstUseAlert(row)).toEqual({
      id: firstUseId(GRANT),
      kind: 'bypass_first_use',
      occurredAt: '2026-11-24T05:01:00.000Z',
      severity: 8,
      message: `first call under break-glass bypass bypass/grants/${GRANT}: alice called everything/echo`,
      subject: 'alice',
      server: 'everything',
      tool: 'echo',
      recordIds: ['r-1'],
      grantId: GRANT,
    });
    expect(firstUseAlert({ ...row, subject: 'bob', recordId: 'r-2' }).id).toBe(firstUseAlert(row).id);
  });

  it('names the method when the call has no tool', () => {
    expect(
      firstUseAlert({
        grantId: GRANT,
        recordId: 'r-1',
        occurredAt: new Date(0),
        subject: 'alice',
        server: 'everything',
        tool: null,
        method: 'tools/list',
      }).message,
    ).toMatch(/alice called tools\/list on everything$/);
  });
});

describe('summaryAlerts', () => {
  it('makes one summary per grant and window, counting by person, server and tool, most first', () => {
    const alerts = summaryAlerts(
      [
        uses({ subject: 'bob', count: 2, recordIds: ['b1', 'b2'] }),
        uses({ subject: 'alice', count: 5, recordIds: ['a1'] }),
        uses({ subject: 'alice', tool: 'add', count: 1 }),
        uses({ grantId: OTHER, count: 3 }),
        uses({ windowStart: 1_795_496_400 + 900, count: 4 }),
      ],
      900,
    );
    expect(alerts.map((a) => [a.id, a.count])).toEqual([
      [summaryId(GRANT, 1_795_496_400), 8],
      [summaryId(OTHER, 1_795_496_400), 3],
      [summaryId(GRANT, 1_795_497_300), 4],
    ]);
    const [first] = alerts;
    expect(first).toMatchObject({
      kind: 'bypass_uses_summary',
      occurredAt: '2026-11-24T05:00:00.000Z',
      windowSeconds: 900,
      grantId: GRANT,
      recordIds: ['a1', 'b1', 'b2'],
      uses: [
        { subject: 'alice', server: 'everything', tool: 'echo', count: 5 },
        { subject: 'bob', server: 'everything', tool: 'echo', count: 2 },
        { subject: 'alice', server: 'everything', tool: 'add', count: 1 },
      ],
    });
    expect(first?.message).toBe(
      `8 calls under break-glass bypass bypass/grants/${GRANT} in the 900 s from 2026-11-24T05:00:00.000Z: alice 6, bob 2`,
    );
  });

  it('makes no summary of a window without calls', () => {
    expect(summaryAlerts([], 900)).toEqual([]);
  });

  it('names at most 20 records', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const [alert] = summaryAlerts([uses({ count: 30, recordIds: ids })], 60);
    expect(alert?.recordIds).toHaveLength(20);
    expect(alert?.message).toMatch(/^30 calls /);
  });
});

describe('windowStart', () => {
  it.each([
    [Date.parse('2026-11-24T05:14:59.999Z'), 900, Date.parse('2026-11-24T05:00:00Z') / 1000],
    [Date.parse('2026-11-24T05:15:00.000Z'), 900, Date.parse('2026-11-24T05:15:00Z') / 1000],
    [Date.parse('2026-11-24T05:15:04.000Z'), 5, Date.parse('2026-11-24T05:15:00Z') / 1000],
  ])('puts %d in the window of %d s starting at %d (aligned to the epoch)', (at, seconds, start) => {
    expect(windowStart(at, seconds)).toBe(start);
  });
});
