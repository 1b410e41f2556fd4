import type { INGEST_MAX_CALLS, INGEST_PATH } from '@gatehouse/audit';

/*
 * The ingest contract's constants, restated here so the bridge does not load the audit
 * library at run time; typed by the contract's own literal types, so a change there fails
 * the build here instead of drifting.
 */

/** Most calls in one ingest request. */
export const MAX_CALLS_PER_UPLOAD: typeof INGEST_MAX_CALLS = 500;

/** Where the gateway takes reports of calls the bridge ran on a direct server. */
export const INGEST_ENDPOINT: typeof INGEST_PATH = '/api/v1/audit/ingest';
