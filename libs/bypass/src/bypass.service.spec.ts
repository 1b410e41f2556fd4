import type { Principal } from '@gatehouse/auth';
import { parseConfigText, type GatehouseConfig } from '@gatehouse/config';
import {
  createDataSource,
  createScratchDatabase,
  DEFAULT_SERVER_URL,
  type Database,
  type ScratchDatabase,
} from '@gatehouse/db';
import { createLogger } from '@gatehouse/observability';
import { LocalActivationBus } from '@gatehouse/policy';
import { BypassError, BypassErrorCode } from './bypass-error';
import { BypassService } from './bypass.service';
import { GrantCache } from './grant-cache';
import { settingsFrom } from './settings';

/**
 * The service and the cache against the real Postgres at 127.0.0.1:5432 (one scratch database for
 * this file, all migrations applied), one replica with the in-process bus.
 */

const REASON = 'payments API down; the policy blocks the on-call fix on the db server';

const person = (subject: string): Principal => ({
  kind: 'user',
  issuer: 'https://idp.test',
  subject,
  name: subject,
  groups: [],
  roles: [],
  scopes: [],
  expiresAt: Date.now() + 3_600_000,
});
const erin = person('erin');
const carol = person('carol');
const dave = person('dave');
const alice = person('alice');

async function refusal(promise: Promise<unknown>): Promise<BypassError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof BypassError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('BypassService on real Postgres', () => {
  let scratch: ScratchDatabase;
  let db: Database;
  let config: GatehouseConfig;
  let cache: GrantCache;
  let service: BypassService;

  beforeAll(async () => {
    scratch = await createScratchDatabase(DEFAULT_SERVER_URL, 'gh_bypass_service');
    config = parseConfigText(
      `auth:
  mode: none
database:
  url: ${scratch.url}
bypass:
  modes:
    - servers: [db]
      mode: approval-first
upstreams:
  db:
    transport: http
    url: http://127.0.0.1:1/mcp
  files:
    transport: http
    url: http://127.0.0.1:1/mcp
`,
      {},
    ).config;
    db = await createDataSource(config);
    await db.migrate();
    const logger = createLogger('silent');
    // A long check interval: this file drives reloads itself through the service's announcements.
    const settings = { ...settingsFrom(config.bypass), checkMs: 3_600_000 };
    cache = new GrantCache(db.dataSource, new LocalActivationBus(), settings, logger);
    await cache.onModuleInit();
    service = new BypassService(db.dataSource, cache, settings, config, logger);
  });
  afterAll(async () => {
    await cache?.onApplicationShutdown();
    await db?.close();
    await scratch?.drop();
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
