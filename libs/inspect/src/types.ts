/** What the SQL inspector learns from one `sql` argument (issue 4 point 4). */
export interface SqlInspection {
  /** True only when every statement is proven read-only (plain SELECT/EXPLAIN/SHOW without side effects). */
  readOnly: boolean;
  /** Statement kinds in order, e.g. `['select']`, `['insert', 'select']`. */
  statements: string[];
  /** Every relation touched, as `schema.table` (lower-case unless quoted), unique, sorted. */
  relations: string[];
  /** Schemas of those relations, unique, sorted. */
  schemas: string[];
  /** Why the SQL counts as a write, or cannot be judged (unparsable, DO, COPY, CALL, SET search_path, …). */
  reasons: string[];
  /** Set when the SQL could not be parsed at all; such SQL is never read-only. */
  parseError?: string;
}

export interface SqlInspectOptions {
  /** Schemas unqualified names resolve against, in order (the server's configured search_path). */
  searchPath: string[];
}
