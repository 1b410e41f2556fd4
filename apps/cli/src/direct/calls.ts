import { randomUUID } from 'node:crypto';

import type { IngestCall } from '@gatehouse/audit';
import {
  isJSONRPCErrorResponse,
  type JSONRPCRequest,
  type JSONRPCResponse,
} from '@modelcontextprotocol/client';

/**
 * The requests reported to the gateway: the ones its policy decides on (a tool run, a resource
 * read, a prompt fetched). Listings, pings and session plumbing are not calls.
 */
export const REPORTED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get']);

/** The ingest contract's cap on `errorMessage` (INGEST_MAX_ERROR_MESSAGE): longer messages are cut. */
const MAX_ERROR_MESSAGE = 8192;

function clip(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE ? message : `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…`;
}

/** A reported request on its way to the direct server. */
export interface OpenCall {
  id: string;
  server: string;
  method: string;
  params: Record<string, unknown>;
  startedAt: string;
  started: number;
}

/** Starts the record of `request` as sent to the direct server (already without any gateway prefix). */
export function openCall(server: string, request: JSONRPCRequest): OpenCall {
  return {
    id: randomUUID(),
    server,
    method: request.method,
    params: request.params ?? {},
    startedAt: new Date().toISOString(),
    started: performance.now(),
  };
}

/** The finished record: the direct server's answer, or the transport failure that stood in for it. */
export function closeCall(call: OpenCall, outcome: JSONRPCResponse | { failure: string }): IngestCall {
  const base = {
    id: call.id,
    server: call.server,
    method: call.method,
    params: call.params,
    startedAt: call.startedAt,
    durationMs: Math.max(0, Math.round(performance.now() - call.started)),
  };
  if ('failure' in outcome) {
    return { ...base, status: 'error', errorCode: -32603, errorMessage: clip(outcome.failure) };
  }
  if (isJSONRPCErrorResponse(outcome)) {
    return {
      ...base,
      status: 'error',
      errorCode: outcome.error.code,
      errorMessage: clip(outcome.error.message),
    };
  }
  return { ...base, status: 'ok', responseBytes: Buffer.byteLength(JSON.stringify(outcome.result)) };
}
