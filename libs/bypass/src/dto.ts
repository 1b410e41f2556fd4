import { z } from 'zod';
import { compileGlob } from '@gatehouse/policy';
import { BypassError, BypassErrorCode } from './bypass-error';

/** A reason must say something: this long at least, once trimmed. */
export const MIN_REASON_LENGTH = 20;
/** …with this many different characters (case and spacing ignored), so `aaaa…` or `asdfasdf…` is refused. */
export const MIN_REASON_DISTINCT = 8;
/** …and this many words of two or more letters or digits. */
export const MIN_REASON_WORDS = 3;
/** Grants shorter than this make no sense and only clutter the review. */
export const MIN_DURATION_SECONDS = 10;

/** Why a reason is not meaningful, or undefined when it is. */
export function weakReason(reason: string): string | undefined {
  const trimmed = reason.trim();
  if (trimmed.length < MIN_REASON_LENGTH)
    return `must be at least ${MIN_REASON_LENGTH} characters: say what is broken and why the policy is in the way`;
  const distinct = new Set(trimmed.toLowerCase().replace(/\s+/g, '')).size;
  if (distinct < MIN_REASON_DISTINCT)
    return 'must be a real sentence, not repeated characters: say what is broken and why the policy is in the way';
  const words = trimmed.match(/[\p{L}\p{N}]{2,}/gu) ?? [];
  if (words.length < MIN_REASON_WORDS)
    return `must have at least ${MIN_REASON_WORDS} words: say what is broken and why the policy is in the way`;
  return undefined;
}

const glob = z
  .string()
  .min(1)
  .max(200)
  .superRefine((pattern, ctx) => {
    const compiled = compileGlob(pattern);
    if (!compiled.ok) ctx.addIssue({ code: 'custom', message: `"${pattern}" ${compiled.message}` });
  });

const name = z.string().trim().min(1).max(320);

/**
 * `POST /api/v1/bypass/grants`. Everything but the reason has a default, so the console's one
 * button sends `{ reason }` (and usually `incident`): every server and tool, for the opener alone,
 * policy denies only, for the configured default duration.
 */
export const openBody = z
  .object({
    reason: z
      .string()
      .max(2000)
      .superRefine((reason, ctx) => {
        const weak = weakReason(reason);
        if (weak) ctx.addIssue({ code: 'custom', message: weak });
      }),
    incident: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^\p{Cc}]*$/u, 'must be printable')
      .optional(),
    servers: z.array(glob).min(1).max(100).optional(),
    tools: z.array(glob).min(1).max(100).optional(),
    everyone: z.boolean().optional(),
    users: z.array(name).max(100).optional(),
    groups: z.array(name).max(100).optional(),
    liftRateLimits: z.boolean().optional(),
    durationSeconds: z.number().int().min(MIN_DURATION_SECONDS).optional(),
    /** Ask for a second person's approval even where break glass is allowed. */
    requireApproval: z.boolean().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.everyone && ((body.users?.length ?? 0) > 0 || (body.groups?.length ?? 0) > 0))
      ctx.addIssue({
        code: 'custom',
        path: ['everyone'],
        message: 'cannot be combined with users or groups: choose everyone, or list who the grant covers',
      });
  });
export type OpenBody = z.infer<typeof openBody>;

export const approveBody = z.object({ comment: z.string().trim().min(1).max(2000).optional() }).strict();
export const revokeBody = z.object({ reason: z.string().trim().min(1).max(2000).optional() }).strict();
export const reviewBody = z
  .object({
    note: z.string().trim().min(10, 'must say what the review found (10 characters at least)').max(5000),
  })
  .strict();

export const callsQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict();

export const listQuery = z
  .object({
    status: z.enum(['pending-approval', 'active', 'revoked', 'expired']).optional(),
    overdue: z.enum(['true', 'false']).optional(),
  })
  .strict();

/** Parses a request part or refuses it with every problem, each naming its field. */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `${what}: unknown field ${issue.keys.join(', ')}`;
    const field = issue.path.length > 0 ? `${what}.${issue.path.join('.')}` : what;
    return `${field} ${issue.message}`;
  });
  throw new BypassError(BypassErrorCode.INVALID_REQUEST, problems.join('; '), problems);
}

/** A grant id from the path: a UUID, or 404 (never a database error). */
export function grantId(raw: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw))
    throw new BypassError(BypassErrorCode.GRANT_NOT_FOUND, `there is no bypass grant "${raw}"`);
  return raw.toLowerCase();
}
