import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Command } from 'commander';
import { ConfigError, loadConfig, type GatehouseConfig } from '@gatehouse/config';
import { createDataSource } from './data-source';
import { DbError, DbErrorCode } from './db-error';
import { DEFAULT_SERVER_URL, schemaDiff, writeMigration, type SchemaDiff } from './migration-tools';
import { MIGRATION_SOURCE_DIR, SOURCE_ROOT } from './paths';

/**
 * `migration:run`, `migration:generate <Name>` and `migration:check`. Configuration comes from
 * gatehouse.yaml and the environment like the gateway's (DATABASE_URL, GATEHOUSE_DATA_DIR).
 */
async function main(argv: string[]): Promise<number> {
  let config: GatehouseConfig;
  try {
    config = loadConfig().config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 78;
    }
    throw err;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let code = 0;
  const program = new Command('gatehouse-db').exitOverride();

  program
    .command('run')
    .description('apply pending migrations to DATABASE_URL, or to the embedded database when it is unset')
    .action(async () => {
      const db = await createDataSource(config);
      try {
        out(`database: ${db.description}`);
        const applied = await db.migrate();
        out(applied.length ? `applied: ${applied.join(', ')}` : 'no pending migrations');
      } finally {
        await db.close();
      }
    });

  program
    .command('generate <Name>')
    .description('write migrations/<timestamp>-<Name>.ts with what the entities need beyond the migrations')
    .action(async (name: string) => {
      const diff = await schemaDiff(config, config.database.url ?? DEFAULT_SERVER_URL);
      const file = writeMigration(MIGRATION_SOURCE_DIR, name, diff);
      if (!file) {
        out('the migrations already match the entities; nothing generated');
        code = 1;
        return;
      }
      await format(file);
      out(`wrote ${relative(SOURCE_ROOT, file)}; review it, then npm run build && npm run migration:check`);
    });

  program
    .command('check')
    .description('run all migrations on a scratch database and fail if the entities need anything more')
    .action(async () => {
      const diff = await schemaDiff(config, config.database.url ?? DEFAULT_SERVER_URL);
      if (diff.up.length === 0) {
        out('migrations match the entities');
        return;
      }
      process.stderr.write(describeDrift(diff));
      code = 1;
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    // commander throws on --help and usage errors after printing them itself.
    if (err && typeof err === 'object' && 'exitCode' in err) return Number(err.exitCode);
    throw err;
  }
  return code;
}

/** The drift message of `check`: the SQL a migration would have to contain. */
function describeDrift(diff: SchemaDiff): string {
  return (
    `${new DbError(DbErrorCode.SCHEMA_DRIFT, 'the entities need schema changes that no migration makes:').message}\n` +
    diff.up
      .map((q) => `  ${q.query}${q.parameters ? ` -- ${JSON.stringify(q.parameters)}` : ''};`)
      .join('\n') +
    '\nFix: npm run build && npm run migration:generate <Name>, review the file, and commit it.\n'
  );
}

/** Generated files follow the repo's Prettier style, so lint passes without a manual step. */
async function format(file: string): Promise<void> {
  let prettier: typeof import('prettier');
  try {
    prettier = await import('prettier');
  } catch {
    return;
  }
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(readFileSync(file, 'utf8'), { ...options, filepath: file }));
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
