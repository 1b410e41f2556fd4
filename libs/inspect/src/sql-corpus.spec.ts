import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import { SQL_CORPUS } from './sql-corpus';

beforeAll(async () => {
  await initSqlInspector();
});

describe('SQL corpus', () => {
  it('holds at least 80 queries', () => {
    expect(SQL_CORPUS.length).toBeGreaterThanOrEqual(80);
  });

  it('has unique case names', () => {
    expect(new Set(SQL_CORPUS.map((c) => c.name)).size).toBe(SQL_CORPUS.length);
  });

  it.each(SQL_CORPUS.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = inspectSql(c.sql, { searchPath: c.searchPath ?? ['public'] });
    expect({
      readOnly: result.readOnly,
      statements: result.statements,
      relations: result.relations,
    }).toEqual({ readOnly: c.readOnly, statements: c.statements, relations: c.relations });
    expect(result.schemas).toEqual([...new Set(c.relations.map(schemaOf))].sort());
    if (c.reason !== undefined) {
      expect(result.reasons.join('\n')).toContain(c.reason);
    }
    if (!c.readOnly) expect(result.reasons.length).toBeGreaterThan(0);
  });
});

/** The schema part of an expected relation, unquoted. */
function schemaOf(relation: string): string {
  const schema = relation.startsWith('"')
    ? relation.slice(1, relation.indexOf('"', 1))
    : relation.slice(0, relation.indexOf('.'));
  return schema;
}
