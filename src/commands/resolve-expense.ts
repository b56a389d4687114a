import { allocate } from '../money/allocate.js';
import { minorDigits } from '../money/currency.js';
import { AmountFormatError, parseDecimal } from '../money/decimal.js';
import type { ExpenseAdded, SplitSpec } from '../events/index.js';
import { DomainError, invalid } from './errors.js';
import type { ExpenseInput } from './expense-input.js';
import type { GroupState } from './state.js';

/** Largest amount of one expense, in minor units (DESIGN.md §5): a limit on input, not on stored events. */
export const MAX_EXPENSE_MINOR = 1_000_000_000_000;
const MAX_MINOR = BigInt(MAX_EXPENSE_MINOR);
const HUNDRED_PERCENT_BP = 10_000n;

/**
 * Turns a client's expense into the fact an `ExpenseAdded` records: every amount in
 * integer minor units, shares resolved with largest-remainder rounding. Throws a
 * DomainError (400) naming the offending field.
 */
export function resolveExpense(expenseId: string, input: ExpenseInput, state: GroupState, occurredAt: string): ExpenseAdded {
  const group = state.group;
  if (!group) throw new Error('resolveExpense needs an existing group');
  const digits = minorDigits(group.currency);
  const members = new Set(state.members.map((m) => m.userId));
  const money = (text: string, path: string, allowZero = false): bigint => parse(text, digits, path, { max: MAX_MINOR, allowZero });

  const total = money(input.amount, 'amount');
  const payers = resolvePayers(input, total, money, members);
  const { shares, split } = resolveSplit(input.split, total, money, members, state);
  const kind = input.kind ?? 'expense';
  if (kind === 'payment') checkPayment(payers, shares);

  return {
    expenseId,
    kind,
    description: input.description,
    currency: group.currency,
    amountMinor: Number(total),
    payers: payers.map(([userId, minor]) => ({ userId, amountMinor: Number(minor) })),
    shares: shares.map(([userId, minor]) => ({ userId, amountMinor: Number(minor) })),
    split,
    occurredAt,
  };
}

type Allocation = [userId: string, minor: bigint][];
type Money = (text: string, path: string, allowZero?: boolean) => bigint;

function parse(text: string, digits: number, path: string, options: { max: bigint; allowZero: boolean }): bigint {
  try {
    return parseDecimal(text, digits, options);
  } catch (error) {
    if (!(error instanceof AmountFormatError)) throw error;
    const code = error.reason === 'TOO_MANY_DECIMALS' ? 'TOO_MANY_DECIMALS' : error.reason === 'OUT_OF_RANGE' ? 'AMOUNT_OUT_OF_RANGE' : 'INVALID_AMOUNT';
    throw invalid(code, path, error.message);
  }
}

function checkUsers(ids: readonly string[], path: string, members: ReadonlySet<string>): void {
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (!members.has(id)) throw invalid('UNKNOWN_MEMBER', `${path}/${i}`, `${id} is not a member of this group`);
    if (seen.has(id)) throw invalid('DUPLICATE_MEMBER', `${path}/${i}`, `${id} is listed twice`);
    seen.add(id);
  });
}

function resolvePayers(input: ExpenseInput, total: bigint, money: Money, members: ReadonlySet<string>): Allocation {
  if ((input.paidBy === undefined) === (input.payers === undefined)) {
    throw invalid('VALIDATION_FAILED', 'paidBy', 'give exactly one of paidBy or payers');
  }
  if (input.paidBy !== undefined) {
    checkUsers([input.paidBy], 'paidBy', members);
    return [[input.paidBy, total]];
  }
  const payers = input.payers ?? [];
  if (payers.length === 0) throw invalid('VALIDATION_FAILED', 'payers', 'must name at least one payer');
  checkUsers(
    payers.map((p) => p.userId),
    'payers',
    members,
  );
  const resolved: Allocation = payers.map((p, i) => [p.userId, money(p.amount, `payers/${i}/amount`)]);
  const sum = resolved.reduce((s, [, minor]) => s + minor, 0n);
  if (sum !== total) {
    throw invalid('PAYERS_SUM_MISMATCH', 'payers', 'payer amounts must add up to the amount');
  }
  return resolved;
}

function resolveSplit(spec: SplitSpec, total: bigint, money: Money, members: ReadonlySet<string>, state: GroupState): { shares: Allocation; split: SplitSpec } {
  switch (spec.mode) {
    case 'equal': {
      const among = spec.among ?? state.members.map((m) => m.userId);
      checkUsers(among, 'split/among', members);
      const amounts = allocate(
        total,
        among.map(() => 1n),
      );
      return { shares: zip(among, amounts), split: { mode: 'equal', among } };
    }
    case 'exact': {
      const ids = spec.shares.map((s) => s.userId);
      checkUsers(ids, 'split/shares', members);
      const amounts = spec.shares.map((s, i) => money(s.amount, `split/shares/${i}/amount`, true));
      if (amounts.reduce((a, b) => a + b, 0n) !== total) {
        throw invalid('SPLIT_SUM_MISMATCH', 'split/shares', 'exact amounts must add up to the amount');
      }
      return { shares: zip(ids, amounts), split: spec };
    }
    case 'percent': {
      const ids = spec.shares.map((s) => s.userId);
      checkUsers(ids, 'split/shares', members);
      const basisPoints = spec.shares.map((s, i) => parse(s.percent, 2, `split/shares/${i}/percent`, { max: HUNDRED_PERCENT_BP, allowZero: true }));
      if (basisPoints.reduce((a, b) => a + b, 0n) !== HUNDRED_PERCENT_BP) {
        throw invalid('SPLIT_SUM_MISMATCH', 'split/shares', 'percentages must add up to exactly 100');
      }
      return { shares: zip(ids, allocate(total, basisPoints)), split: spec };
    }
    case 'shares': {
      const ids = spec.shares.map((s) => s.userId);
      checkUsers(ids, 'split/shares', members);
      const amounts = allocate(
        total,
        spec.shares.map((s) => BigInt(s.weight)),
      );
      return { shares: zip(ids, amounts), split: spec };
    }
    default: {
      const never: never = spec;
      throw new DomainError(400, 'VALIDATION_FAILED', `unknown split ${JSON.stringify(never)}`);
    }
  }
}

const zip = (ids: readonly string[], amounts: readonly bigint[]): Allocation => ids.map((id, i) => [id, amounts[i] as bigint]);

/** A payment moves money from one member to one other member. */
function checkPayment(payers: Allocation, shares: Allocation): void {
  const recipients = shares.filter(([, minor]) => minor > 0n);
  if (payers.length !== 1) {
    throw invalid('INVALID_PAYMENT', 'payers', 'a payment has exactly one payer (use paidBy)');
  }
  if (recipients.length !== 1 || shares.length !== 1) {
    throw invalid('INVALID_PAYMENT', 'split', 'a payment has exactly one recipient');
  }
  if (payers[0]?.[0] === recipients[0]?.[0]) {
    throw invalid('INVALID_PAYMENT', 'split', 'payer and recipient must be different members');
  }
}
