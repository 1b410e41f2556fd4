import type { EntityManager } from 'typeorm';
import { PolicyEvent, type PolicyAction } from './policy-event.entity';

/** The database's clock, so replicas with skewed clocks still write a history in order. */
export async function clock(em: EntityManager): Promise<Date> {
  const [row] = await em.query<Array<{ now: Date }>>('SELECT now() AS now');
  return row?.now ?? new Date();
}

/** Appends one history entry; only the lifecycle writes `policy_event`. */
export async function record(
  em: EntityManager,
  version: number,
  action: PolicyAction,
  actor: { subject: string; name?: string | null },
  at: Date,
  comment: string | undefined | null,
): Promise<void> {
  await em.getRepository(PolicyEvent).insert({
    version,
    action,
    actorSubject: actor.subject,
    actorName: actor.name ?? null,
    at,
    comment: comment ?? null,
  });
}
