import type { DataSource } from 'typeorm';

/** One `admin` row of `audit_event`, as the tests read it. */
export interface AdminRow {
  call_id: string;
  outcome: string;
  admin_action: string;
  admin_target: string | null;
  principal_subject: string;
  principal_kind: string;
  principal_name: string | null;
  client_ip: string | null;
  client_name: string | null;
  method: string;
  arguments: Record<string, unknown> | null;
  error_code: number | null;
  error_message: string | null;
  occurred_at: Date;
}

/** The admin records of one action, oldest first (a call's attempt before its end). */
export function adminRows(db: DataSource, action: string): Promise<AdminRow[]> {
  return db.query<AdminRow[]>(
    `SELECT call_id, outcome, admin_action, admin_target, principal_subject, principal_kind, principal_name,
            client_ip, client_name, method, arguments, error_code, error_message, occurred_at
       FROM audit_event WHERE kind = 'admin' AND admin_action = $1
      ORDER BY occurred_at, (outcome <> 'allowed'), seq`,
    [action],
  );
}

/**
 * The attempt and end records of the one call of `action` that `match` selects. The end is queued
 * after the answer, so this polls until it is there (never a timing assertion: it only waits).
 */
export async function attemptAndEnd(
  db: DataSource,
  action: string,
  match: (attempt: AdminRow) => boolean,
): Promise<{ attempt: AdminRow; end: AdminRow }> {
  for (let i = 0; i < 200; i++) {
    const rows = await adminRows(db, action);
    const attempt = rows.find((r) => r.outcome === 'allowed' && match(r));
    const end = attempt && rows.find((r) => r.call_id === attempt.call_id && r.outcome !== 'allowed');
    if (attempt && end) return { attempt, end };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no attempt and end of ${action} in the trail`);
}

/**
 * Makes every INSERT into the audit table fail (a BEFORE INSERT trigger that raises), while the
 * rest of the database keeps working: the trail alone is broken. Returns the repair.
 */
export async function breakAuditStore(db: DataSource): Promise<() => Promise<void>> {
  await db.query(`CREATE OR REPLACE FUNCTION test_break_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit store broken by the test'; END $$`);
  await db.query(`CREATE TRIGGER test_break_audit BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION test_break_audit()`);
  return async () => {
    await db.query('DROP TRIGGER test_break_audit ON audit_event');
  };
}
