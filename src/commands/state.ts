import type { ExpenseAdded } from '../events/index.js';

export interface MemberState {
  userId: string;
  name: string;
  /** Known only by a name a member gave: no account (yet); claimed through an invite link. */
  nameOnly?: boolean;
}

export interface ExpenseState {
  deleted: boolean;
  data: ExpenseAdded;
}

/**
 * What a decision needs to know about a group.
 *
 * Folded from the events (`evolve`) in tests and by the verifier. At run time the
 * command handler loads the same shape from the projection inside the locked
 * transaction, and `expenses` then holds only the expenses the command names: a
 * decision never needs the others, and loading them would make every command cost
 * more as a group's history grows.
 */
export interface GroupState {
  group: { groupId: string; name: string; currency: string; version: number; archived: boolean } | null;
  /** The members now, in the order they joined (removed members and those who left are not here). */
  members: MemberState[];
  /** Who was a member and left or was removed (not back since). */
  former: ReadonlySet<string>;
  /** Name-only members whose place an account took: the name-only id, and the account's user id. */
  claimed: ReadonlyMap<string, string>;
  /** Each member's balance in minor units (what the group owes them; negative: what they owe). */
  balances: ReadonlyMap<string, bigint>;
  expenses: ReadonlyMap<string, ExpenseState>;
}

export const emptyState = (): GroupState => ({ group: null, members: [], former: new Set(), claimed: new Map(), balances: new Map(), expenses: new Map() });
