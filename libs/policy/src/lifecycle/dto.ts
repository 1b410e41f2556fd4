import { z } from 'zod';
import { PolicyError, PolicyErrorCode } from './policy-error';

/** At most this many files per version, each path at most this long (bounded work per request). */
export const MAX_FILES = 500;
const MAX_PATH = 256;

const path = z
  .string()
  .min(1)
  .max(MAX_PATH)
  .regex(/\.ya?ml$/, 'a policy file path ends in .yaml or .yml')
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'),
    'a policy file path is relative to the policy directory, with "/" between folders and no "." or ".." parts',
  );

/** `POST /api/v1/policy/versions`. */
export const createDraftBody = z
  .object({
    message: z.string().trim().min(1, 'say why this version exists').max(2000),
    files: z
      .array(z.object({ path, text: z.string() }).strict().meta({ id: 'PolicyFile' }))
      .min(1, 'a version has at least one file')
      .max(MAX_FILES)
      .refine((files) => new Set(files.map((f) => f.path)).size === files.length, 'each path appears once'),
  })
  .strict()
  .meta({ id: 'CreateDraftBody' });
export type CreateDraftBody = z.infer<typeof createDraftBody>;

/** The body of propose, approve and activate: an optional comment. */
export const commentBody = z
  .object({ comment: z.string().trim().min(1).max(2000).optional() })
  .strict()
  .prefault({})
  .meta({ id: 'CommentBody' });

/** Reject and rollback say why. */
export const reasonBody = z
  .object({ comment: z.string().trim().min(1, 'say why').max(2000) })
  .strict()
  .meta({ id: 'ReasonBody' });

/** Parses a request part with a schema; a mismatch is an INVALID_REQUEST naming each field. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? undefined);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : what}: ${i.message}`)
    .join('; ');
  throw new PolicyError(PolicyErrorCode.INVALID_REQUEST, `invalid ${what}: ${issues}`);
}

/** A version number as the path or query spells it: 1, 2, … (a Postgres integer). */
export const versionNumberText = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/)
  .refine((value) => Number(value) <= 2_147_483_647)
  .meta({ description: 'A policy version number (1, 2, …)' });

/** `:number` of the version routes. */
export const versionParams = z.object({ number: versionNumberText });

/** `GET /api/v1/policy/diff?from=&to=`. */
export const diffQuery = z.object({ from: versionNumberText, to: versionNumberText });

/** A version number from the path or query. */
export function versionNumber(value: string | undefined, name: string): number {
  if (!versionNumberText.safeParse(value).success || value === undefined) {
    throw new PolicyError(
      PolicyErrorCode.INVALID_REQUEST,
      `${name} must be a policy version number (1, 2, …); got ${JSON.stringify(value ?? null)}`,
    );
  }
  return Number(value);
}
