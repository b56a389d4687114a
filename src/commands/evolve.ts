import { renamedInExpense, type ExpenseAdded, type GroupEvent } from '../events/index.js';
import type { GroupState } from './state.js';

/** Applies one event to a group's state. Pure: returns a new state. */
export function evolve(state: GroupState, event: GroupEvent): GroupState {
  const version = (state.group?.version ?? 0) + 1;
  switch (event.type) {
    case 'GroupCreated': {
      const { groupId, name, currency, members } = event.data;
      return {
        group: { groupId, name, currency, version, archived: false },
        members: [...members],
        former: new Set(),
        claimed: new Map(),
        balances: new Map(members.map((m) => [m.userId, 0n])),
        expenses: new Map(),
      };
    }
    case 'MemberAdded': {
      const balances = new Map(state.balances);
      if (!balances.has(event.data.userId)) balances.set(event.data.userId, 0n);
      const former = new Set(state.former);
      former.delete(event.data.userId);
      const { userId, name, nameOnly } = event.data;
      const member = nameOnly ? { userId, name, nameOnly } : { userId, name };
      return { ...state, group: bump(state, version), members: [...state.members, member], former, balances };
    }
    case 'MemberClaimed': {
      const { nameOnlyId: from, userId: to, name } = event.data;
      const balances = new Map(state.balances);
      balances.set(to, balances.get(from) ?? 0n);
      balances.delete(from);
      const expenses = new Map(state.expenses);
      for (const [expenseId, e] of state.expenses) {
        const data = renamedInExpense(e.data, from, to);
        if (data) expenses.set(expenseId, { ...e, data });
      }
      return {
        ...state,
        group: bump(state, version),
        members: state.members.map((m) => (m.userId === from ? { userId: to, name } : m)),
        claimed: new Map([...state.claimed, [from, to]]),
        balances,
        expenses,
      };
    }
    case 'MemberRemoved':
      return {
        ...state,
        group: bump(state, version),
        members: state.members.filter((m) => m.userId !== event.data.userId),
        former: new Set([...state.former, event.data.userId]),
      };
    case 'GroupRenamed':
      return { ...state, group: { ...bump(state, version), name: event.data.name } };
    case 'GroupArchived':
    case 'GroupUnarchived':
      return { ...state, group: { ...bump(state, version), archived: event.type === 'GroupArchived' } };
    case 'ExpenseAdded': {
      const expenses = new Map(state.expenses);
      expenses.set(event.data.expenseId, { deleted: false, data: event.data });
      return { ...state, group: bump(state, version), expenses, balances: moved(state.balances, event.data, 1n) };
    }
    case 'ExpenseDeleted': {
      const expenses = new Map(state.expenses);
      const existing = expenses.get(event.data.expenseId);
      if (!existing) return { ...state, group: bump(state, version), expenses };
      expenses.set(event.data.expenseId, { ...existing, deleted: true });
      return { ...state, group: bump(state, version), expenses, balances: moved(state.balances, existing.data, -1n) };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown event ${(never as GroupEvent).type}`);
    }
  }
}

function bump(state: GroupState, version: number): NonNullable<GroupState['group']> {
  if (!state.group) throw new Error('event before GroupCreated');
  return { ...state.group, version };
}

/** Balances after an expense (sign 1) or its undoing (-1): payers are owed, sharers owe. */
function moved(balances: ReadonlyMap<string, bigint>, e: ExpenseAdded, sign: 1n | -1n): Map<string, bigint> {
  const next = new Map(balances);
  for (const p of e.payers) next.set(p.userId, (next.get(p.userId) ?? 0n) + sign * BigInt(p.amountMinor));
  for (const s of e.shares) next.set(s.userId, (next.get(s.userId) ?? 0n) - sign * BigInt(s.amountMinor));
  return next;
}

export const fold = (events: Iterable<GroupEvent>, initial: GroupState): GroupState => {
  let state = initial;
  for (const event of events) state = evolve(state, event);
  return state;
};
