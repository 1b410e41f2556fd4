import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import type { SqlInspection } from '@gatehouse/inspect';
import type { ToolAttestation } from '../types';
import { classify, type ClassifyInput } from './classify';

const NO_SQL = { known: false, why: 'the call carries no SQL the gateway inspects' };
const POSTGRES = { kind: 'postgres', env: 'prod' };
const SQL = { tools: ['query'], argument: 'sql', searchPath: ['public'] };
const ATTESTED: ToolAttestation[] = [
  { server: 'github', tool: 'search_*', action: 'read', source: { file: 'tools.yaml', line: 3, column: 5 } },
];

function base(over: Partial<ClassifyInput>): ClassifyInput {
  return {
    server: 'github',
    serverTags: {},
    tool: 'create_issue',
    args: {},
    readOnlyTools: [],
    sql: SQL,
    attestations: ATTESTED,
    inspect: inspectSql,
    ...over,
  };
}

function sqlCall(sql: unknown, over: Partial<ClassifyInput> = {}): ClassifyInput {
  return base({ server: 'postgres-prod', serverTags: POSTGRES, tool: 'query', args: { sql }, ...over });
}

describe('classify', () => {
  beforeAll(() => initSqlInspector());

  it('counts a tool nobody attests as a write', () => {
    expect(classify(base({}))).toEqual({
      action: 'write',
      touched: [],
      relations: NO_SQL,
      reasons: ['not attested read-only: counts as a write'],
    });
  });

  it('never makes a tool read because the upstream says readOnlyHint (R47), but returns the hint', () => {
    expect(classify(base({ readOnlyHint: true }))).toEqual({
      action: 'write',
      touched: [],
      relations: NO_SQL,
      reasons: [
        'not attested read-only: counts as a write (the upstream says readOnlyHint, which is not trusted)',
      ],
      hint: { readOnlyHint: true },
    });
    expect(classify(base({ tool: 'search_code', readOnlyHint: false }))).toMatchObject({
      action: 'read',
      hint: { readOnlyHint: false },
    });
  });

  it('reads a tool attested in config (readOnlyTools globs)', () => {
    expect(classify(base({ tool: 'get_issue', readOnlyTools: ['list_*', 'get_*'] }))).toEqual({
      action: 'read',
      touched: [],
      relations: NO_SQL,
      reasons: ['read-only by config (readOnlyTools "get_*")'],
    });
  });

  it('reads a tool attested in policy, only on the attested server', () => {
    expect(classify(base({ tool: 'search_code' }))).toEqual({
      action: 'read',
      touched: [],
      relations: NO_SQL,
      reasons: ['read-only by policy (tools "search_*" at tools.yaml:3)'],
    });
    expect(classify(base({ server: 'gitlab', tool: 'search_code' })).action).toBe('write');
  });

  it('reads a postgres SELECT proven read-only, with the touched relations resolved on the search_path', () => {
    expect(classify(sqlCall('select * from orders join analytics.events e on true'))).toEqual({
      action: 'read',
      touched: ['analytics.events', 'public.orders'],
      relations: {
        known: true,
        relations: [
          { schema: 'analytics', name: 'events' },
          { schema: 'public', name: 'orders' },
        ],
      },
      reasons: ['SQL proven read-only (select)'],
    });
  });

  it('counts SQL that writes, or cannot be parsed, as a write even when the tool is attested', () => {
    const del = classify(sqlCall('delete from secret.keys', { readOnlyTools: ['query'] }));
    expect(del.action).toBe('write');
    expect(del.touched).toEqual(['secret.keys']);
    expect(del.reasons[0]).toBe('SQL not proven read-only (delete): counts as a write');
    const bad = classify(sqlCall('selec * from x'));
    expect(bad.action).toBe('write');
    expect(bad.reasons[1]).toMatch(/^the SQL does not parse: /);
  });

  it('counts a SQL tool without a string argument as a write', () => {
    expect(classify(sqlCall(42)).reasons).toEqual([
      'SQL tool without a string "sql" argument: counts as a write',
    ]);
  });

  it('counts a SQL tool as a write when the inspector throws', () => {
    // A stand-in inspector: the real one only throws before initSqlInspector(), which beforeAll awaited.
    const failing = (): SqlInspection => {
      throw new Error('inspector not loaded');
    };
    expect(classify(sqlCall('select 1', { inspect: failing }))).toEqual({
      action: 'write',
      touched: [],
      relations: { known: false, why: 'the SQL could not be inspected (inspector not loaded)' },
      reasons: ['the SQL could not be inspected (inspector not loaded): counts as a write'],
    });
  });

  it('does not inspect SQL on servers not tagged kind: postgres', () => {
    const c = classify(sqlCall('select 1', { serverTags: { kind: 'mysql' } }));
    expect(c.action).toBe('write');
    expect(c.reasons).toEqual(['not attested read-only: counts as a write']);
  });

  it('13.2: keeps a quoted name with a dot as one table of its schema, never split', () => {
    const c = classify(sqlCall('select * from public."secret.keys"'));
    expect(c.touched).toEqual(['public."secret.keys"']);
    expect(c.relations).toEqual({ known: true, relations: [{ schema: 'public', name: 'secret.keys' }] });
  });

  it.each([
    ['a DO block', 'DO $$ BEGIN DELETE FROM secret.keys; END $$'],
    [
      'CREATE FUNCTION',
      'CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ DELETE FROM secret.keys RETURNING 1 $$',
    ],
    ['GRANT … ON SCHEMA', 'GRANT USAGE ON SCHEMA secret TO PUBLIC'],
    ['GRANT … ON ALL TABLES IN SCHEMA', 'GRANT SELECT ON ALL TABLES IN SCHEMA secret TO PUBLIC'],
    ['CALL', 'CALL public.wipe()'],
    ['EXECUTE', 'EXECUTE stmt'],
    ['PREPARE', 'PREPARE stmt AS DELETE FROM secret.keys'],
    ['DROP SCHEMA', 'DROP SCHEMA secret CASCADE'],
    ['COMMENT', "COMMENT ON TABLE secret.keys IS 'x'"],
    ['a user function in a SELECT', 'SELECT public.wipe_secret() FROM public.orders'],
    ['VACUUM of every table', 'VACUUM'],
    ['unparsable SQL', 'DELETE FROM secret.keys WHERE'],
  ])('13.2: %s touches relations that cannot be known', (_name, sql) => {
    const c = classify(sqlCall(sql));
    expect(c.action).toBe('write');
    expect(c.relations.known).toBe(false);
  });
});
