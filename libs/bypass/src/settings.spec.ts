import { modeFor, settingsFrom, type ModeRule } from './settings';

const UPSTREAMS = ['postgres-prod', 'postgres-staging', 'github'];
const RULES: ModeRule[] = [
  { servers: ['postgres-prod'], mode: 'approval-first' },
  { servers: ['*'], mode: 'immediate' },
];

describe('modeFor', () => {
  it.each([
    ['a server under an immediate rule', ['github'], false, 'immediate'],
    ['a server under an approval-first rule', ['postgres-prod'], false, 'approval-first'],
    ['a glob reaching an approval-first server', ['postgres-*'], false, 'approval-first'],
    ['every server, one of them approval-first', ['*'], false, 'approval-first'],
    ['a glob reaching only immediate servers', ['postgres-s*'], false, 'immediate'],
    ['the opener asking for approval', ['github'], true, 'approval-first'],
  ] as const)('%s', (_name, servers, ask, expected) => {
    expect(modeFor(servers, UPSTREAMS, RULES, ask)).toBe(expected);
  });

  it('the first matching rule decides for each server', () => {
    const rules: ModeRule[] = [
      { servers: ['github'], mode: 'immediate' },
      { servers: ['*'], mode: 'approval-first' },
    ];
    expect(modeFor(['github'], UPSTREAMS, rules, false)).toBe('immediate');
    expect(modeFor(['postgres-staging'], UPSTREAMS, rules, false)).toBe('approval-first');
  });
});

describe('settingsFrom', () => {
  const base = {
    defaultDurationMinutes: 60,
    maxDurationMinutes: 480,
    reviewWindowHours: 72,
    modes: [{ servers: ['*'], mode: 'immediate' as const }],
    alerts: { summarySeconds: 900 },
  };

  it('turns the configured minutes and hours into seconds', () => {
    expect(settingsFrom(base)).toMatchObject({
      defaultDurationSeconds: 3600,
      maxDurationSeconds: 28_800,
      reviewWindowSeconds: 259_200,
    });
  });

  it('stops start-up on a mode glob that does not compile, naming the key', () => {
    expect(() => settingsFrom({ ...base, modes: [{ servers: ['prod-['], mode: 'approval-first' }] })).toThrow(
      /bypass\.modes\[0\]\.servers\[0\]: "prod-\["/,
    );
  });
});
