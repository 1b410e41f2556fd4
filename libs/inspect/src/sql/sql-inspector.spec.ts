import { InspectErrorCode, initSqlInspector, inspectSql } from '@gatehouse/inspect';

beforeAll(async () => {
  await initSqlInspector();
});

describe('inspectSql search_path option', () => {
  it('resolves an unqualified name against the only schema without a note', () => {
    const result = inspectSql('SELECT * FROM users', { searchPath: ['analytics'] });
    expect(result.relations).toEqual(['analytics.users']);
    expect(result.schemas).toEqual(['analytics']);
    expect(result.reasons).toEqual([]);
    expect(result.readOnly).toBe(true);
  });

  it('uses the first schema of a longer path and says why in reasons, staying read-only', () => {
    const result = inspectSql('SELECT * FROM users', { searchPath: ['public', 'analytics'] });
    expect(result.relations).toEqual(['public.users']);
    expect(result.readOnly).toBe(true);
    expect(result.reasons).toEqual([expect.stringContaining('first search_path schema "public"')]);
    expect(result.reasons[0]).toContain('(public, analytics)');
  });

  it('adds no path note when every name is qualified, however long the path', () => {
    const result = inspectSql('SELECT * FROM secret.users', { searchPath: ['public', 'analytics'] });
    expect(result.reasons).toEqual([]);
  });

  it('skips "$user" in the path, as the role name is unknown to the inspector', () => {
    const result = inspectSql('SELECT * FROM users', { searchPath: ['$user', 'public'] });
    expect(result.relations).toEqual(['public.users']);
    expect(result.reasons).toEqual([]);
  });

  it('keeps the case of a configured schema and quotes it in the relation', () => {
    const result = inspectSql('SELECT * FROM users', { searchPath: ['Reporting'] });
    expect(result.relations).toEqual(['"Reporting".users']);
    expect(result.schemas).toEqual(['Reporting']);
  });

  it('cannot resolve an unqualified name without a path: not read-only, and no relation is invented', () => {
    const result = inspectSql('SELECT * FROM users JOIN secret.keys USING (id)', { searchPath: [] });
    expect(result.readOnly).toBe(false);
    expect(result.relations).toEqual(['secret.keys']);
    expect(result.reasons.join('\n')).toContain(
      'no search_path schema to resolve the unqualified name users',
    );
  });

  it('does not carry a SET search_path over to the next call', () => {
    inspectSql('SET search_path TO secret', { searchPath: ['public'] });
    expect(inspectSql('SELECT * FROM users', { searchPath: ['public'] }).relations).toEqual(['public.users']);
  });

  it('RESET ALL returns to the configured path for the statements after it', () => {
    const result = inspectSql('SET search_path TO secret; RESET ALL; SELECT * FROM users', {
      searchPath: ['analytics'],
    });
    expect(result.relations).toEqual(['analytics.users']);
    expect(result.readOnly).toBe(false);
    expect(result.reasons.join('\n')).toContain('RESET ALL');
  });

  it('SET search_path TO DEFAULT returns to the configured path', () => {
    const result = inspectSql('SET search_path TO secret; SET search_path TO DEFAULT; TABLE users', {
      searchPath: ['analytics'],
    });
    expect(result.relations).toEqual(['analytics.users']);
  });

  it('a SET search_path with several schemas resolves to its first and notes the guess', () => {
    const result = inspectSql('SET search_path TO secret, public; SELECT * FROM users', {
      searchPath: ['public'],
    });
    expect(result.relations).toEqual(['secret.users']);
    expect(result.reasons.join('\n')).toContain('(secret, public)');
  });
});

describe('inspectSql results', () => {
  it('numbers reasons by statement when a string holds several', () => {
    const result = inspectSql('SELECT 1; DELETE FROM t; SELECT nextval($1)', { searchPath: ['public'] });
    expect(result.reasons).toEqual([
      'statement 2: DELETE writes data',
      'statement 3: calls nextval(), which is not a known side-effect-free function',
    ]);
  });

  it('lists relations and schemas sorted and unique', () => {
    const result = inspectSql('SELECT * FROM z.b, a.c, z.b, a.a, b', { searchPath: ['public'] });
    expect(result.relations).toEqual(['a.a', 'a.c', 'public.b', 'z.b']);
    expect(result.schemas).toEqual(['a', 'public', 'z']);
  });

  it('reports the parser message for unparsable SQL', () => {
    const result = inspectSql('SELECT FROM WHERE', { searchPath: ['public'] });
    expect(result.readOnly).toBe(false);
    expect(result.parseError).toMatch(/syntax error/);
    expect(result.reasons).toEqual([`unparsable SQL: ${result.parseError ?? ''}`]);
  });

  it('reports nesting too deep for the parser as unparsable and keeps working after it', () => {
    const deep = `SELECT ${'('.repeat(100_000)}1${')'.repeat(100_000)}`;
    const result = inspectSql(deep, { searchPath: ['public'] });
    expect(result.readOnly).toBe(false);
    expect(result.parseError).toBeDefined();
    expect(inspectSql('SELECT * FROM t', { searchPath: ['public'] }).relations).toEqual(['public.t']);
  });

  it('treats a user-defined bare operator as a possible write', () => {
    const result = inspectSql('SELECT a === b FROM t', { searchPath: ['public'] });
    expect(result.readOnly).toBe(false);
    expect(result.reasons.join('\n')).toContain('operator ===');
  });
});

describe('initSqlInspector', () => {
  it('refuses to inspect before the parser is loaded, with a code and what to do', () => {
    jest.isolateModules(() => {
      // A fresh copy of the module, whose parser has not been loaded.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fresh = require('./sql-inspector') as typeof import('./sql-inspector');
      let thrown: unknown;
      try {
        fresh.inspectSql('SELECT 1', { searchPath: ['public'] });
      } catch (err) {
        thrown = err;
      }
      expect((thrown as { code?: unknown }).code).toBe(InspectErrorCode.SQL_INSPECTOR_NOT_READY);
      expect((thrown as Error).message).toContain('await initSqlInspector()');
    });
  });

  it('can be called again', async () => {
    await initSqlInspector();
    expect(inspectSql('SELECT 1', { searchPath: ['public'] }).readOnly).toBe(true);
  });
});

describe('inspectSql relations for conditions.schemas (issue 13)', () => {
  const path = { searchPath: ['public'] };

  it.each(['pg_stats', 'pg_class', 'pg_roles', 'pg_settings'])(
    '13.8: unqualified catalog view %s resolves to pg_catalog, as PostgreSQL searches it first',
    (name) => {
      const result = inspectSql(`SELECT * FROM ${name}`, path);
      expect(result.relations).toEqual([`pg_catalog.${name}`]);
      expect(result.tables).toEqual([{ schema: 'pg_catalog', name }]);
      expect(result.unresolved).toEqual([]);
    },
  );

  it('13.8: a pg_ name the catalog list does not know may be either schema, so it is unresolved', () => {
    const result = inspectSql('SELECT * FROM pg_future_view', path);
    expect(result.unresolved.join('\n')).toContain('(pg_catalog, public)');
  });

  it('13.8: a search_path naming pg_catalog after public makes a catalog name ambiguous', () => {
    const result = inspectSql('SELECT * FROM pg_class', { searchPath: ['public', 'pg_catalog'] });
    expect(result.unresolved.join('\n')).toContain('(public, pg_catalog)');
  });

  it('13.8: a quoted name with a dot stays one table of its schema', () => {
    const result = inspectSql('SELECT * FROM "secret.keys"', path);
    expect(result.relations).toEqual(['public."secret.keys"']);
    expect(result.tables).toEqual([{ schema: 'public', name: 'secret.keys' }]);
    expect(inspectSql('SELECT * FROM "public.x".y', path).tables).toEqual([
      { schema: 'public.x', name: 'y' },
    ]);
  });

  it('13.2: plain queries and DML name every relation they touch', () => {
    for (const sql of [
      'SELECT * FROM public.a JOIN secret.b ON true',
      'DELETE FROM secret.keys',
      'INSERT INTO public.t SELECT * FROM secret.keys',
      'WITH x AS (DELETE FROM secret.keys RETURNING *) SELECT * FROM x',
      'DROP TABLE secret.keys',
      'TRUNCATE secret.keys',
      'SELECT 1',
    ]) {
      expect([sql, inspectSql(sql, path).unresolved]).toEqual([sql, []]);
    }
  });

  it('13.2: DO, CREATE FUNCTION, GRANT … ON SCHEMA, CALL and user functions are unresolved', () => {
    for (const sql of [
      'DO $$ BEGIN DELETE FROM secret.keys; END $$',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      'GRANT USAGE ON SCHEMA secret TO PUBLIC',
      'CALL wipe()',
      'SELECT wipe() FROM public.t',
      'EXPLAIN EXECUTE stmt',
      'SELECT * FROM t',
    ]) {
      const paths = sql === 'SELECT * FROM t' ? { searchPath: ['public', 'secret'] } : path;
      expect([sql, inspectSql(sql, paths).unresolved.length > 0]).toEqual([sql, true]);
    }
  });
});

describe('inspectSql: what acts beyond the named relations (issue 13 siblings)', () => {
  it.each([
    'TRUNCATE public.customers CASCADE',
    'DROP TABLE public.customers CASCADE',
    'ALTER TABLE public.customers DROP COLUMN id CASCADE',
    'COPY public.customers TO PROGRAM \'psql -c "DELETE FROM secret.keys"\'',
  ])('13.2: %s is unresolved', (sql) => {
    expect(inspectSql(sql, { searchPath: ['public'] }).unresolved).not.toEqual([]);
  });

  it('without CASCADE the same statements are resolved', () => {
    for (const sql of [
      'TRUNCATE public.customers',
      'DROP TABLE public.customers',
      'COPY public.customers TO STDOUT',
    ]) {
      expect([sql, inspectSql(sql, { searchPath: ['public'] }).unresolved]).toEqual([sql, []]);
    }
  });
});
