import { z } from 'zod';

/** Ids of users, groups and expenses a client sends: client-supplied or server-made, same rule. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const Id = z.string().regex(ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$');
/**
 * An id in a response. Responses are checked against their schemas on the way out, and
 * history may hold ids from before a rule was tightened: what was stored is shown.
 */
export const StoredId = z.string();

/** Something a person could see: not only spaces, invisible format characters or lone combining marks. */
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Mn}\p{Me}]/u;
/** In a `u` regex a surrogate pair is one code point: only an unpaired half matches. */
const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL = /\p{Cc}/u;
const CONTROL_BUT_TAB_AND_BREAKS = /(?![\t\n\r])\p{Cc}/u;

/**
 * The one rule for text people type (names, descriptions): valid Unicode (no unpaired
 * UTF-16 surrogate, which PostgreSQL would refuse or change), no NUL or other control
 * characters (a multiline text may hold tabs and line breaks), stored trimmed and
 * NFC-normalised, 1 to `max` characters, at least one of them visible.
 */
export const text = (max: number, options: { multiline?: boolean } = {}) =>
  z
    .string()
    .refine((s) => !LONE_SURROGATE.test(s), { message: 'must be valid Unicode text (it holds an unpaired surrogate)', abort: true })
    .refine((s) => !(options.multiline ? CONTROL_BUT_TAB_AND_BREAKS : CONTROL).test(s), {
      message: options.multiline ? 'must not contain control characters other than tabs and line breaks' : 'must not contain control characters',
      abort: true,
    })
    .normalize('NFC')
    .trim()
    .min(1)
    .max(max)
    .refine((s) => VISIBLE.test(s), 'must contain a visible character');

export const Name = text(100);

/**
 * A page size in a query string: digits only, at least 1 (0, a sign, a fraction or no
 * number at all is a 400); above `max` it is taken as `max` (DESIGN.md §6), as most
 * public APIs do.
 */
export const PageLimit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, 'must be a whole number')
    .optional()
    .transform((s) => (s === undefined ? fallback : Number(s)))
    .refine((n) => n >= 1, 'must be at least 1')
    .transform((n) => Math.min(n, max))
    .describe(`Items per page, 1 to ${max} (more is taken as ${max}); default ${fallback}`);
export const Amount = z.string().max(40).describe('Decimal string in the group currency, e.g. "12.34" (never a JSON number)');

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .describe('application/problem+json (RFC 9457)');

/**
 * An id in a path only looks something up, so it is taken as stored: history may hold
 * ids from before the id rule was tightened, and they must stay reachable.
 */
// fastify's router takes path segments of up to 100 characters. Any stored id may be
// looked up, but none holds a control character or an unpaired surrogate (PostgreSQL
// text cannot hold NUL): such a segment is refused before it reaches a query.
export const PathId = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => !CONTROL.test(s) && !LONE_SURROGATE.test(s), 'must not contain control characters or unpaired surrogates');
export const GroupParams = z.strictObject({ groupId: PathId });
export const ExpenseParams = z.strictObject({ groupId: PathId, expenseId: PathId });
export const MemberParams = z.strictObject({ groupId: PathId, userId: PathId });

/** Write headers: optimistic concurrency and retries. */
/** RFC 9110 §13.1.1: `*`, or a comma-separated list of entity tags (weak ones never match a write). */
const IF_MATCH = /^\s*(\*|(W\/)?"[\x21\x23-\x7e]*"(\s*,\s*(W\/)?"[\x21\x23-\x7e]*")*)\s*$/;

export const WriteHeaders = z.object({
  'if-match': z.string().max(1000).regex(IF_MATCH, 'must be * or a list of entity tags, such as "12" (the group\'s ETag)').optional(),
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII')
    .optional(),
});

export const Balance = z.object({ userId: StoredId, name: z.string(), balance: Amount });
export const Member = z.object({
  userId: StoredId,
  name: z.string(),
  nameOnly: z.boolean().describe('A friend without an account, known by the name a member gave; they claim the place through an invite link'),
});
export const Group = z.object({
  groupId: StoredId,
  name: z.string(),
  currency: z.string(),
  version: z.number().int(),
  archived: z.boolean().describe('Read-only while true: every write but opening it again answers 409 GROUP_ARCHIVED'),
  members: z.array(Member),
  formerMembers: z.array(Member).describe('Who left or was removed: their names stay on past expenses'),
});
