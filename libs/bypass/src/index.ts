export { BypassModule } from './bypass.module';
export { BypassService } from './bypass.service';
export { GrantCache, BYPASS_BUS, BYPASS_TOPIC } from './grant-cache';
export { BypassError, BypassErrorCode, bypassErrorStatus } from './bypass-error';
export { BypassGrant, GRANT_MODES, GRANT_STATUSES } from './bypass-grant.entity';
export type { GrantMode, GrantStatus } from './bypass-grant.entity';
export { BypassEvent, BYPASS_ACTIONS } from './bypass-event.entity';
export type { BypassAction } from './bypass-event.entity';
export { BYPASS_SETTINGS, DEFAULT_CHECK_MS, modeFor, settingsFrom } from './settings';
export type { BypassSettings, ModeRule } from './settings';
export { CompiledGrant, coverOf } from './grant-matcher';
export type { GrantScope } from './grant-matcher';
export { weakReason, openBody } from './dto';
export type { OpenBody } from './dto';
export type { GrantCallView, GrantCalls, GrantDetail, GrantEventView, GrantView } from './views';
export { BypassAlerts, LOOKBACK_SECONDS, POLL_MS, SUMMARY_GRACE_MS } from './alerts/bypass-alerts.service';
export { alertTargets, PAGER_TARGET } from './alerts/alert-targets';
export {
  eventAlert,
  firstUseAlert,
  firstUseId,
  summaryAlerts,
  summaryId,
  windowStart,
  MAX_RETRY_SECONDS,
} from './alerts/alert';
export type { FirstUseRow, GrantEventRow, UseCountRow } from './alerts/alert';
