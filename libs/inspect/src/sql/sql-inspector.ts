import { loadModule, parseSync } from 'libpg-query';
import { InspectError, InspectErrorCode } from '../inspect-error';
import type { SqlInspection, SqlInspectOptions } from '../types';
import { PG_CATALOG_RELATIONS } from './pg-catalog';
import {
  READ_ONLY_CAST_TYPES,
  READ_ONLY_FUNCTIONS,
  READ_ONLY_OPERATORS,
  READ_ONLY_SAMPLE_METHODS,
} from './allow-lists';

/** The parse tree as JSON: libpg-query's typed nodes are walked generically, so read them as data. */
type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}

let ready = false;

/**
 * Loads the PostgreSQL parser (WASM). Call once at start and await it; `inspectSql` is synchronous
 * afterwards. Safe to call again.
 */
export async function initSqlInspector(): Promise<void> {
  await loadModule();
  ready = true;
}

/**
 * Inspects the SQL a tool call carries, with the real PostgreSQL parser: statement kinds, every
 * relation as `schema.table`, and whether the whole string is provably read-only. Never throws on
 * bad SQL: unparsable input is reported as not read-only with `parseError`.
 *
 * @throws InspectError (SQL_INSPECTOR_NOT_READY) when `initSqlInspector()` has not completed.
 */
export function inspectSql(sql: string, options: SqlInspectOptions): SqlInspection {
  if (!ready) {
    throw new InspectError(
      InspectErrorCode.SQL_INSPECTOR_NOT_READY,
      'The SQL inspector is not loaded: await initSqlInspector() once at start before inspecting SQL.',
    );
  }
  if (sql.trim() === '') return notReadOnly(['no SQL statement']);
  let tree: JsonObject;
  try {
    tree = parseSync(sql) as unknown as JsonObject;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ...notReadOnly([`unparsable SQL: ${message}`]), parseError: message };
  }
  try {
    return new Inspection(options).run(list(tree['stmts']));
  } catch (err) {
    // A tree the walker does not expect (or one deep enough to exhaust the stack) cannot be judged.
    const message = err instanceof Error ? err.message : String(err);
    return notReadOnly([`the SQL could not be inspected: ${message}`]);
  }
}

function notReadOnly(reasons: string[]): SqlInspection {
  return {
    readOnly: false,
    statements: [],
    relations: [],
    tables: [],
    schemas: [],
    reasons,
    unresolved: reasons,
  };
}

/** CTE names visible at a point of the query, innermost first. */
interface CteScope {
  readonly names: ReadonlySet<string>;
  readonly parent: CteScope | undefined;
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const QUERY_STATEMENTS = new Set(['SelectStmt', ...DML]);
const READ_ONLY_KINDS = new Set(['select', 'values', 'show', 'explain']);

/**
 * Statements whose every relation appears in the parse tree as a RangeVar (or, for DROP, as a
 * name list the walker reads). Any other statement (DO, CALL, CREATE FUNCTION, GRANT … ON SCHEMA,
 * COMMENT, PREPARE/EXECUTE, DROP SCHEMA, …) may touch relations the inspector cannot name, so the
 * relations it reports are incomplete: a `schemas` allow never holds for it and a `schemas` deny
 * applies (docs/policy.md).
 */
const RESOLVED_TYPES = new Set([
  'SelectStmt',
  ...DML,
  'VariableSetStmt',
  'VariableShowStmt',
  'TransactionStmt',
  'TruncateStmt',
  'LockStmt',
  'CreateStmt',
  'CreateTableAsStmt',
  'ViewStmt',
  'IndexStmt',
  'CreateSeqStmt',
  'AlterTableStmt',
  'CopyStmt',
  'RefreshMatViewStmt',
]);

/** DROP of these names relations the walker reads; DROP SCHEMA … CASCADE and the like do not. */
const DROPPED_RELATION_TYPES = [
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
];

/** One call of `inspectSql`: collects as it walks each statement in order. */
class Inspection {
  private readonly relations = new Map<string, { schema: string; name: string }>();
  private readonly schemas = new Set<string>();
  private readonly reasons: string[] = [];
  /** Why some relation the SQL touches cannot be named (fail closed for `schemas`). */
  private readonly unresolved: string[] = [];
  private writes = false;
  private searchPath: readonly string[];
  /** Set when an unqualified name was resolved against a path of more than one schema. */
  private guessedPath: readonly string[] | undefined;
  private label = '';

  constructor(private readonly options: SqlInspectOptions) {
    this.searchPath = options.searchPath;
  }

  run(stmts: Json[]): SqlInspection {
    const statements: string[] = [];
    stmts.forEach((raw, index) => {
      const node = unwrap(object(raw)['stmt']);
      if (!node) throw new Error(`statement ${index + 1} has no parse tree`);
      this.label = stmts.length > 1 ? `statement ${index + 1}: ` : '';
      statements.push(this.statement(node.type, node.body));
    });
    if (statements.length === 0) {
      // Only comments or semicolons.
      return notReadOnly(['no SQL statement']);
    }
    if (this.guessedPath) {
      this.label = '';
      const [first] = this.guessedPath;
      this.note(
        `unqualified names were resolved against the first search_path schema "${first}"; ` +
          `PostgreSQL uses the first schema of (${this.guessedPath.join(', ')}) that has the table, ` +
          `which the inspector cannot know`,
      );
    }
    const names = [...this.relations.keys()].sort();
    return {
      readOnly: !this.writes,
      statements,
      relations: names,
      tables: names.map((n) => this.relations.get(n) as { schema: string; name: string }),
      schemas: [...this.schemas].sort(),
      reasons: this.reasons,
      unresolved: this.unresolved,
    };
  }

  /** Inspects one top-level statement and returns its kind. */
  private statement(type: string, body: JsonObject): string {
    const kind = kindOf(type, body);
    this.resolvable(type, body, kind);
    switch (type) {
      case 'ExplainStmt':
        this.explain(body);
        break;
      case 'VariableSetStmt':
        this.set(body);
        break;
      case 'CopyStmt':
        this.write(copyReason(body));
        this.visitFields(body, undefined);
        break;
      case 'CallStmt':
        this.write(`CALL runs procedure ${funcName(object(body['funccall']))}, which may write`);
        this.visitFields(body, undefined);
        break;
      case 'DropStmt':
        this.write(writeReason(kind));
        this.dropped(body);
        break;
      default:
        if (!READ_ONLY_KINDS.has(kind)) this.write(writeReason(kind));
        this.visitStatement(type, body, undefined);
    }
    return kind;
  }

  /** EXPLAIN runs its statement only with ANALYZE; the statement's relations count either way. */
  private explain(body: JsonObject): void {
    const inner = unwrap(body['query']);
    if (!inner) return;
    const innerKind = kindOf(inner.type, inner.body);
    this.resolvable(inner.type, inner.body, innerKind);
    if (analyzes(body) && !READ_ONLY_KINDS.has(innerKind)) {
      this.write(`EXPLAIN ANALYZE runs the ${upper(innerKind)}: ${writeReason(innerKind)}`);
    } else if (!QUERY_STATEMENTS.has(inner.type) && !READ_ONLY_KINDS.has(innerKind)) {
      this.write(`EXPLAIN of ${upper(innerKind)}: ${writeReason(innerKind)}`);
    }
    this.visitStatement(inner.type, inner.body, undefined);
  }

  /** Every SET is a write (session state); SET search_path also changes how later names resolve. */
  private set(body: JsonObject): void {
    const name = str(body['name']);
    const kind = str(body['kind']);
    if (kind === 'VAR_RESET_ALL') {
      this.write('RESET ALL changes session settings, search_path included');
      this.searchPath = this.options.searchPath;
      return;
    }
    if (name !== 'search_path') {
      const verb = kind === 'VAR_RESET' ? 'RESET' : 'SET';
      this.write(`${verb} changes the session setting ${name ?? '(unnamed)'}`);
      return;
    }
    this.write('SET search_path changes which schema unqualified names resolve to');
    if (kind === 'VAR_SET_VALUE') {
      const args = list(body['args']);
      this.searchPath = args.flatMap((arg) => {
        const node = unwrap(arg);
        const value = node?.type === 'A_Const' ? str(object(node.body['sval'])['sval']) : undefined;
        return value === undefined ? [] : [value];
      });
      if (this.searchPath.length !== args.length) {
        this.opaque('SET search_path to a value the inspector cannot read');
      }
    } else if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET') {
      this.searchPath = this.options.searchPath;
    }
  }

  /** DROP names its relations as lists of strings, not RangeVars. */
  private dropped(body: JsonObject): void {
    if (!DROPPED_RELATION_TYPES.includes(str(body['removeType']) ?? '')) return;
    for (const item of list(body['objects'])) {
      const names = list(unwrap(item)?.body['items']).map((n) => str(unwrap(n)?.body['sval']));
      const relname = names.at(-1);
      const schemaname = names.length > 1 ? names.at(-2) : undefined;
      if (relname !== undefined) this.relation(schemaname, relname);
    }
  }

  /** A query statement: its WITH clause scopes CTE names over the rest of it. */
  private visitStatement(type: string, body: JsonObject, scope: CteScope | undefined): void {
    let inner = scope;
    const withClause = body['withClause'];
    if (withClause !== undefined) inner = this.with(object(withClause), scope);
    if (type === 'SelectStmt') {
      if (body['intoClause'] !== undefined) {
        this.write('SELECT INTO creates a table');
      }
      for (const clause of list(body['lockingClause'])) {
        const strength = str(unwrap(clause)?.body['strength']);
        this.write(`${LOCKS[strength ?? ''] ?? 'a locking clause'} locks rows`);
      }
    }
    for (const [key, value] of Object.entries(body)) {
      if (key !== 'withClause') this.visit(value, inner);
    }
  }

  private with(clause: JsonObject, scope: CteScope | undefined): CteScope | undefined {
    const ctes = list(clause['ctes']).flatMap((c) => {
      const node = unwrap(c);
      return node ? [node.body] : [];
    });
    const names = ctes.map((cte) => str(cte['ctename']) ?? '');
    if (clause['recursive'] === true) {
      // A recursive WITH sees all its names everywhere, itself included.
      const all: CteScope = { names: new Set(names), parent: scope };
      for (const cte of ctes) this.visit(cte['ctequery'] ?? null, all);
      return all;
    }
    // A plain WITH: each CTE sees the ones before it, and a name inside its own body is a table.
    let current = scope;
    ctes.forEach((cte, i) => {
      this.visit(cte['ctequery'] ?? null, current);
      current = { names: new Set([names[i] ?? '']), parent: current };
    });
    return current;
  }

  private visit(value: Json, scope: CteScope | undefined): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, scope);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const node = unwrap(value);
    if (node) {
      this.node(node.type, node.body, scope);
      return;
    }
    // Fields typed as one node kind come without the wrapper; recognise the ones that matter.
    if (typeof value['relname'] === 'string') {
      this.rangeVar(value, scope);
    } else if (Array.isArray(value['funcname']) && 'funcformat' in value) {
      this.node('FuncCall', value, scope);
    } else {
      this.visitFields(value, scope);
    }
  }

  private node(type: string, body: JsonObject, scope: CteScope | undefined): void {
    switch (type) {
      case 'RangeVar':
        this.rangeVar(body, scope);
        return;
      case 'FuncCall':
        this.func(body);
        break;
      case 'A_Expr':
        this.operator(body);
        break;
      case 'TypeCast':
        this.cast(body);
        break;
      case 'RangeTableSample': {
        const method = list(body['method']).map((n) => str(unwrap(n)?.body['sval']));
        const name = method.at(-1) ?? '';
        if (method.length !== 1 || !READ_ONLY_SAMPLE_METHODS.has(name)) {
          this.write(`TABLESAMPLE ${method.join('.')} is not a built-in sampling method`);
          this.opaque(`TABLESAMPLE ${method.join('.')} runs a function that may touch any relation`);
        }
        break;
      }
      default:
        if (DML.has(type)) {
          this.write(`a data-modifying ${upper(kindOf(type, body))} inside the statement writes data`);
        }
        if (QUERY_STATEMENTS.has(type)) {
          this.visitStatement(type, body, scope);
          return;
        }
    }
    this.visitFields(body, scope);
  }

  private visitFields(body: JsonObject, scope: CteScope | undefined): void {
    for (const value of Object.values(body)) this.visit(value, scope);
  }

  private rangeVar(body: JsonObject, scope: CteScope | undefined): void {
    const relname = str(body['relname']);
    if (relname === undefined) return;
    const schemaname = str(body['schemaname']);
    if (schemaname === undefined && isCte(relname, scope)) return;
    this.relation(schemaname, relname);
  }

  private relation(schemaname: string | undefined, relname: string): void {
    let schema = schemaname;
    if (schema === undefined) {
      const candidates = this.candidateSchemas(relname);
      schema = candidates[0];
      if (schema === undefined) {
        this.write(`no search_path schema to resolve the unqualified name ${quoteIdent(relname)}`);
        this.opaque(`no search_path schema to resolve the unqualified name ${quoteIdent(relname)}`);
        return;
      }
      if (candidates.length > 1) {
        this.guessedPath = candidates;
        this.opaque(
          `the unqualified name ${quoteIdent(relname)} may be in any of (${candidates.join(', ')}) ` +
            `depending on which has it`,
        );
      }
    }
    this.schemas.add(schema);
    const name = `${quoteIdent(schema)}.${quoteIdent(relname)}`;
    this.relations.set(name, { schema, name: relname });
  }

  /**
   * The schemas an unqualified name may resolve to, in PostgreSQL's order: `pg_catalog` is searched
   * first unless the path names it elsewhere, and a name that is one of its relations resolves
   * there whatever follows. A `pg_`-prefixed name the list does not know (a newer server's view)
   * may be in `pg_catalog` or in the next schema, so it is ambiguous. Every other schema may or may
   * not have the table, so more than one remaining schema is ambiguous too.
   */
  private candidateSchemas(relname: string): string[] {
    const path = this.searchPath.filter((s) => s !== '$user');
    const full = path.includes('pg_catalog') ? path : ['pg_catalog', ...path];
    const out: string[] = [];
    for (const schema of full) {
      if (schema !== 'pg_catalog') {
        out.push(schema);
      } else if (PG_CATALOG_RELATIONS.has(relname)) {
        out.push(schema);
        break;
      } else if (relname.startsWith('pg_')) {
        out.push(schema);
      }
    }
    return out;
  }

  /** Some relation of this statement cannot be named; `schemas` conditions fail closed. */
  private opaque(reason: string): void {
    const text = this.label + reason;
    if (!this.unresolved.includes(text)) this.unresolved.push(text);
  }

  /** Statements outside {@link RESOLVED_TYPES} (and DROPs of non-relations) name what they touch in ways the walker cannot read. */
  private resolvable(type: string, body: JsonObject, kind: string): void {
    if (cascades(body)) {
      this.opaque(`${upper(kind)} … CASCADE also acts on dependent objects in any schema`);
    }
    if (type === 'CopyStmt' && body['is_program'] === true) {
      this.opaque('COPY … PROGRAM runs a shell command that may reach any relation');
    }
    // EXPLAIN's own statement is checked in explain(); VACUUM or ANALYZE without a table list covers every table.
    if (type === 'ExplainStmt' || RESOLVED_TYPES.has(type)) return;
    if (type === 'VacuumStmt' && list(body['rels']).length > 0) return;
    if (type === 'DropStmt' && DROPPED_RELATION_TYPES.includes(str(body['removeType']) ?? '')) return;
    this.opaque(`${upper(kind)} may touch relations the inspector cannot name`);
  }

  private func(body: JsonObject): void {
    const names = list(body['funcname']).map((n) => str(unwrap(n)?.body['sval']) ?? '');
    if (!builtin(names, READ_ONLY_FUNCTIONS)) {
      this.write(`calls ${names.join('.')}(), which is not a known side-effect-free function`);
      this.opaque(`calls ${names.join('.')}(), whose body may touch any relation`);
    }
  }

  private operator(body: JsonObject): void {
    const names = list(body['name']).map((n) => str(unwrap(n)?.body['sval']) ?? '');
    if (names.length > 0 && !builtin(names, READ_ONLY_OPERATORS)) {
      this.write(`uses operator ${names.join('.')}, which is not a known side-effect-free operator`);
      this.opaque(`uses operator ${names.join('.')}, whose function may touch any relation`);
    }
  }

  private cast(body: JsonObject): void {
    const names = list(object(body['typeName'])['names']).map((n) => str(unwrap(n)?.body['sval']) ?? '');
    if (!builtin(names, READ_ONLY_CAST_TYPES)) {
      this.write(`casts to ${names.join('.')}, which may run a user-defined cast or check`);
      this.opaque(`casts to ${names.join('.')}, whose cast function may touch any relation`);
    }
  }

  private write(reason: string): void {
    this.writes = true;
    this.note(reason);
  }

  private note(reason: string): void {
    const text = this.label + reason;
    if (!this.reasons.includes(text)) this.reasons.push(text);
  }
}

const LOCKS: Record<string, string> = {
  LCS_FORUPDATE: 'FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
};

/** Bare, or qualified with `pg_catalog` only: another schema's object of that name is not the built-in. */
function builtin(names: string[], allowed: ReadonlySet<string>): boolean {
  const [first, second] = names;
  if (names.length === 1) return allowed.has(first ?? '');
  return names.length === 2 && first === 'pg_catalog' && allowed.has(second ?? '');
}

/** `DROP … CASCADE`, `TRUNCATE … CASCADE`, or an `ALTER TABLE` subcommand with CASCADE. */
function cascades(body: JsonObject): boolean {
  if (str(body['behavior']) === 'DROP_CASCADE') return true;
  return list(body['cmds']).some((cmd) => str(unwrap(cmd)?.body['behavior']) === 'DROP_CASCADE');
}

function isCte(name: string, scope: CteScope | undefined): boolean {
  for (let s = scope; s; s = s.parent) if (s.names.has(name)) return true;
  return false;
}

/** `EXPLAIN ANALYZE` or `EXPLAIN (ANALYZE [true|on|1])`; `(ANALYZE false|off|0)` does not run it. */
function analyzes(body: JsonObject): boolean {
  return list(body['options']).some((option) => {
    const def = unwrap(option)?.body;
    if (!def || str(def['defname']) !== 'analyze') return false;
    const arg = unwrap(def['arg'])?.body;
    if (!arg) return true;
    if (arg['boolval'] !== undefined) return arg['boolval'] === true;
    if (arg['ival'] !== undefined) return arg['ival'] !== 0;
    return !['false', 'off', 'no', '0'].includes((str(arg['sval']) ?? '').toLowerCase());
  });
}

function copyReason(body: JsonObject): string {
  if (body['is_program'] === true) {
    return 'COPY … PROGRAM runs a shell command on the database server';
  }
  if (typeof body['filename'] === 'string') {
    return 'COPY reads or writes a file on the database server';
  }
  if (body['is_from'] === true) return 'COPY FROM writes rows into a table';
  return 'COPY streams data outside the query protocol and is not treated as read-only';
}

const WRITE_REASONS: Record<string, string> = {
  insert: 'INSERT writes data',
  update: 'UPDATE writes data',
  delete: 'DELETE writes data',
  merge: 'MERGE writes data',
  truncate: 'TRUNCATE removes all rows',
  do: 'DO runs an anonymous code block the inspector cannot see into',
  grant: 'GRANT changes privileges',
  revoke: 'REVOKE changes privileges',
  lock: 'LOCK takes table locks',
  listen: 'LISTEN changes session state',
  unlisten: 'UNLISTEN changes session state',
  notify: 'NOTIFY sends a notification to other sessions',
  prepare: 'PREPARE stores a statement in the session',
  execute: 'EXECUTE runs a prepared statement the inspector cannot see',
  deallocate: 'DEALLOCATE changes session state',
  declare_cursor: 'DECLARE keeps a cursor open in the session',
  fetch: 'FETCH reads from a cursor the inspector cannot see',
  close: 'CLOSE changes session state',
  discard: 'DISCARD changes session state',
  vacuum: 'VACUUM does maintenance work that writes',
  analyze: 'ANALYZE writes table statistics',
  refresh_materialized_view: 'REFRESH MATERIALIZED VIEW rewrites the view',
  create_table_as: 'CREATE TABLE AS creates a table',
  select_into: 'SELECT INTO creates a table',
  checkpoint: 'CHECKPOINT forces a write of all dirty buffers',
  load: 'LOAD loads a shared library into the server',
};

const TRANSACTION_KINDS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'start_transaction',
  TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release_savepoint',
  TRANS_STMT_ROLLBACK_TO: 'rollback_to_savepoint',
  TRANS_STMT_PREPARE: 'prepare_transaction',
  TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};
const TRANSACTION_CONTROL = new Set(Object.values(TRANSACTION_KINDS));
const DDL_PREFIXES = ['create_', 'alter_', 'drop_', 'comment', 'rename', 'sec_label'];

function writeReason(kind: string): string {
  const known = WRITE_REASONS[kind];
  if (known) return known;
  if (TRANSACTION_CONTROL.has(kind)) {
    // The server may wrap each query in a read-only transaction; ending it lets what follows write.
    return `${upper(kind)} is transaction control, which could end the read-only transaction a query runs in`;
  }
  if (DDL_PREFIXES.some((prefix) => kind.startsWith(prefix))) {
    return `${upper(kind)} changes the schema`;
  }
  return `${upper(kind)} is not a read-only statement`;
}

/** Lower-case statement kind: `select`, `insert`, `create_table`, `drop_table`, `begin`, … */
export function kindOf(type: string, body: JsonObject): string {
  switch (type) {
    case 'SelectStmt':
      return body['valuesLists'] !== undefined && body['targetList'] === undefined ? 'values' : 'select';
    case 'VariableSetStmt':
      return str(body['kind'])?.startsWith('VAR_RESET') ? 'reset' : 'set';
    case 'VariableShowStmt':
      return 'show';
    case 'CreateStmt':
      return 'create_table';
    case 'CreateTableAsStmt':
      return str(body['objtype']) === 'OBJECT_MATVIEW' ? 'create_materialized_view' : 'create_table_as';
    case 'ViewStmt':
      return 'create_view';
    case 'IndexStmt':
      return 'create_index';
    case 'CreateSeqStmt':
      return 'create_sequence';
    case 'CreateFunctionStmt':
      return body['is_procedure'] === true ? 'create_procedure' : 'create_function';
    case 'DropStmt':
      return `drop_${objectKind(body['removeType'])}`;
    case 'GrantStmt':
      return body['is_grant'] === true ? 'grant' : 'revoke';
    case 'GrantRoleStmt':
      return body['is_grant'] === true ? 'grant_role' : 'revoke_role';
    case 'VacuumStmt':
      return body['is_vacuumcmd'] === true ? 'vacuum' : 'analyze';
    case 'TransactionStmt':
      return TRANSACTION_KINDS[str(body['kind']) ?? ''] ?? 'transaction_control';
    case 'DeclareCursorStmt':
      return 'declare_cursor';
    case 'ClosePortalStmt':
      return 'close';
    case 'RefreshMatViewStmt':
      return 'refresh_materialized_view';
    case 'AlterTableStmt':
      return `alter_${objectKind(body['objtype'])}`;
    default:
      return snake(type.endsWith('Stmt') ? type.slice(0, -'Stmt'.length) : type);
  }
}

function objectKind(value: Json | undefined): string {
  return (str(value) ?? 'OBJECT_UNKNOWN').replace(/^OBJECT_/, '').toLowerCase();
}

function snake(name: string): string {
  let out = '';
  for (const ch of name) {
    const lower = ch.toLowerCase();
    out += ch !== lower && out !== '' ? `_${lower}` : lower;
  }
  return out;
}

function upper(kind: string): string {
  return kind.replace(/_/g, ' ').toUpperCase();
}

function funcName(call: JsonObject): string {
  return list(call['funcname'])
    .map((n) => str(unwrap(n)?.body['sval']) ?? '')
    .join('.');
}

/** `"Secret"` stays quoted, `public` does not: the output keeps `secret.users` and `"secret.users"` apart. */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `{ SelectStmt: {...} }` → type and body; anything else → undefined. */
function unwrap(value: Json | undefined): { type: string; body: JsonObject } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const type = keys[0];
  if (keys.length !== 1 || type === undefined || !/^[A-Z]/.test(type)) return undefined;
  const body = value[type];
  if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) {
    return undefined;
  }
  return { type, body };
}

function object(value: Json | undefined): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

function list(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

function str(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
