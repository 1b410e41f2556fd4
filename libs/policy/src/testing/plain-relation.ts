import type { Relation } from '../types';

/**
 * Tests only: `schema.table` written by hand, both parts plain lower-case identifiers. Anything
 * else (quotes, a third part) throws: such relations are written as `{ schema, name }`, since the
 * gateway itself never splits a joined name.
 */
export function plainRelation(text: string): Relation {
  const match = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a plain schema.table; give { schema, name }`);
  return { schema: match[1] as string, name: match[2] as string };
}
