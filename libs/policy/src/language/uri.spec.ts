import type { Principal } from '@gatehouse/auth';
import { compilePolicy } from '../engine/compile';
import { parsePolicy } from './parse';
import { canonicalUri, looseUri } from './uri';

const DENIED = 'demo://resource/dynamic/text/1';

describe('canonicalUri (13.4)', () => {
  it.each([
    [DENIED, DENIED],
    ['DEMO://Resource/dynamic/text/1', DENIED],
    ['demo://resource/dynamic/./text/1', DENIED],
    ['demo://resource/dynamic/x/../text/1', DENIED],
    ['demo://resource/dynamic/%74ext/%31', DENIED],
    ['demo://resource/dynamic/%2e/text/1', DENIED],
    ['demo://resource/dynamic/%2E%2E/dynamic/text/1', DENIED],
    ['file:///tmp/../etc/hostname', 'file:///etc/hostname'],
    ['HTTPS://User@EXAMPLE.com:8443/A/b?Q=%7e#F', 'https://User@example.com:8443/A/b?Q=~#F'],
    ['demo://r/a%c3%a9', 'demo://r/a%C3%A9'],
    ['urn:Example:a', 'urn:Example:a'],
  ])('%s → %s', (raw, canonical) => {
    expect(canonicalUri(raw)).toEqual({ ok: true, uri: canonical });
  });

  it('is idempotent', () => {
    for (const raw of ['DEMO://R/./a/../b/%41', 'file:///a//b/', 'x:y/./z']) {
      const once = canonicalUri(raw);
      expect(once.ok && canonicalUri(once.uri)).toEqual(once);
    }
  });

  it.each([
    ['demo://resource/dynamic/text%2F1', /encodes a slash/],
    ['demo://resource/dynamic/text%5c1', /encodes a backslash/],
    ['demo://resource/dynamic\\text/1', /backslash/],
    ['demo://resource/dynamic/text/1\u0000', /control character/],
    ['demo://resource/dynamic/text/1%00', /control character/],
    ['demo://resource/dynamic/text/%zz', /two hex digits/],
    ['/etc/passwd', /not an absolute URI/],
    ['', /not an absolute URI/],
  ])('refuses %j', (raw, why) => {
    const result = canonicalUri(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(why);
  });
});

describe('looseUri (13.4)', () => {
  it.each([
    ['demo://resource/dynamic/text/01', 'demo://resource/dynamic/text/1'],
    ['demo://resource/dynamic/text/000', 'demo://resource/dynamic/text/0'],
    ['demo://resource/dynamic//text/1/', 'demo://resource/dynamic/text/1'],
    ['demo://resource/dynamic/TEXT/1?x=1#f', 'demo://resource/dynamic/text/1'],
    ['demo://resource/dynamic/text/%20', 'demo://resource/dynamic/text/ '],
  ])('%s → %s', (canonical, loose) => {
    expect(looseUri(canonical)).toBe(loose);
  });
});

describe('resource rules decide on the canonical URI (13.4)', () => {
  const parsed = parsePolicy([
    {
      path: 'policy.yaml',
      text: `- id: read-demo
  subject: { any: true }
  resource: { server: demo }
  action: read
- id: no-text-1
  effect: deny
  subject: { any: true }
  resource: { server: demo, tool: '${DENIED}' }
  action: read
- id: bob-text-2
  subject: { user: bob }
  resource: { server: other, tool: 'demo://resource/dynamic/text/2' }
  action: read
- id: bob-text-3-as-written
  subject: { user: bob }
  resource: { server: other, tool: 'DEMO://resource/dynamic/./text/3' }
  action: read
`,
    },
  ]);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const policy = compilePolicy(parsed.document, 1);
  const bob: Principal = {
    kind: 'user',
    issuer: 'i',
    subject: 'bob',
    groups: [],
    roles: [],
    scopes: [],
    expiresAt: Infinity,
  };
  const read = (server: string, raw: string) => {
    const c = canonicalUri(raw);
    if (!c.ok) throw new Error(c.reason);
    return policy.decide({
      principal: bob,
      server,
      serverTags: {},
      tool: c.uri,
      aliases: [looseUri(c.uri)],
      args: {},
      action: 'read',
      touched: [],
      relations: { known: false, why: 'a resource' },
      now: new Date(),
    }).outcome;
  };

  it.each([
    DENIED,
    'demo://resource/dynamic/text/01',
    'DEMO://RESOURCE/dynamic/text/1',
    'demo://resource/dynamic/./text/1',
    'demo://resource/dynamic/text/1/',
    'demo://resource/dynamic//text/1',
    'demo://resource/dynamic/text/1?x',
    'demo://resource/dynamic/Text/%31',
  ])('13.4: the deny on text/1 covers %s', (uri) => {
    expect(read('demo', uri)).toBe('deny');
  });

  it('leaves other resources alone', () => {
    expect(read('demo', 'demo://resource/dynamic/text/10')).toBe('allow');
    expect(read('demo', 'demo://resource/dynamic/text/2')).toBe('allow');
  });

  it('an exact URI in a rule is compared in canonical form', () => {
    expect(read('other', 'demo://resource/dynamic/text/3')).toBe('allow');
  });

  it('an allow matches the canonical URI only, never a loose alias', () => {
    expect(read('other', 'DEMO://resource/dynamic/./text/2')).toBe('allow');
    expect(read('other', 'demo://resource/dynamic/text/02')).toBe('deny');
  });
});
