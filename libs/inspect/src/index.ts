export type { SqlInspection, SqlInspectOptions } from './types';
export { initSqlInspector, inspectSql } from './sql/sql-inspector';
export { InspectError, InspectErrorCode } from './inspect-error';
export {
  READ_ONLY_CAST_TYPES,
  READ_ONLY_FUNCTIONS,
  READ_ONLY_OPERATORS,
  READ_ONLY_SAMPLE_METHODS,
} from './sql/allow-lists';
