import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { Client } from 'pg';

import { S3Archive, verifyChains, verifyS3, type S3VerifyReport, type VerifyReport } from '@gatehouse/audit';
import { processIo, type Io } from '../policy/io';

interface VerifyFlags {
  from?: Date;
  to?: Date;
  databaseUrl?: string;
  /** Also compare the S3 archive with Postgres and walk the signed checkpoints. */
  s3?: boolean;
  bucket?: string;
  region?: string;
  endpoint?: string;
  prefix?: string;
  pathStyle?: boolean;
  publicKey?: string;
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
  const chains = report.ok ? 0 : 1;
  if (!flags.s3) return chains;
  const s3 = await runS3Verify(flags, url, env, io);
  return Math.max(chains, s3);
}

/**
 * `--s3`: every object against its manifest, every record's hash and link, S3 against Postgres
 * (each record exactly once), and the signed checkpoints. `--from`/`--to` limit it to the records
 * that occurred in the period and the batches that hold them. Prints each problem (the first first);
 * returns 0 (all good), 1 (a problem) or 2 (could not check). Credentials: `AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY` when set, else the AWS default chain.
 */
async function runS3Verify(flags: VerifyFlags, url: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  if (!flags.bucket) {
    io.err('gatehouse audit verify --s3: pass --bucket (and --endpoint for MinIO)\n');
    return 2;
  }
  let publicKey: string | undefined;
  try {
    publicKey = flags.publicKey ? readFileSync(flags.publicKey, 'utf8') : undefined;
  } catch (error) {
    io.err(
      `gatehouse audit verify --s3: cannot read --public-key: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 2;
  }
  const archive = new S3Archive({
    bucket: flags.bucket,
    region: flags.region ?? env.AWS_REGION ?? 'us-east-1',
    ...(flags.endpoint ? { endpoint: flags.endpoint } : {}),
    forcePathStyle: flags.pathStyle ?? false,
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
      : {}),
    prefix: flags.prefix ?? '',
    retentionDays: 1,
  });
  const client = new Client({ connectionString: url, application_name: 'gatehouse audit verify --s3' });
  let report: S3VerifyReport;
  try {
    await client.connect();
    report = await verifyS3(
      archive,
      async (sql, params) => (await client.query(sql, params)).rows as Array<Record<string, unknown>>,
      {
        ...(publicKey ? { publicKey } : {}),
        ...(flags.from ? { from: flags.from } : {}),
        ...(flags.to ? { to: flags.to } : {}),
      },
    );
  } catch (error) {
    io.err(`gatehouse audit verify --s3: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  } finally {
    archive.close();
    await client.end().catch(() => undefined);
  }
  for (const problem of report.problems) io.out(`S3  ${problem}\n`);
  const period =
    flags.from || flags.to
      ? ` from ${flags.from?.toISOString() ?? 'the start'} to ${flags.to?.toISOString() ?? 'now'}`
      : '';
  const summary = `${report.records} record(s) in ${report.objects} object(s)${period}, ${report.checkpoints} checkpoint(s)`;
  io.out(report.ok ? `ok  S3: ${summary} verify\n` : `FAIL  S3: ${summary}\n`);
  return report.ok ? 0 : 1;
}

/** `gatehouse audit verify [--from --to] [--database-url] [--s3 --bucket …]`. */
export function auditCommand(io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Command {
  const verify = new Command('verify')
    .description('check the hash chains of the audit trail and name the first broken link of each')
    .option('--from <time>', 'only records that occurred at or after this time (ISO 8601)', parseTime)
    .option('--to <time>', 'only records that occurred before this time (ISO 8601)', parseTime)
    .option('--database-url <url>', 'the gateway database (default: $DATABASE_URL)')
    .option(
      '--s3',
      'also compare the S3 archive with Postgres and walk the signed checkpoints (--from/--to limit it too)',
    )
    .option('--bucket <name>', 'the archive bucket (with --s3)')
    .option('--region <region>', 'its region (default: $AWS_REGION or us-east-1)')
    .option('--endpoint <url>', 'an S3-compatible server, e.g. MinIO')
    .option('--prefix <prefix>', 'export.s3.prefix of the gateway')
    .option('--path-style', 'path-style URLs (MinIO)')
    .option('--public-key <file>', 'PEM public key the checkpoints must verify with')
    .action(async (flags: VerifyFlags) => {
      process.exitCode = await runAuditVerify(flags, env, io);
    })
    // A usage error means the check did not run: 2, like an unreachable database (1 is tampering).
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
  return new Command('audit').description('the audit trail').addCommand(verify);
}
