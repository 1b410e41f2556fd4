import { CONTENT_COLUMNS, contentRowFromDb, type ContentRow } from '../store/canonical';

/**
 * One audit record as a line of an exported object: the chain columns (`writer_id`, `seq`,
 * `prev_hash`, `hash` as hex) and the content columns exactly as they are hashed, under the
 * table's column names. Anyone holding the object can recompute every hash without Postgres.
 */
export type RecordLine = { writer_id: string; seq: number; prev_hash: string; hash: string } & ContentRow;

/** The line of a row as `pg` returns it. Keys are in a fixed order, so the same row gives the same text. */
export function recordLine(row: Record<string, unknown>): RecordLine {
  const content = contentRowFromDb(row);
  const line: Record<string, unknown> = {
    writer_id: String(row.writer_id),
    seq: Number(row.seq),
    prev_hash: (row.prev_hash as Buffer).toString('hex'),
    hash: (row.hash as Buffer).toString('hex'),
  };
  for (const column of CONTENT_COLUMNS) line[column] = content[column];
  return line as RecordLine;
}

/** The content columns of a parsed line, for `chainHash`. */
export function lineContent(line: RecordLine): ContentRow {
  const out = {} as ContentRow;
  for (const column of CONTENT_COLUMNS) out[column] = line[column] ?? null;
  return out;
}
