/** What the SQL inspector learns from one `sql` argument (issue 4 point 4). */
export interface SqlInspection {
  /** True only when every statement is proven read-only (plain SELECT/EXPLAIN/SHOW without side effects). */
  readOnly: boolean;
  /** Statement kinds in order, e.g. `['select']`, `['insert', 'select']`. */
  statements: string[];
  /** Every relation touched, as `schema.table` (lower-case unless quoted), unique, sorted. */
  relations: string[];
  /**
   * The same relations with schema and name as the parser gave them, in the order of `relations`.
   * Decide on these, never on a split of `relations`: `public."secret.keys"` is a table named
   * `secret.keys` in `public`.
   */
  tables: { schema: string; name: string }[];
  /** Schemas of those relations, unique, sorted. */
  schemas: string[];
  /** Why the SQL counts as a write, or cannot be judged (unparsable, DO, COPY, CALL, SET search_path, …). */
  reasons: string[];
  /**
   * Why the relations above may be incomplete (empty: they are all the SQL touches): a statement
   * that names no relations (DO, CALL, CREATE FUNCTION, GRANT … ON SCHEMA, EXECUTE, …), a call of a
   * function that is not a known built-in, an unqualified name more than one schema could hold,
   * unparsable SQL. A `schemas` allow never holds, and a `schemas` deny applies, when this is not empty.
   */
  unresolved: string[];
  /** Set when the SQL could not be parsed at all; such SQL is never read-only. */
  parseError?: string;
}

export interface SqlInspectOptions {
  /** Schemas unqualified names resolve against, in order (the server's configured search_path). */
  searchPath: string[];
}
