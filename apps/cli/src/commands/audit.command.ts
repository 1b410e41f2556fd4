import { Command, InvalidArgumentError } from 'commander';
import { Client } from 'pg';

import { verifyChains, type VerifyReport } from '@gatehouse/audit';
import { processIo, type Io } from '../policy/io';

interface VerifyFlags {
  from?: Date;
  to?: Date;
  databaseUrl?: string;
}

function parseTime(value: string): Date {
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError(
      `"${value}" is not a time; use ISO 8601, e.g. 2026-11-01 or 2026-11-01T09:00:00Z`,
    );
  }
  return at;
}

/**
 * Walks the audit trail's hash chains and prints one line per broken chain naming its first broken
 * link. Exit status: 0 every chain verifies, 1 a chain is broken, 2 the check could not run.
 */
export async function runAuditVerify(flags: VerifyFlags, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  // The CLI is its own configuration boundary: DATABASE_URL is read here, like the gateway's.
  const url = flags.databaseUrl ?? env.DATABASE_URL;
  if (!url) {
    io.err('gatehouse audit verify: no database; pass --database-url or set DATABASE_URL\n');
    return 2;
  }
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'gatehouse audit verify',
  });
  let report: VerifyReport;
  try {
    await client.connect();
    report = await verifyChains(
      async (sql, params) => (await client.query(sql, params)).rows as Array<Record<string, unknown>>,
      { ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) },
    );
  } catch (error) {
    io.err(`gatehouse audit verify: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  } finally {
    await client.end().catch(() => undefined);
  }
  for (const link of report.broken) {
    io.out(`BROKEN  writer ${link.writerId} seq ${link.seq} id ${link.id}: ${link.problem}\n`);
  }
  const summary = `${report.records} record(s) in ${report.chains} chain(s)`;
  io.out(
    report.ok ? `ok  ${summary} verify\n` : `FAIL  ${report.broken.length} broken chain(s); ${summary}\n`,
  );
  return report.ok ? 0 : 1;
}

/** `gatehouse audit verify [--from --to] [--database-url]`. */
export function auditCommand(io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Command {
  const verify = new Command('verify')
    .description('check the hash chains of the audit trail and name the first broken link of each')
    .option('--from <time>', 'only records that occurred at or after this time (ISO 8601)', parseTime)
    .option('--to <time>', 'only records that occurred before this time (ISO 8601)', parseTime)
    .option('--database-url <url>', 'the gateway database (default: $DATABASE_URL)')
    .action(async (flags: VerifyFlags) => {
      process.exitCode = await runAuditVerify(flags, env, io);
    })
    // A usage error means the check did not run: 2, like an unreachable database (1 is tampering).
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
  return new Command('audit').description('the audit trail').addCommand(verify);
}
