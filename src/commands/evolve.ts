import type { GroupEvent } from '../events/index.js';
import type { GroupState } from './state.js';

/** Applies one event to a group's state. Pure: returns a new state. */
export function evolve(state: GroupState, event: GroupEvent): GroupState {
  const version = (state.group?.version ?? 0) + 1;
  switch (event.type) {
    case 'GroupCreated': {
      const { groupId, name, currency, members } = event.data;
      return { group: { groupId, name, currency, version }, members: [...members], expenses: new Map() };
    }
    case 'MemberAdded':
      return { ...state, group: bump(state, version), members: [...state.members, event.data] };
    case 'ExpenseAdded': {
      const expenses = new Map(state.expenses);
      expenses.set(event.data.expenseId, { deleted: false, data: event.data });
      return { ...state, group: bump(state, version), expenses };
    }
    case 'ExpenseDeleted': {
      const expenses = new Map(state.expenses);
      const existing = expenses.get(event.data.expenseId);
      if (existing) expenses.set(event.data.expenseId, { ...existing, deleted: true });
      return { ...state, group: bump(state, version), expenses };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown event ${(never as GroupEvent).type}`);
    }
  }
}

function bump(state: GroupState, version: number): GroupState['group'] {
  if (!state.group) throw new Error('event before GroupCreated');
  return { ...state.group, version };
}

export const fold = (events: Iterable<GroupEvent>, initial: GroupState): GroupState => {
  let state = initial;
  for (const event of events) state = evolve(state, event);
  return state;
};
