import { Writable } from 'node:stream';
import { parseConfigText } from '@gatehouse/config';
import { startGateway } from '../../apps/gateway/src/bootstrap';
import { openAuditDb, type AuditDb } from '../audit-store/helpers';
import { policyDir, SEED_POLICY } from '../policy-lifecycle/support';
import { transportDefaults } from '../transport/processes';

/**
 * The first-start import of policy.dir is an admin action of the gateway itself: with the audit
 * table refusing inserts, start-up stops and nothing is imported; once the table takes records
 * again, the next start imports and records it. A scratch database migrated up front, so the
 * failure can be set up before the gateway's first start.
 */
describe('R15: first-start import with the audit trail down', () => {
  let store: AuditDb;
  const dir = policyDir({ 'seed.yaml': SEED_POLICY });

  const start = () => {
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    const loaded = parseConfigText(
      `server:\n  port: 0\nlog:\n  level: warn\ndatabase:\n  url: "\${GATEHOUSE_TEST_DB}"\n${transportDefaults(
        `policy:\n  dir: ${JSON.stringify(dir)}\n`,
      )}`,
      { GATEHOUSE_TEST_DB: store.url },
    );
    return startGateway(loaded, { logDestination: quiet });
  };
  const versions = async () => Number((await store.sql('SELECT count(*) AS n FROM policy_version'))[0]?.n);

  beforeAll(async () => {
    store = await openAuditDb('gh_admin_first_start');
  });
  afterAll(() => store?.close());

  it('stops start-up with nothing imported, and imports with a record on the next start', async () => {
    await store.sql(`CREATE FUNCTION test_break_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit store broken by the test'; END $$`);
    await store.sql(`CREATE TRIGGER test_break_audit BEFORE INSERT ON audit_event
      FOR EACH ROW EXECUTE FUNCTION test_break_audit()`);
    await expect(start()).rejects.toThrow('the audit trail cannot record policy.import');
    expect(await versions()).toBe(0);

    await store.sql('DROP TRIGGER test_break_audit ON audit_event');
    const gw = await start();
    try {
      expect(await versions()).toBe(1);
    } finally {
      // Closing writes everything queued, the end record included.
      await gw.close();
    }
    const rows = await store.sql(
      `SELECT outcome, principal_subject, admin_target FROM audit_event
        WHERE admin_action = 'policy.import' ORDER BY occurred_at, (outcome <> 'allowed')`,
    );
    expect(rows).toEqual([
      { outcome: 'allowed', principal_subject: 'system', admin_target: 'policy/versions' },
      { outcome: 'ok', principal_subject: 'system', admin_target: 'policy/versions/1' },
    ]);
  });
});
