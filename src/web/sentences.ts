// What the page says for each problem the API can answer with (issue #14 §2): a sentence
// for people, never a validator's text. Where the server's own detail is already written
// for people (it names the member, the balance, the group), the page shows it; otherwise
// the page's sentence. test/problem-sentences.test.ts checks every code the server can
// send has one here.
import type { Problem } from './api.js';

type Sentence = string | ((problem: Problem) => string);
const detail = (problem: Problem) => problem.detail;

export const SENTENCES: Record<string, Sentence> = {
  // Amounts and expenses
  INVALID_AMOUNT: 'That is not an amount: write it like 12.50.',
  TOO_MANY_DECIMALS: 'This amount has more decimals than the currency has.',
  AMOUNT_OUT_OF_RANGE: 'This amount is too large (or zero).',
  PAYERS_SUM_MISMATCH: 'What the payers paid must add up to the amount.',
  SPLIT_SUM_MISMATCH: 'The split must add up to the whole amount.',
  INVALID_PAYMENT: 'A payment goes from one member to one other member.',
  UNKNOWN_MEMBER: 'Someone in this expense is not a member of the group any more. Reload the page.',
  DUPLICATE_MEMBER: 'Someone is listed twice in this expense.',
  EXPENSE_NOT_FOUND: 'This expense is no longer there. Reload the page.',
  EXPENSE_ALREADY_DELETED: 'This expense was deleted already, perhaps by someone else.',
  EXPENSE_ID_CONFLICT: 'This expense was recorded already with other details. Reload the page and try again.',
  EXPENSE_NAMES_FORMER_MEMBER: 'This expense involves someone who has left the group, so it can no longer be changed.',
  UNSUPPORTED_CURRENCY: 'Use a three-letter currency code such as EUR, USD or JPY.',
  // CSV import: the server names the row and the column
  MALFORMED_CSV: (p) => `This file cannot be read as a Splitwise export: ${p.detail}`,
  UNKNOWN_COLUMN: (p) => `A column in the mapping is not in the file: ${p.detail}`,
  IMPORT_HAS_PROBLEMS: 'Some rows cannot be imported: see the preview. Nothing was imported.',
  // Groups and members
  GROUP_NOT_FOUND: 'This group does not exist, or you are not one of its members.',
  GROUP_ALREADY_EXISTS: 'A group with this id exists already.',
  GROUP_ARCHIVED: 'This group is archived: open it again before changing anything.',
  GROUP_FULL: 'A group can have at most 500 members.',
  GROUP_BUSY: 'This group is very busy right now. Try again in a moment.',
  MEMBER_HAS_BALANCE: detail,
  LAST_MEMBER: 'The last member with an account cannot leave. Archive the group instead.',
  MEMBER_NOT_FOUND: 'That person is not a member of this group.',
  MEMBER_ID_TAKEN: 'That name-only member was in this group before.',
  UNKNOWN_USER: 'No one has that user id. Check it with the person you want to add.',
  USER_NOT_FOUND: 'No one has that user id. Check it with the person you want to add.',
  FORMER_MEMBER: 'You were a member of this group before: ask a member to add you again.',
  ALREADY_MEMBER: 'You are a member of this group already.',
  ALREADY_CLAIMED: 'Someone has taken this place already. Ask for a new link.',
  PLACE_NOT_FOUND: 'This place is no longer in the group. Ask for a new link.',
  INVITE_NOT_FOUND: 'This invite link does not work: it was revoked, it expired, or it never existed.',
  // Accounts and devices
  UNAUTHENTICATED: 'You are signed out on this device. Sign in again.',
  USER_ALREADY_EXISTS: 'That user id is taken. Choose another, or leave it empty.',
  RESERVED_USER_ID: 'User ids starting with guest_ are kept for members who are only a name.',
  DEVICE_NOT_FOUND: 'That device is no longer signed in.',
  SIGN_IN_CODE_INVALID: 'That code does not work: it may be mistyped, used already, or more than 10 minutes old. Show a new one.',
  SIGN_IN_KEY_INVALID: 'That key does not work: it may be mistyped or revoked.',
  TOO_MANY_STREAMS: 'Too many pages are open on this device. Close some and reload.',
  // The request itself
  VALIDATION_FAILED: 'Some of what you entered is not right: see the fields above.',
  VERSION_CONFLICT: 'Someone changed this group meanwhile. The page shows the latest; try again.',
  IDEMPOTENCY_KEY_REUSED: 'Something went wrong sending this. Reload the page and try again.',
  INVALID_CURSOR: 'The list could not go on from there. Reload the page.',
  RATE_LIMITED: 'Too many attempts in a short time. Wait a minute and try again.',
  MALFORMED_JSON: 'Something went wrong sending this. Reload the page and try again.',
  BAD_REQUEST: 'Something went wrong sending this. Reload the page and try again.',
  BAD_URL: 'Something went wrong sending this. Reload the page and try again.',
  BODY_TOO_LARGE: 'This is too large to send.',
  INVALID_CONTENT_LENGTH: 'Something went wrong sending this. Reload the page and try again.',
  UNSUPPORTED_MEDIA_TYPE: 'Something went wrong sending this. Reload the page and try again.',
  URI_TOO_LONG: 'This address is too long.',
  NOT_FOUND: 'This page does not exist.',
  // The service
  SHUTTING_DOWN: 'FairShare is restarting. Try again in a few seconds.',
  DATABASE_UNAVAILABLE: 'FairShare cannot reach its database right now. Nothing was saved; try again in a few seconds.',
  DATABASE_TIMEOUT: 'FairShare took too long to answer. Nothing was saved; try again.',
  EVENT_LOG_UNAVAILABLE: 'FairShare cannot reach its event log right now. Nothing was saved; try again in a few seconds.',
  INTERNAL_ERROR: 'Something went wrong on our side. Nothing was saved; try again.',
  OPERATOR_ACCESS_DISABLED: 'This is for operators only.',
  UNKNOWN_COMMAND: 'Something went wrong on our side. Nothing was saved; try again.',
};

/** The sentence for a problem the API answered with. */
export function sentenceFor(problem: Problem): string {
  const sentence = SENTENCES[problem.code];
  if (sentence === undefined) return problem.detail;
  return typeof sentence === 'string' ? sentence : sentence(problem);
}

/** What a field should say when the server's check of it failed with a validator's words. */
const FIELD_SENTENCES: [RegExp, string][] = [
  [/^name$/, 'Give a name of up to 100 characters.'],
  [/^description$/, 'Describe it in up to 200 characters.'],
  [/^currency$/, 'Use a three-letter currency code such as EUR.'],
  [/^(amount|payers\/\d+\/amount|split\/shares\/\d+\/amount)$/, 'Write an amount like 12.50.'],
  [/^split\/shares\/\d+\/percent$/, 'Write a percentage like 33.33.'],
  [/^split\/shares\/\d+\/weight$/, 'Write a whole number of shares, such as 1 or 2.'],
  [/^occurredAt$/, 'Choose a real date.'],
  [/^(userId|paidBy|payers\/\d+\/userId|split\/among\/\d+|split\/shares\/\d+\/userId)$/, 'Choose a member of the group.'],
];

/** A validator's words ("Too small: expected string…", "Invalid input…") are no sentence for people. */
const VALIDATOR = /^(Too (small|big)|Invalid|Unrecognized|Expected|Required|String must|Number must|must match \^)/i;

/** A field's error as the page shows it: the server's words where they are meant for people, a sentence of the page's otherwise. */
export function fieldSentence(path: string, message: string): string {
  if (!VALIDATOR.test(message)) return message.charAt(0).toUpperCase() + message.slice(1);
  return FIELD_SENTENCES.find(([pattern]) => pattern.test(path))?.[1] ?? 'This is not right: check it and try again.';
}

/** One sentence per field that failed (a field the server found several things wrong with says it once), in order. */
export function fieldSentences(errors: readonly { path: string; message: string }[]): Map<string, string> {
  const byPath = new Map<string, string[]>();
  for (const { path, message } of errors) byPath.set(path, [...(byPath.get(path) ?? []), message]);
  // The server's words meant for people, each once; the field's own sentence only when
  // every word about it is a validator's.
  return new Map(
    [...byPath].map(([path, messages]) => {
      const human = [...new Set(messages.filter((m) => !VALIDATOR.test(m)).map((m) => fieldSentence(path, m)))];
      return [path, human.length > 0 ? human.join(' ') : fieldSentence(path, messages[0] as string)];
    }),
  );
}
