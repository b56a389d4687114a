import type { GroupEvent } from '../events/index.js';

/**
 * The audit's own fold of one group's events. Deliberately independent of the
 * projector (src/projections): it shares no SQL and no delta code with it, so a bug
 * there cannot hide here.
 */
export interface FoldedExpense {
  amountMinor: bigint;
  payers: Map<string, bigint>;
  shares: Map<string, bigint>;
  deleted: boolean;
  lastVersion: number;
}

export interface FoldedGroup {
  groupId: string;
  currency: string;
  version: number;
  members: Map<string, string>;
  balances: Map<string, bigint>;
  expenses: Map<string, FoldedExpense>;
  /** Problems in the log itself (an event that cannot apply). */
  faults: string[];
}

export const newFold = (groupId: string): FoldedGroup => ({
  groupId,
  currency: '',
  version: 0,
  members: new Map(),
  balances: new Map(),
  expenses: new Map(),
  faults: [],
});

const sumOf = (m: Map<string, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);

function toMap(list: { userId: string; amountMinor: number }[]): Map<string, bigint> {
  const map = new Map<string, bigint>();
  for (const { userId, amountMinor } of list) map.set(userId, (map.get(userId) ?? 0n) + BigInt(amountMinor));
  return map;
}

function move(group: FoldedGroup, expense: FoldedExpense, sign: bigint): void {
  for (const [userId, minor] of expense.payers) group.balances.set(userId, (group.balances.get(userId) ?? 0n) + sign * minor);
  for (const [userId, minor] of expense.shares) group.balances.set(userId, (group.balances.get(userId) ?? 0n) - sign * minor);
}

/** Applies one event (at `version`) to the fold, noting anything the log itself gets wrong. */
export function foldEvent(group: FoldedGroup, version: number, event: GroupEvent): void {
  if (version !== group.version + 1) group.faults.push(`version ${version} follows ${group.version}`);
  group.version = version;
  switch (event.type) {
    case 'GroupCreated':
      group.currency = event.data.currency;
      for (const m of event.data.members) {
        group.members.set(m.userId, m.name);
        group.balances.set(m.userId, 0n);
      }
      break;
    case 'MemberAdded':
      group.members.set(event.data.userId, event.data.name);
      if (!group.balances.has(event.data.userId)) group.balances.set(event.data.userId, 0n);
      break;
    case 'ExpenseAdded': {
      const e = event.data;
      const expense: FoldedExpense = {
        amountMinor: BigInt(e.amountMinor),
        payers: toMap(e.payers),
        shares: toMap(e.shares),
        deleted: false,
        lastVersion: version,
      };
      if (sumOf(expense.payers) !== expense.amountMinor || sumOf(expense.shares) !== expense.amountMinor) {
        group.faults.push(`expense ${e.expenseId} at version ${version}: payers or shares do not add up to the amount`);
      }
      if (group.expenses.get(e.expenseId)?.deleted === false) {
        group.faults.push(`expense ${e.expenseId} added again at version ${version} while live`);
      }
      group.expenses.set(e.expenseId, expense);
      move(group, expense, 1n);
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
      move(group, expense, -1n);
      break;
    }
  }
}
