import { z } from 'zod';
import { isoTime } from '@gatehouse/auth';
import { POLICY_ACTIONS } from './policy-event.entity';
import { POLICY_STATUSES } from './policy-version.entity';

/** The answers of the policy API as zod schemas (the JSON sent: times are ISO strings). */

export const actorSchema = z
  .object({ subject: z.string(), name: z.string().nullable() })
  .meta({ id: 'Actor', description: 'Who did something: the subject is what four-eyes compares' });

export const stepSchema = z.object({ by: actorSchema, at: isoTime }).meta({ id: 'Step' });

export const policyFileSchema = z
  .object({ path: z.string(), text: z.string() })
  .meta({ id: 'PolicyFileText' });

export const policyVersionSummarySchema = z
  .object({
    number: z.number().int(),
    status: z.enum(POLICY_STATUSES),
    message: z.string(),
    author: actorSchema,
    createdAt: isoTime,
    paths: z.array(z.string()).meta({ description: 'Paths of its files, relative to the policy directory' }),
    proposed: stepSchema.nullable(),
    approved: stepSchema.nullable(),
    rejected: stepSchema.nullable(),
    activated: stepSchema.nullable().meta({ description: 'The last activation or rollback to this version' }),
    superseded: z.object({ at: isoTime, by: z.number().int().nullable() }).nullable(),
  })
  .meta({ id: 'PolicyVersionSummary', description: 'A version without its file texts' });

export const policyEventSchema = z
  .object({ action: z.enum(POLICY_ACTIONS), actor: actorSchema, at: isoTime, comment: z.string().nullable() })
  .meta({ id: 'PolicyEvent' });

export const policyVersionDetailSchema = policyVersionSummarySchema
  .extend({ files: z.array(policyFileSchema), history: z.array(policyEventSchema) })
  .meta({ id: 'PolicyVersionDetail', description: 'A version with its files and its whole history' });

export const policyDiffSchema = z
  .object({
    from: z.number().int(),
    to: z.number().int(),
    files: z.array(
      z.object({
        path: z.string(),
        change: z.enum(['added', 'removed', 'modified']),
        patch: z.string().meta({ description: 'Unified diff' }),
      }),
    ),
  })
  .meta({ id: 'PolicyDiff' });

export const activePolicySchema = z
  .object({
    version: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The version this replica decides with; null: none (every call is denied)' }),
    loadedAt: isoTime.nullable(),
    details: policyVersionSummarySchema.nullable(),
  })
  .meta({ id: 'ActivePolicy', description: 'What this replica enforces right now' });
