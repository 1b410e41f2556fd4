import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ADMIN_AUDIT, SYSTEM_ADMIN_ACTOR, type AdminAudit } from '@gatehouse/auth';
import {
  ConfigError,
  GATEHOUSE_CONFIG,
  LOADED_CONFIG,
  type GatehouseConfig,
  type LoadedConfig,
} from '@gatehouse/config';
import { LOGGER, type Logger } from '@gatehouse/observability';
import type { PolicyFile } from '../types';
import { PolicyCompiler } from './compiler';
import { formatProblems } from './policy-error';
import { PolicyVersion } from './policy-version.entity';
import { clock, record } from './history';

/** Held while a replica imports, so replicas starting together import once. */
export const IMPORT_LOCK = 0x6761_7465_0002n;

/** The actor of the first-start import. */
export const SYSTEM_ACTOR = { subject: 'system', name: 'Gatehouse first start' } as const;

/**
 * On first start (no policy version in the database) `policy.dir` becomes version 1, active.
 * Problems in its files stop start-up with every position (a configuration error, exit 78); a
 * missing directory leaves the gateway without policy, which denies every call.
 *
 * The import is an admin action by the `system` actor (`policy.import`, ending with target
 * `policy/versions/<n>`): its attempt record is committed before the version's transaction, and a
 * trail that cannot take it stops start-up with nothing imported. Replicas starting together on
 * an empty database each record an attempt; the ones that find another's import end theirs as
 * `error` `ALREADY_IMPORTED`.
 */
@Injectable()
export class FirstStartImport {
  constructor(
    private readonly db: DataSource,
    private readonly compiler: PolicyCompiler,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(LOADED_CONFIG) private readonly loaded: LoadedConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ADMIN_AUDIT) private readonly audit: AdminAudit,
  ) {}

  /** Imports `policy.dir` when the database has no version; the number imported, if any. */
  async run(): Promise<number | undefined> {
    if (await this.db.getRepository(PolicyVersion).exists()) return undefined;
    const dir = resolve(this.config.policy.dir);
    const files = await readPolicyDir(dir);
    if (files === undefined || files.length === 0) {
      this.logger.warn(
        { policyDir: dir },
        `no policy: the database has no policy version and policy.dir (${dir}) ${files === undefined ? 'does not exist' : 'has no .yaml or .yml file'}; every call is denied until a version is activated`,
      );
      return undefined;
    }
    const parsed = this.compiler.parse(files);
    if (!parsed.ok) {
      throw new ConfigError(this.loaded.file, [
        {
          key: 'policy.dir',
          message: `the policy in ${dir} cannot be imported on first start; it has ${parsed.problems.length} problem(s):\n${formatProblems(parsed.problems)}`,
          fix: 'correct the policy files (or point policy.dir at a valid policy) and start again',
        },
      ]);
    }
    const comment = `imported from ${dir} on first start`;
    // Before the transaction, not inside it: the embedded database has a single connection, which
    // the transaction would hold while the audit writer waits for it.
    const ticket = await this.audit.begin({
      action: 'policy.import',
      target: 'policy/versions',
      actor: SYSTEM_ADMIN_ACTOR,
      details: { policyDir: dir, message: comment, files: files.map((f) => f.path) },
      method: 'startup',
    });
    const number = await this.db
      .transaction(async (em) => {
        await em.query('SELECT pg_advisory_xact_lock($1)', [IMPORT_LOCK.toString()]);
        // Another replica may have imported while this one waited for the lock.
        if (await em.getRepository(PolicyVersion).exists()) return undefined;
        const now = await clock(em);
        const version = await em.getRepository(PolicyVersion).save(
          em.getRepository(PolicyVersion).create({
            status: 'active',
            files: Object.fromEntries(files.map((f) => [f.path, f.text])),
            message: comment,
            authorSubject: SYSTEM_ACTOR.subject,
            authorName: SYSTEM_ACTOR.name,
            createdAt: now,
            activatedBySubject: SYSTEM_ACTOR.subject,
            activatedByName: SYSTEM_ACTOR.name,
            activatedAt: now,
          }),
        );
        await record(em, version.number, 'import', SYSTEM_ACTOR, now, comment);
        return version.number;
      })
      .catch((err: unknown) => {
        ticket.done({
          outcome: 'error',
          code: 'IMPORT_FAILED',
          message: err instanceof Error ? err.message : String(err),
        });
        throw err;
      });
    if (number === undefined) {
      ticket.done({
        outcome: 'error',
        code: 'ALREADY_IMPORTED',
        message: 'another replica imported policy.dir first; this one changed nothing',
      });
    }
    if (number !== undefined) {
      ticket.done({ outcome: 'ok', target: `policy/versions/${number}` });
      this.logger.info(
        { policyDir: dir, version: number, files: files.map((f) => f.path) },
        `policy: imported ${files.length} file(s) from ${dir} as version ${number} (active)`,
      );
    }
    return number;
  }
}

/**
 * Every `*.yaml` / `*.yml` under `dir`, recursively, except `*.test.yaml` (policy test cases),
 * with paths relative to `dir` using `/`. Undefined when the directory does not exist.
 */
export async function readPolicyDir(dir: string): Promise<PolicyFile[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const paths = entries
    .filter((p) => /\.ya?ml$/.test(p) && !/\.test\.ya?ml$/.test(p))
    .map((p) => relative(dir, join(dir, p)).split(sep).join('/'))
    .sort();
  const files: PolicyFile[] = [];
  for (const path of paths) {
    const full = join(dir, path);
    try {
      files.push({ path, text: await readFile(full, 'utf8') });
    } catch (err) {
      // A directory named like a policy file.
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') continue;
      throw err;
    }
  }
  return files;
}
