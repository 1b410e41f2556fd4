import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs `text` as a named prepared statement on the data source's own `pg` pool: Postgres parses
 * and plans it once per connection instead of on every call. For the few statements on a call's
 * hot path (the audit intent's INSERT); everything else goes through TypeORM as usual.
 */
export async function preparedQuery<T = Record<string, unknown>>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const result = await poolOf(dataSource).query({ name, text, values });
  return result.rows as T[];
}

/** The `pg` pool behind a TypeORM postgres data source (embedded PGlite included). */
export function poolOf(dataSource: DataSource): Pool {
  const master = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!master) throw new Error('the data source is not an initialised postgres data source');
  return master;
}
