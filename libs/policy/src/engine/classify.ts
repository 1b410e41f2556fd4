import type { SqlInspection, SqlInspectOptions } from '@gatehouse/inspect';
import { globMatcher } from '../language/glob';
import type { Action, ToolAttestation, TouchedRelations } from '../types';

/** What is known about a call before the policy decides it. */
export interface ClassifyInput {
  server: string;
  serverTags: Record<string, string>;
  /** The tool name as the upstream knows it. */
  tool: string;
  args: Record<string, unknown>;
  /** `upstreams.<name>.readOnlyTools`: name globs an admin attests read-only in config. */
  readOnlyTools: readonly string[];
  /** `upstreams.<name>.sql`: which tools carry SQL in which argument (servers tagged `kind: postgres`). */
  sql?: { tools: readonly string[]; argument: string; searchPath: readonly string[] };
  /** `document.attestations`: tools an admin attests read-only in policy. */
  attestations: readonly ToolAttestation[];
  /** The upstream's own annotation; shown, never trusted (R47). */
  readOnlyHint?: boolean;
  /** The SQL inspector (`inspectSql` from @gatehouse/inspect), passed in so the engine does not load the parser. */
  inspect: (sql: string, options: SqlInspectOptions) => SqlInspection;
}

export interface Classification {
  action: Action;
  /** `schema.table` relations the SQL touches (empty for other tools). */
  touched: string[];
  /** The same, parsed, for `conditions.schemas`; unknown for tools without inspected SQL. */
  relations: TouchedRelations;
  /** Why the call is read or write, for the audit record and deny messages. */
  reasons: string[];
  /** What the upstream claims about the tool; informational only. */
  hint?: { readOnlyHint: boolean };
}

/**
 * Read or write (issue 4 point 3). A tool is `write` unless:
 * - it is a SQL tool of a `kind: postgres` server and its SQL is proven read-only by the inspector
 *   (the relations it touches are returned either way, for `conditions.schemas` and the audit); for
 *   such tools the SQL decides alone: an attestation cannot turn a statement the inspector sees
 *   writing (or cannot parse) into a read;
 * - or an admin attests it read-only, in config (`readOnlyTools`) or policy (`tools:`).
 * The upstream's `readOnlyHint` is returned as `hint` and never makes a tool read (R47).
 */
/** A call that carries no SQL the inspector read: what it touches in a database is not known. */
export function unknownRelations(why: string): TouchedRelations {
  return { known: false, why };
}

const NOT_SQL = unknownRelations('the call carries no SQL the gateway inspects');

export function classify(input: ClassifyInput): Classification {
  const out = decideAction(input);
  if (input.readOnlyHint !== undefined) out.hint = { readOnlyHint: input.readOnlyHint };
  return out;
}

function decideAction(input: ClassifyInput): Classification {
  const { sql, tool } = input;
  if (input.serverTags.kind === 'postgres' && sql && sql.tools.some((g) => globMatcher(g)(tool))) {
    return classifySql(input, sql);
  }
  const config = input.readOnlyTools.find((g) => globMatcher(g)(tool));
  if (config !== undefined) {
    return {
      action: 'read',
      touched: [],
      relations: NOT_SQL,
      reasons: [`read-only by config (readOnlyTools "${config}")`],
    };
  }
  const attested = input.attestations.find((a) => a.server === input.server && globMatcher(a.tool)(tool));
  if (attested) {
    const at = `${attested.source.file}:${attested.source.line}`;
    return {
      action: 'read',
      touched: [],
      relations: NOT_SQL,
      reasons: [`read-only by policy (tools "${attested.tool}" at ${at})`],
    };
  }
  const hint = input.readOnlyHint ? ' (the upstream says readOnlyHint, which is not trusted)' : '';
  return {
    action: 'write',
    touched: [],
    relations: NOT_SQL,
    reasons: [`not attested read-only: counts as a write${hint}`],
  };
}

function classifySql(input: ClassifyInput, sql: NonNullable<ClassifyInput['sql']>): Classification {
  const text = input.args[sql.argument];
  if (typeof text !== 'string') {
    return {
      action: 'write',
      touched: [],
      relations: unknownRelations(`the SQL tool has no string "${sql.argument}" argument`),
      reasons: [`SQL tool without a string "${sql.argument}" argument: counts as a write`],
    };
  }
  let inspection: SqlInspection;
  try {
    inspection = input.inspect(text, { searchPath: [...sql.searchPath] });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      action: 'write',
      touched: [],
      relations: unknownRelations(`the SQL could not be inspected (${message})`),
      reasons: [`the SQL could not be inspected (${message}): counts as a write`],
    };
  }
  const kinds = inspection.statements.join(', ') || 'no statement';
  const relations: TouchedRelations =
    inspection.unresolved.length > 0
      ? unknownRelations(inspection.unresolved.join('; '))
      : { known: true, relations: inspection.tables };
  if (inspection.readOnly) {
    return {
      action: 'read',
      touched: inspection.relations,
      relations,
      reasons: [`SQL proven read-only (${kinds})`],
    };
  }
  const why = inspection.parseError
    ? [`the SQL does not parse: ${inspection.parseError}`]
    : inspection.reasons;
  return {
    action: 'write',
    touched: inspection.relations,
    relations,
    reasons: [`SQL not proven read-only (${kinds}): counts as a write`, ...why],
  };
}
