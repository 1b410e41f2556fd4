import { z } from 'zod';
import { compileGlob } from '@gatehouse/policy';
import { BypassError, BypassErrorCode } from './bypass-error';

/** A reason must say something: this long at least, once trimmed. */
export const MIN_REASON_LENGTH = 20;
/** …with this many different characters (case and spacing ignored), so `aaaa…` or `asdfasdf…` is refused. */
export const MIN_REASON_DISTINCT = 8;
/** …and this many different words that are not filler (two letters or more, case ignored). */
export const MIN_REASON_WORDS = 3;
/** Grants shorter than this make no sense and only clutter the review. */
export const MIN_DURATION_SECONDS = 10;

/** Placeholder words: text people type to get past a required field (lorem ipsum, `asdf`, `blah`). */
const FILLER_WORDS = new Set([
  'lorem',
  'ipsum',
  'dolor',
  'amet',
  'consectetur',
  'adipiscing',
  'elit',
  'eiusmod',
  'tempor',
  'incididunt',
  'blah',
  'bla',
  'foo',
  'foobar',
  'baz',
  'qux',
  'xxx',
  'yyy',
  'zzz',
  'tbd',
  'todo',
  'placeholder',
  'whatever',
  'dummy',
  'test123',
]);

/** Keyboard rows and runs, forwards: a word inside one of these (or backwards) is a mash. */
const RUNS = [
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  'qwertzuiop',
  'azertyuiop',
  'abcdefghijklmnopqrstuvwxyz',
  '1234567890',
];

/** `asdf`, `hjkl`, `abcd`, `lkjh`: three or more letters in a row of the keyboard or the alphabet. */
function keyboardRun(word: string): boolean {
  if (word.length < 3) return false;
  const reversed = [...word].reverse().join('');
  return RUNS.some((run) => run.includes(word) || run.includes(reversed));
}

/** `bb`, `asdfasdf`, `hahaha`, `xoxo`: one character, or one short piece, typed again and again. */
function repeated(word: string): boolean {
  return /^(.)\1+$/u.test(word) || (word.length >= 4 && /^(.{1,4}?)\1+$/u.test(word));
}

/**
 * `sdkfj`, `lskdjf`: five or more latin letters without a vowel, typed in lower case (acronyms such
 * as `HTTPS` are written in capitals and stay words).
 */
function mash(word: string): boolean {
  return word.length >= 5 && /^[a-z]+$/.test(word) && !/[aeiouy]/.test(word);
}

/** A word that carries no meaning in a reason: placeholder text, a keyboard run, a repeated piece, a mash. */
function filler(word: string): boolean {
  const lower = word.toLowerCase();
  return FILLER_WORDS.has(lower) || keyboardRun(lower) || repeated(lower) || mash(word);
}

const ASK = 'say what is broken and why the policy is in the way';

/**
 * Why a reason is not meaningful, or undefined when it is. A reason is read by the people who
 * approve and review the grant: it must be a sentence about the incident, so filler is refused —
 * one character or word repeated, lorem ipsum and other placeholders, keyboard runs (`asdf`,
 * `qwerty`), too few different words or letters. The bar stays low enough that any real
 * sentence, however short or technical (`INC-4521: payments DB failover, deny blocks restore`),
 * passes: only whole words that mean nothing are discounted.
 */
export function weakReason(reason: string): string | undefined {
  const trimmed = reason.trim();
  if (trimmed.length < MIN_REASON_LENGTH) return `must be at least ${MIN_REASON_LENGTH} characters: ${ASK}`;
  const distinct = new Set(trimmed.toLowerCase().replace(/\s+/g, '')).size;
  if (distinct < MIN_REASON_DISTINCT) return `must be a real sentence, not repeated characters: ${ASK}`;
  const tokens = (trimmed.match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((w) => /\p{L}/u.test(w));
  const words = tokens.map((w) => w.toLowerCase());
  if (words.length < MIN_REASON_WORDS) return `must have at least ${MIN_REASON_WORDS} words: ${ASK}`;
  const fill = tokens.filter(filler).map((w) => w.toLowerCase());
  const shown = `"${fill.slice(0, 3).join(' ')}"`;
  if (
    (words.includes('lorem') && words.includes('ipsum')) ||
    (fill.some((w) => FILLER_WORDS.has(w)) && fill.length * 2 >= words.length)
  ) {
    return `must be a real sentence, not placeholder text (${shown}): ${ASK}`;
  }
  if (fill.length * 2 >= words.length) {
    return `must be a real sentence, not keyboard runs or repeated letters (${shown}): ${ASK}`;
  }
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const [top, times] = [...counts].sort((a, b) => b[1] - a[1])[0] as [string, number];
  if (words.length >= 4 && times * 2 > words.length) {
    return `must be a real sentence, not one word repeated ("${top}" is ${times} of ${words.length} words): ${ASK}`;
  }
  const meaningful = new Set(tokens.filter((w) => !filler(w)).map((w) => w.toLowerCase()));
  if (meaningful.size < MIN_REASON_WORDS) {
    return `must have at least ${MIN_REASON_WORDS} different words that are not filler: ${ASK}`;
  }
  const letters = new Set(trimmed.toLowerCase().match(/\p{L}/gu) ?? []).size;
  if (letters < MIN_REASON_DISTINCT - 2)
    return `must be a real sentence, with more than ${letters} different letters: ${ASK}`;
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
      })
      .meta({
        minLength: MIN_REASON_LENGTH,
        description: `What is broken and why the policy is in the way: ${MIN_REASON_LENGTH} characters, ${MIN_REASON_DISTINCT} different, ${MIN_REASON_WORDS} words at least`,
      }),
    incident: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^\p{Cc}]*$/u, 'must be printable')
      .optional()
      .meta({ description: 'The incident reference, e.g. INC-4711' }),
    servers: z
      .array(glob)
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Server name globs (default every server)' }),
    tools: z
      .array(glob)
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Tool, prompt or resource URI globs (default all)' }),
    everyone: z.boolean().optional().meta({ description: 'Covers every caller (not with users or groups)' }),
    users: z
      .array(name)
      .max(100)
      .optional()
      .meta({ description: 'Subjects (sub), exact; default: the opener alone' }),
    groups: z.array(name).max(100).optional(),
    liftRateLimits: z.boolean().optional().meta({ default: false }),
    durationSeconds: z.number().int().min(MIN_DURATION_SECONDS).optional().meta({
      default: 3600,
      description:
        'From activation; at most the configured maximum (bypass.maxDurationMinutes, 8 h by default)',
    }),
    /** Ask for a second person's approval even where break glass is allowed. */
    requireApproval: z.boolean().optional().meta({
      default: false,
      description: 'Ask for approval first even where the configuration allows break glass',
    }),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.everyone && ((body.users?.length ?? 0) > 0 || (body.groups?.length ?? 0) > 0))
      ctx.addIssue({
        code: 'custom',
        path: ['everyone'],
        message: 'cannot be combined with users or groups: choose everyone, or list who the grant covers',
      });
  })
  .meta({ id: 'OpenBypassGrant' });
export type OpenBody = z.infer<typeof openBody>;

export const approveBody = z
  .object({ comment: z.string().trim().min(1).max(2000).optional() })
  .strict()
  .meta({ id: 'BypassComment' });
export const revokeBody = z
  .object({ reason: z.string().trim().min(1).max(2000).optional() })
  .strict()
  .meta({ id: 'BypassRevoke' });
export const reviewBody = z
  .object({
    note: z.string().trim().min(10, 'must say what the review found (10 characters at least)').max(5000),
  })
  .strict()
  .meta({ id: 'BypassReview' });

export const callsQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict();

export const listQuery = z
  .object({
    status: z.enum(['pending-approval', 'active', 'revoked', 'expired']).optional(),
    overdue: z
      .enum(['true', 'false'])
      .optional()
      .meta({ description: '`true`: only grants whose post-hoc review is past due' }),
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

/** A grant id as the path spells it: a UUID, any case. */
export const grantIdText = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  .meta({ description: 'The grant id', format: 'uuid' });

/** `:id` of the grant routes. */
export const grantParams = z.object({ id: grantIdText });

/** A grant id from the path: a UUID, or 404 (never a database error). */
export function grantId(raw: string): string {
  if (!grantIdText.safeParse(raw).success)
    throw new BypassError(BypassErrorCode.GRANT_NOT_FOUND, `there is no bypass grant "${raw}"`);
  return raw.toLowerCase();
}
