import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  READ_ONLY_CAST_TYPES,
  READ_ONLY_FUNCTIONS,
  READ_ONLY_OPERATORS,
  READ_ONLY_SAMPLE_METHODS,
  initSqlInspector,
  inspectSql,
} from '@gatehouse/inspect';

const doc = readFileSync(join(__dirname, '../../../../docs/policy-sql.md'), 'utf8');

describe('the allow-lists and docs/policy-sql.md', () => {
  it.each([
    ['functions', READ_ONLY_FUNCTIONS],
    ['operators', READ_ONLY_OPERATORS],
    ['cast types', READ_ONLY_CAST_TYPES],
  ])('the page lists every allowed entry of %s', (_what, list) => {
    const missing = [...list].filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('the page lists the sampling methods', () => {
    for (const method of READ_ONLY_SAMPLE_METHODS) expect(doc).toContain(method.toUpperCase());
  });
});

describe('the allow-lists as the inspector applies them', () => {
  beforeAll(async () => {
    await initSqlInspector();
  });

  it('accepts every allowed function bare and pg_catalog-qualified', () => {
    for (const name of READ_ONLY_FUNCTIONS) {
      for (const call of [`${name}(x)`, `pg_catalog.${name}(x)`]) {
        const result = inspectSql(`SELECT ${call} FROM t`, { searchPath: ['public'] });
        // Keyword forms (nullif, position, …) need their own syntax bare; qualified they are plain calls.
        if (result.parseError !== undefined && !call.startsWith('pg_catalog.')) continue;
        expect([call, result.readOnly]).toEqual([call, true]);
      }
    }
  });

  it('refuses an allowed function name in any other schema', () => {
    for (const name of READ_ONLY_FUNCTIONS) {
      expect(inspectSql(`SELECT public.${name}(x) FROM t`, { searchPath: ['public'] }).readOnly).toBe(false);
    }
  });

  it('accepts a cast to every allowed type and refuses the same name in another schema', () => {
    for (const type of READ_ONLY_CAST_TYPES) {
      expect([
        type,
        inspectSql(`SELECT x::pg_catalog.${type} FROM t`, { searchPath: ['public'] }).readOnly,
      ]).toEqual([type, true]);
      expect(inspectSql(`SELECT x::app.${type} FROM t`, { searchPath: ['public'] }).readOnly).toBe(false);
    }
  });
});
