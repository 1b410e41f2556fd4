export type { SqlInspection, SqlInspectOptions } from './types';
