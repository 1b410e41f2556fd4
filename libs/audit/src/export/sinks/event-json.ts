import type { SiemEvent } from './types';

/** The record or alert id every event carries, so a SIEM can drop the repeats of at-least-once. */
export function eventId(event: SiemEvent): string {
  return event.type === 'audit' ? event.record.id : event.alert.id;
}

/** When the event happened (the audit record's or the alert's time, not the time it was sent). */
export function eventTime(event: SiemEvent): string {
  return event.type === 'audit' ? event.record.occurredAt : event.alert.occurredAt;
}

/**
 * The one JSON shape every JSON-speaking sink sends: the record (or alert) as the audit API
 * answers it, with `type` first so a receiver can tell the two apart without guessing.
 */
export function eventJson(event: SiemEvent): Record<string, unknown> {
  return event.type === 'audit' ? { type: 'audit', ...event.record } : { type: 'alert', ...event.alert };
}
