import type { GroupEvent } from '../events/index.js';

/**
 * The audit's own fold of one group's events. Deliberately independent of the
 * projector (src/projections): it shares no SQL and no delta code with it, so a bug
 * there cannot hide here.
 */
export interface FoldedExpense {
  amountMinor: number;
  /** Each user's amount (entries of one user summed). */
  payers: Map<string, number>;
  shares: Map<string, number>;
  deleted: boolean;
  lastVersion: number;
}

/**
 * An exact amount of minor units: a number while it is a safe integer (the common
 * case, and much cheaper than a BigInt per event), a BigInt beyond that.
 */
export type Exact = number | bigint;

export interface FoldedGroup {
  groupId: string;
  currency: string;
  name: string;
  archived: boolean;
  version: number;
  /** Everyone who was ever a member, by user id: their name. */
  members: Map<string, string>;
  /** The version each member joined at (again, for one who came back). */
  joined: Map<string, number>;
  /** Those who left or were removed (not back since): the version that took them out. */
  removed: Map<string, number>;
  /** Members known only by a name (no account), not claimed. */
  nameOnly: Set<string>;
  /** Accounts that claimed a name-only member's place: the account's id, and the name-only id. */
  claimedFrom: Map<string, string>;
  /** Read them with balanceOf / balancesOf. */
  balances: Map<string, Exact>;
  expenses: Map<string, FoldedExpense>;
  /** Problems in the log itself (an event that cannot apply). */
  faults: string[];
}

export const newFold = (groupId: string): FoldedGroup => ({
  groupId,
  currency: '',
  name: '',
  archived: false,
  version: 0,
  members: new Map(),
  joined: new Map(),
  removed: new Map(),
  nameOnly: new Set(),
  claimedFrom: new Map(),
  balances: new Map(),
  expenses: new Map(),
  faults: [],
});

/** A user's folded balance; 0 for someone the group never knew. */
export const balanceOf = (group: FoldedGroup, userId: string): bigint => BigInt(group.balances.get(userId) ?? 0);

/** Every folded balance, as BigInts. */
export const balancesOf = (group: FoldedGroup): Map<string, bigint> => new Map(Array.from(group.balances, ([userId, minor]) => [userId, BigInt(minor)]));

/** a + b, exactly: numbers while the sum is a safe integer, a BigInt past that. */
function plus(a: Exact, b: number): Exact {
  if (typeof a === 'number') {
    const sum = a + b;
    if (Number.isSafeInteger(sum)) return sum;
    return BigInt(a) + BigInt(b);
  }
  return a + BigInt(b);
}

/** Whether a list of amounts adds up to exactly `total` (a sum past the safe range cannot: every amount is at most one). */
function addsUpTo(amounts: Iterable<number>, total: number): boolean {
  let sum = 0;
  for (const amount of amounts) sum += amount;
  return Number.isSafeInteger(sum) && sum === total;
}

function toMap(list: { userId: string; amountMinor: number }[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const { userId, amountMinor } of list) map.set(userId, (map.get(userId) ?? 0) + amountMinor);
  return map;
}

function move(group: FoldedGroup, expense: FoldedExpense, sign: 1 | -1, version: number): void {
  for (const [userId, minor] of expense.payers) group.balances.set(userId, plus(group.balances.get(userId) ?? 0, sign * minor));
  for (const [userId, minor] of expense.shares) group.balances.set(userId, plus(group.balances.get(userId) ?? 0, -sign * minor));
  // Someone who left did so at zero, and nothing may move their balance until they are back.
  if (group.removed.size === 0) return; // the common case costs nothing
  for (const userId of new Set([...expense.payers.keys(), ...expense.shares.keys()])) {
    if (group.removed.has(userId)) group.faults.push(`version ${version} moves the balance of ${userId}, who is no longer a member`);
  }
}

/** Applies one event (at `version`) to the fold, noting anything the log itself gets wrong. */
export function foldEvent(group: FoldedGroup, version: number, event: GroupEvent): void {
  if (version !== group.version + 1) group.faults.push(`version ${version} follows ${group.version}`);
  group.version = version;
  switch (event.type) {
    case 'GroupCreated':
      group.currency = event.data.currency;
      group.name = event.data.name;
      for (const m of event.data.members) {
        group.members.set(m.userId, m.name);
        group.joined.set(m.userId, version);
        group.balances.set(m.userId, 0);
      }
      break;
    case 'MemberAdded':
      if (group.members.has(event.data.userId) && !group.removed.has(event.data.userId)) {
        group.faults.push(`${event.data.userId} added at version ${version} while a member`);
      }
      group.members.set(event.data.userId, event.data.name);
      group.joined.set(event.data.userId, version);
      group.removed.delete(event.data.userId);
      if (event.data.nameOnly === true) group.nameOnly.add(event.data.userId);
      if (!group.balances.has(event.data.userId)) group.balances.set(event.data.userId, 0);
      break;
    case 'MemberClaimed': {
      const { nameOnlyId: from, userId: to, name } = event.data;
      if (!group.nameOnly.has(from) || group.removed.has(from)) {
        group.faults.push(`${to} claims ${from} at version ${version}, not a name-only member`);
        break;
      }
      if (group.members.has(to)) {
        group.faults.push(`${to} claims ${from} at version ${version} but was a member already`);
        break;
      }
      // The account takes the name-only member's place: their balance, and every expense
      // that names them (an expense's version stays that of its last add or delete).
      group.members.delete(from);
      group.nameOnly.delete(from);
      group.members.set(to, name);
      group.joined.set(to, group.joined.get(from) ?? version);
      group.joined.delete(from);
      group.claimedFrom.set(to, from);
      group.balances.set(to, group.balances.get(from) ?? 0);
      group.balances.delete(from);
      for (const expense of group.expenses.values()) {
        const paid = expense.payers.get(from);
        const owes = expense.shares.get(from);
        for (const [entries, amount] of [
          [expense.payers, paid],
          [expense.shares, owes],
        ] as const) {
          if (amount === undefined) continue;
          entries.delete(from);
          entries.set(to, amount);
        }
      }
      break;
    }
    case 'MemberRemoved':
      if (!group.members.has(event.data.userId) || group.removed.has(event.data.userId)) {
        group.faults.push(`${event.data.userId} removed at version ${version} without being a member`);
        break;
      }
      if (balanceOf(group, event.data.userId) !== 0n) {
        group.faults.push(`${event.data.userId} removed at version ${version} with a balance of ${balanceOf(group, event.data.userId)} minor units`);
      }
      group.removed.set(event.data.userId, version);
      break;
    case 'GroupRenamed':
      group.name = event.data.name;
      break;
    case 'GroupArchived':
    case 'GroupUnarchived':
      group.archived = event.type === 'GroupArchived';
      break;
    case 'ExpenseAdded': {
      const e = event.data;
      const expense: FoldedExpense = {
        amountMinor: e.amountMinor,
        payers: toMap(e.payers),
        shares: toMap(e.shares),
        deleted: false,
        lastVersion: version,
      };
      if (!addsUpTo(expense.payers.values(), e.amountMinor) || !addsUpTo(expense.shares.values(), e.amountMinor)) {
        group.faults.push(`expense ${e.expenseId} at version ${version}: payers or shares do not add up to the amount`);
      }
      if (group.expenses.get(e.expenseId)?.deleted === false) {
        group.faults.push(`expense ${e.expenseId} added again at version ${version} while live`);
      }
      group.expenses.set(e.expenseId, expense);
      move(group, expense, 1, version);
      break;
    }
    case 'ExpenseDeleted': {
      const expense = group.expenses.get(event.data.expenseId);
      if (!expense || expense.deleted) {
        group.faults.push(`expense ${event.data.expenseId} deleted at version ${version} but not live`);
        break;
      }
      expense.deleted = true;
      expense.lastVersion = version;
      move(group, expense, -1, version);
      break;
    }
  }
}
