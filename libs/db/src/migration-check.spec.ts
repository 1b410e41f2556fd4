import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { GatewayReplica } from './gateway-replica.entity';
import { DEFAULT_SERVER_URL, schemaDiff, writeMigration } from './migration-tools';
import { MIGRATION_GLOB } from './paths';
import { testConfig } from './__tests__/helpers';

/**
 * Test-only entities, deliberately not named `*.entity.ts` so the gateway never loads them:
 * the replica table with a column no migration adds, and a table no migration creates.
 */
@Entity({ name: 'gateway_replica' })
class ReplicaWithZone extends GatewayReplica {
  @Column('text', { nullable: true })
  zone!: string | null;
}

@Entity({ name: 'drift_probe' })
class DriftProbe {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('integer')
  weight!: number;
}

/** `migration:check` and `migration:generate`, run on scratch databases of the real Postgres. */
describe('migration check', () => {
  const config = testConfig({});

  it('finds nothing to generate when the migrations create what the entities describe', async () => {
    expect(await schemaDiff(config, DEFAULT_SERVER_URL)).toEqual({ up: [], down: [] });
  });

  it('fails on an entity column that no migration adds', async () => {
    const diff = await schemaDiff(config, DEFAULT_SERVER_URL, { entities: [ReplicaWithZone] });
    expect(diff.up.map((q) => q.query)).toEqual(['ALTER TABLE "gateway_replica" ADD "zone" text']);
  });

  it('fails on an entity table that no migration creates', async () => {
    const diff = await schemaDiff(config, DEFAULT_SERVER_URL, { entities: [GatewayReplica, DriftProbe] });
    expect(diff.up.map((q) => q.query)).toEqual([
      expect.stringMatching(/^CREATE TABLE "drift_probe" \("id" uuid NOT NULL/),
    ]);
  });

  it('generates a migration that closes the gap, after which the check passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrations-'));
    try {
      const entities = [ReplicaWithZone, DriftProbe];
      const file = writeMigration(
        dir,
        'AddZone',
        await schemaDiff(config, DEFAULT_SERVER_URL, { entities }),
        1900000000000,
      );
      expect(readdirSync(dir)).toEqual(['1900000000000-AddZone.ts']);
      expect(readFileSync(file!, 'utf8')).toContain(
        'export class AddZone1900000000000 implements MigrationInterface',
      );
      const after = await schemaDiff(config, DEFAULT_SERVER_URL, {
        entities,
        migrations: [MIGRATION_GLOB, join(dir, '*.ts')],
      });
      expect(after.up).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing when there is nothing to migrate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrations-'));
    try {
      expect(writeMigration(dir, 'Nothing', { up: [], down: [] })).toBeUndefined();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
