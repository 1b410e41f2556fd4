import { memoryAdapter } from './memory-adapter';

describe('dev IdP memory adapter', () => {
  afterEach(() => jest.useRealTimers());

  it('finds what it stored until it expires', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const Adapter = memoryAdapter();
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('c1', { accountId: 'alice' }, 60);
    expect(await codes.find('c1')).toEqual({ accountId: 'alice' });
    jest.setSystemTime(1_000_000 + 59_999);
    expect(await codes.find('c1')).toBeDefined();
    jest.setSystemTime(1_000_000 + 60_000);
    expect(await codes.find('c1')).toBeUndefined();
  });

  it('keeps models apart and stores apart per IdP', async () => {
    const first = memoryAdapter();
    const second = memoryAdapter();
    await new first('AccessToken').upsert('x', { kind: 'at' }, 60);
    expect(await new first('RefreshToken').find('x')).toBeUndefined();
    expect(await new second('AccessToken').find('x')).toBeUndefined();
    expect(await new first('AccessToken').find('x')).toEqual({ kind: 'at' });
  });

  it('finds sessions by uid and device codes by user code', async () => {
    const Adapter = memoryAdapter();
    await new Adapter('Session').upsert('s1', { uid: 'u1', accountId: 'bob' }, 60);
    await new Adapter('DeviceCode').upsert('d1', { userCode: 'BCDFGHJK' }, 60);
    expect(await new Adapter('Session').findByUid('u1')).toMatchObject({ accountId: 'bob' });
    expect(await new Adapter('DeviceCode').findByUserCode('BCDFGHJK')).toMatchObject({
      userCode: 'BCDFGHJK',
    });
    expect(await new Adapter('Session').findByUid('nope')).toBeUndefined();
  });

  it('marks a consumed record and forgets a destroyed one', async () => {
    const codes = new (memoryAdapter())('AuthorizationCode');
    await codes.upsert('c1', {}, 60);
    await codes.consume('c1');
    expect((await codes.find('c1'))?.consumed).toEqual(expect.any(Number));
    await codes.destroy('c1');
    expect(await codes.find('c1')).toBeUndefined();
  });

  it('revokes every token of a grant and nothing else', async () => {
    const Adapter = memoryAdapter();
    await new Adapter('AccessToken').upsert('a1', { grantId: 'g1' }, 60);
    await new Adapter('RefreshToken').upsert('r1', { grantId: 'g1' }, 60);
    await new Adapter('RefreshToken').upsert('r2', { grantId: 'g2' }, 60);
    await new Adapter('RefreshToken').revokeByGrantId('g1');
    expect(await new Adapter('AccessToken').find('a1')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('r1')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('r2')).toBeDefined();
  });
});
