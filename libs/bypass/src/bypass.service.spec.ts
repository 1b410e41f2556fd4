import { BypassError, BypassErrorCode } from './bypass-error';
import type { BypassService } from './bypass.service';
import type { GrantCache } from './grant-cache';
import { person, REASON, refusedWith, startBypassService, type BypassFixture } from './__tests__/support';

/**
 * The service and the cache against the real Postgres at 127.0.0.1:5432 (one scratch database for
 * this file, all migrations applied), one replica with the in-process bus.
 */

const erin = person('erin');
const carol = person('carol');
const dave = person('dave');
const alice = person('alice');

const refusal = (promise: Promise<unknown>) => refusedWith(promise, BypassError);

describe('BypassService on real Postgres', () => {
  let fixture: BypassFixture;
  let cache: GrantCache;
  let service: BypassService;

  beforeAll(async () => {
    fixture = await startBypassService(
      'gh_bypass_service',
      `bypass:
  modes:
    - servers: [db]
      mode: approval-first
`,
      ['db', 'files'],
    );
    ({ cache, service } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('states its settings: the durations, the review window and the mode a grant reaching each upstream takes', () => {
    expect(service.settingsView()).toEqual({
      defaultDurationSeconds: 3600,
      maxDurationSeconds: 8 * 3600,
      reviewWindowSeconds: 72 * 3600,
      upstreams: [
        { name: 'db', mode: 'approval-first' },
        { name: 'files', mode: 'immediate' },
      ],
    });
  });

  it('lets exactly one of two simultaneous approvals through', async () => {
    const grant = await service.open({ reason: REASON, servers: ['db'], everyone: true }, erin);
    expect(grant.mode).toBe('approval-first');
    expect(cache.covering(alice, 'db', 'query', 'write')).toBeUndefined();
    const results = await Promise.allSettled([
      service.approve(grant.id, carol),
      service.approve(grant.id, dave),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect((rejected?.reason as BypassError).code).toBe(BypassErrorCode.INVALID_TRANSITION);
    expect(cache.covering(alice, 'db', 'query', 'write')?.grantId).toBe(grant.id);
    const history = (await service.get(grant.id)).history.map((e) => e.action);
    expect(history).toEqual(['open', 'approve']);
    await service.revoke(grant.id, erin);
    expect(cache.covering(alice, 'db', 'query', 'write')).toBeUndefined();
  });

  it('refuses to review a grant that never took effect, and to approve a revoked one', async () => {
    const grant = await service.open({ reason: REASON, servers: ['db'], everyone: true }, erin);
    expect((await refusal(service.review(grant.id, carol, 'nothing to review here'))).code).toBe(
      BypassErrorCode.INVALID_TRANSITION,
    );
    await service.revoke(grant.id, carol, 'opened by mistake');
    expect((await refusal(service.approve(grant.id, carol))).code).toBe(BypassErrorCode.INVALID_TRANSITION);
    expect((await service.get(grant.id)).revokedBy).toEqual({ subject: 'carol', name: 'carol' });
  });

  it('covers the opener alone by default and refuses self-review', async () => {
    const grant = await service.open({ reason: REASON, servers: ['files'] }, erin);
    expect(grant).toMatchObject({ mode: 'immediate', status: 'active', covers: { users: ['erin'] } });
    expect(cache.covering(erin, 'files', 'read_file', 'read')?.grantId).toBe(grant.id);
    expect(cache.covering(alice, 'files', 'read_file', 'read')).toBeUndefined();
    expect((await refusal(service.review(grant.id, erin, 'looked fine to me'))).code).toBe(
      BypassErrorCode.SELF_REVIEW,
    );
    const reviewed = await service.review(grant.id, carol, 'used for the payments fix only');
    expect(reviewed.review).toMatchObject({ reviewedBy: { subject: 'carol' }, overdue: false });
    expect((await refusal(service.review(grant.id, dave, 'a second sign-off'))).code).toBe(
      BypassErrorCode.INVALID_TRANSITION,
    );
    await service.revoke(grant.id, erin);
  });

  it('answers GRANT_NOT_FOUND for an unknown grant, everywhere', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const attempts: Array<() => Promise<unknown>> = [
      () => service.get(id),
      () => service.calls(id, 10),
      () => service.approve(id, carol),
      () => service.revoke(id, carol),
      () => service.review(id, carol, 'nothing to review here'),
    ];
    for (const attempt of attempts)
      expect((await refusal(attempt())).code).toBe(BypassErrorCode.GRANT_NOT_FOUND);
  });
});
