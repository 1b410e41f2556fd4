import { z } from 'zod';
import { isoTime } from '@gatehouse/auth';
import { BYPASS_ACTIONS } from './bypass-event.entity';
import { GRANT_MODES, GRANT_STATUSES } from './bypass-grant.entity';

/** The answers of the break-glass API as zod schemas (the JSON sent: times are ISO strings). */

const actor = z.object({ subject: z.string(), name: z.string().nullable() }).meta({ id: 'BypassActor' });

export const grantViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(GRANT_STATUSES).meta({
      description:
        'As of the request: an active grant past its expiresAt shows expired even before the sweep writes it',
    }),
    effective: z.boolean().meta({ description: 'Lets calls through right now' }),
    mode: z.enum(GRANT_MODES),
    reason: z.string(),
    incident: z.string().nullable(),
    scope: z.object({ servers: z.array(z.string()), tools: z.array(z.string()) }),
    covers: z.object({ everyone: z.boolean(), users: z.array(z.string()), groups: z.array(z.string()) }),
    lifts: z.object({ policyDenies: z.literal(true), rateLimits: z.boolean() }),
    durationSeconds: z.number().int(),
    openedBy: actor,
    openedAt: isoTime,
    activatedAt: isoTime.nullable(),
    expiresAt: isoTime,
    approvedBy: actor.nullable(),
    approvedAt: isoTime.nullable(),
    revokedBy: actor.nullable(),
    revokedAt: isoTime.nullable(),
    review: z.object({
      required: z.boolean(),
      dueAt: isoTime.nullable(),
      overdue: z.boolean().meta({ description: 'Due and not signed off' }),
      reviewedBy: actor.nullable(),
      reviewedAt: isoTime.nullable(),
      note: z.string().nullable(),
    }),
  })
  .meta({ id: 'BypassGrant' });

export const grantDetailSchema = grantViewSchema
  .extend({
    history: z.array(
      z
        .object({ action: z.enum(BYPASS_ACTIONS), actor, at: isoTime, comment: z.string().nullable() })
        .meta({ id: 'BypassGrantEvent' }),
    ),
  })
  .meta({ id: 'BypassGrantDetail' });

export const grantCallsSchema = z
  .object({
    grantId: z.string(),
    calls: z.array(
      z
        .object({
          id: z.string(),
          kind: z.string(),
          callId: z.string(),
          occurredAt: z.string(),
          outcome: z.string(),
          principal: z.object({
            subject: z.string(),
            name: z.string().nullable(),
            email: z.string().nullable(),
          }),
          server: z.string().nullable(),
          tool: z.string().nullable(),
          method: z.string(),
          action: z.string().nullable(),
          decision: z.string().nullable(),
          matchedRules: z.array(z.string()),
          errorCode: z.number().int().nullable(),
        })
        .meta({ id: 'BypassGrantCall', description: 'One audit record of a call made under the grant' }),
    ),
    truncated: z
      .boolean()
      .meta({ description: 'More calls than limit were made; page with a smaller window in the audit API' }),
  })
  .meta({ id: 'BypassGrantCalls' });

/** `GET /api/v1/bypass/settings`: what the console's dialog states before anyone presses it. */
export const bypassSettingsSchema = z
  .object({
    defaultDurationSeconds: z.number().int().describe('a grant opened without a duration lasts this long'),
    maxDurationSeconds: z.number().int().describe('no grant lasts longer'),
    reviewWindowSeconds: z
      .number()
      .int()
      .describe("an immediate grant's review is overdue this long after opening"),
    upstreams: z
      .array(z.object({ name: z.string(), mode: z.enum(GRANT_MODES) }))
      .describe(
        'each upstream and the mode a grant reaching it takes (approval-first waits for a second person)',
      ),
  })
  .meta({ id: 'BypassSettings' });
export type BypassSettingsView = z.infer<typeof bypassSettingsSchema>;
