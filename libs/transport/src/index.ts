export { TransportModule, SESSION_STORE } from './transport.module';
export { McpGateway, SUPPORTED_VERSIONS, MODERN_VERSION, LEGACY_VERSIONS } from './mcp-gateway.service';
export type { ClientSink, ClientStream, PostInput, PostOutcome } from './mcp-gateway.service';
export { CALL_STAGES } from './call-context';
export type { CallContext, CallOutcome, CallStage, ProtocolEra } from './call-context';
export { TransportError, TransportErrorCode, errorMapping } from './jsonrpc';
export type { JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from './jsonrpc';
export { qualify, unqualify, qualifyUri, unqualifyUri } from './namespace';
export type { SessionRecord, SessionStore } from './session/session-store';
