import type { ExpenseAdded, GroupEvent } from '../events/index.js';
import { conflict, DomainError, groupNotFound, invalid, notFound } from './errors.js';
import type { ExpenseInput } from './expense-input.js';
import { resolveExpense } from './resolve-expense.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';
import type { GroupState, MemberState } from './state.js';

/** Commands on one group stream. Clock readings and ids come in with the command. */
export type GroupCommand =
  | { type: 'CreateGroup'; groupId: string; name: string; currency: string; members: MemberState[] }
  | { type: 'AddMember'; member: MemberState; invitedBy?: string | undefined }
  /** Someone who is not a member yet joins through an invite link of `invitedBy`. */
  | { type: 'JoinGroup'; member: MemberState; invitedBy: string }
  /** Someone who is not a member yet takes a name-only member's place, through an invite link of `invitedBy`. */
  | { type: 'ClaimMember'; nameOnlyId: string; member: MemberState; invitedBy: string }
  | { type: 'AddExpense'; expenseId: string; input: ExpenseInput; now: string }
  | { type: 'EditExpense'; expenseId: string; input: ExpenseInput; now: string }
  | { type: 'DeleteExpense'; expenseId: string }
  /** Rename, archive (read-only) or open again; in one request, in that order (opening first). */
  | { type: 'UpdateGroup'; name?: string | undefined; archived?: boolean | undefined }
  /** Removing another member, or leaving (the actor is the member). */
  | { type: 'RemoveMember'; userId: string; actorUserId: string };

export const MAX_MEMBERS = 500;

/**
 * Decides which events a command appends, or refuses it with a DomainError.
 * An empty list means the command was already applied (a retry): nothing to append.
 */
export function decide(command: GroupCommand, state: GroupState): GroupEvent[] {
  if (command.type === 'CreateGroup') {
    if (state.group) throw conflict('GROUP_ALREADY_EXISTS', `group ${command.groupId} already exists`);
    const { groupId, name, currency, members } = command;
    return [{ type: 'GroupCreated', data: { groupId, name, currency, members } }];
  }
  if (!state.group) throw groupNotFound();
  // An expense sent with a name-only member's id after an account claimed the place (a
  // form opened before, a queued retry) means the account: the same person.
  if ((command.type === 'AddExpense' || command.type === 'EditExpense') && state.claimed.size > 0) {
    command = { ...command, input: withClaimedIds(command.input, state.claimed) };
  }
  // A retried AddExpense gets the first answer, whatever happened since (the group
  // archived, someone in it gone): it is compared with what is stored first.
  if (command.type === 'AddExpense' && isRetry(command, state)) return [];
  // An archived group is read-only until it is opened again.
  if (state.group.archived && (command.type === 'JoinGroup' || command.type === 'ClaimMember')) {
    throw conflict('GROUP_ARCHIVED', `the group "${state.group.name}" is archived: nobody can join it until a member opens it again`);
  }
  if (state.group.archived && command.type !== 'UpdateGroup') throw archivedGroup(state.group.name);

  switch (command.type) {
    case 'UpdateGroup': {
      const { name, archived } = command;
      const events: GroupEvent[] = [];
      const renamed = name !== undefined && name !== state.group.name;
      if (state.group.archived) {
        if (archived !== false) {
          if (renamed) throw archivedGroup(state.group.name);
          return [];
        }
        events.push({ type: 'GroupUnarchived', data: {} });
      }
      if (renamed) events.push({ type: 'GroupRenamed', data: { name } });
      if (archived === true && !state.group.archived) events.push({ type: 'GroupArchived', data: {} });
      return events;
    }
    case 'RemoveMember': {
      const member = state.members.find((m) => m.userId === command.userId);
      if (!member) throw notFound('MEMBER_NOT_FOUND', `${command.userId} is not a member of this group`);
      const leaving = command.userId === command.actorUserId;
      const balance = state.balances.get(member.userId) ?? 0n;
      if (balance !== 0n) {
        const amount = `${formatMinor(balance < 0n ? -balance : balance, minorDigits(state.group.currency))} ${state.group.currency}`;
        const owes = balance < 0n;
        throw conflict(
          'MEMBER_HAS_BALANCE',
          leaving
            ? `you cannot leave while your balance is not zero: you ${owes ? 'owe' : 'are owed'} ${amount}; settle up first`
            : `${member.name} cannot be removed while their balance is not zero: ${member.name} ${owes ? 'owes' : 'is owed'} ${amount}; settle up first`,
        );
      }
      // Name-only members cannot open the group: someone with an account must stay.
      if (!member.nameOnly && !state.members.some((m) => m.userId !== member.userId && !m.nameOnly)) {
        throw conflict('LAST_MEMBER', 'the last member with an account cannot leave the group; archive it instead');
      }
      return [{ type: 'MemberRemoved', data: { userId: member.userId } }];
    }
    case 'ClaimMember': {
      const { nameOnlyId, member, invitedBy } = command;
      const isMember = state.members.some((m) => m.userId === member.userId);
      if (state.claimed.get(nameOnlyId) === member.userId && isMember) return [];
      if (!state.members.some((m) => m.userId === invitedBy)) throw inviteDead();
      if (isMember) {
        throw conflict('ALREADY_MEMBER', 'you are a member of this group already: a place cannot be claimed on top of your own');
      }
      if (state.former.has(member.userId)) {
        throw conflict('FORMER_MEMBER', 'you were a member of this group before: ask a member to add you again');
      }
      if (state.claimed.has(nameOnlyId)) throw conflict('ALREADY_CLAIMED', 'someone has taken this place already');
      // Whoever holds the link learns nothing about other members: a place that is not
      // there and a member with an account get the same answer.
      if (!state.members.some((m) => m.userId === nameOnlyId && m.nameOnly)) {
        throw notFound('PLACE_NOT_FOUND', 'this place is no longer in the group: ask a member for a new invite');
      }
      return [{ type: 'MemberClaimed', data: { nameOnlyId, userId: member.userId, name: member.name, invitedBy } }];
    }
    case 'AddMember':
    case 'JoinGroup': {
      if (state.members.some((m) => m.userId === command.member.userId)) return [];
      if (command.type === 'JoinGroup') {
        // A link works while its maker is a member, and only for newcomers: someone who
        // left or was removed comes back when a member adds them again.
        if (!state.members.some((m) => m.userId === command.invitedBy)) throw inviteDead();
        if (state.former.has(command.member.userId)) {
          throw conflict('FORMER_MEMBER', 'you were a member of this group before: ask a member to add you again');
        }
      }
      if (state.members.length >= MAX_MEMBERS) {
        throw conflict('GROUP_FULL', `a group has at most ${MAX_MEMBERS} members`);
      }
      const { userId, name, nameOnly } = command.member;
      if (nameOnly && (state.former.has(userId) || state.claimed.has(userId))) {
        throw conflict('MEMBER_ID_TAKEN', `${userId} was a member of this group before`);
      }
      return [
        {
          type: 'MemberAdded',
          data: { userId, name, ...(command.invitedBy === undefined ? {} : { invitedBy: command.invitedBy }), ...(nameOnly ? { nameOnly: true } : {}) },
        },
      ];
    }
    case 'AddExpense': {
      const existing = state.expenses.get(command.expenseId);
      const occurredAt = normalizeInstant(command.input.occurredAt) ?? existing?.data.occurredAt ?? command.now;
      const data = resolveExpense(command.expenseId, command.input, state, occurredAt);
      if (existing) {
        if (sameExpense(existing.data, data)) return [];
        throw conflict('EXPENSE_ID_CONFLICT', `expense ${command.expenseId} exists with other content`);
      }
      return [{ type: 'ExpenseAdded', data }];
    }
    case 'EditExpense': {
      const existing = state.expenses.get(command.expenseId);
      if (!existing) throw notFound('EXPENSE_NOT_FOUND', `expense ${command.expenseId} not found`);
      if (existing.deleted) {
        throw conflict('EXPENSE_ALREADY_DELETED', `expense ${command.expenseId} is deleted`);
      }
      assertAllMembers(existing.data, state);
      const occurredAt = normalizeInstant(command.input.occurredAt) ?? existing.data.occurredAt;
      const data = resolveExpense(command.expenseId, command.input, state, occurredAt);
      if (sameExpense(existing.data, data)) return [];
      return [
        { type: 'ExpenseDeleted', data: { expenseId: command.expenseId } },
        { type: 'ExpenseAdded', data },
      ];
    }
    case 'DeleteExpense': {
      const existing = state.expenses.get(command.expenseId);
      if (!existing) throw notFound('EXPENSE_NOT_FOUND', `expense ${command.expenseId} not found`);
      if (existing.deleted) {
        throw conflict('EXPENSE_ALREADY_DELETED', `expense ${command.expenseId} is already deleted`);
      }
      assertAllMembers(existing.data, state);
      return [{ type: 'ExpenseDeleted', data: { expenseId: command.expenseId } }];
    }
    default: {
      const never: never = command;
      throw new DomainError(400, 'UNKNOWN_COMMAND', `unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Changing an expense moves the balance of everyone in it. Someone who left (or was
 * removed) did so at a zero balance and must stay there: an expense that names them is
 * kept as it is until they are added back.
 */
function assertAllMembers(expense: ExpenseAdded, state: GroupState): void {
  const members = new Set(state.members.map((m) => m.userId));
  const former = [...new Set([...expense.payers, ...expense.shares].map((a) => a.userId))].filter((userId) => !members.has(userId));
  if (former.length > 0) {
    throw conflict(
      'EXPENSE_NAMES_FORMER_MEMBER',
      `expense ${expense.expenseId} involves ${former.join(', ')}, no longer a member: changing it would move their balance. Add them back first, or record a new expense among the members`,
    );
  }
}

const inviteDead = (): DomainError => notFound('INVITE_NOT_FOUND', 'this invite link does not work: it was revoked, it expired, or it never existed');

const archivedGroup = (name: string): DomainError =>
  conflict('GROUP_ARCHIVED', `the group "${name}" is archived: open it again (archived: false) before changing anything`);

/** The input with every claimed name-only id replaced by the id of the account that claimed the place. */
function withClaimedIds(input: ExpenseInput, claimed: ReadonlyMap<string, string>): ExpenseInput {
  const id = (userId: string) => claimed.get(userId) ?? userId;
  const split = input.split;
  return {
    ...input,
    ...(input.paidBy === undefined ? {} : { paidBy: id(input.paidBy) }),
    ...(input.payers === undefined ? {} : { payers: input.payers.map((p) => ({ ...p, userId: id(p.userId) })) }),
    split:
      split.mode === 'equal'
        ? split.among === undefined
          ? split
          : { ...split, among: split.among.map(id) }
        : ({ ...split, shares: split.shares.map((x) => ({ ...x, userId: id(x.userId) })) } as typeof split),
  };
}

/** The AddExpense asks for exactly the expense stored under its id (resolved with the people it names counted in). */
function isRetry(command: Extract<GroupCommand, { type: 'AddExpense' }>, state: GroupState): boolean {
  const existing = state.expenses.get(command.expenseId);
  if (!existing) return false;
  const named = [...existing.data.payers, ...existing.data.shares].map((a) => a.userId).filter((id) => !state.members.some((m) => m.userId === id));
  // In the order the expense had them (who gets a leftover cent follows it), then the rest.
  const split = existing.data.split;
  const order = split.mode === 'equal' && split.among ? split.among : existing.data.shares.map((a) => a.userId);
  const rank = (userId: string) => (order.includes(userId) ? order.indexOf(userId) : order.length);
  const members = [...state.members, ...[...new Set(named)].map((userId) => ({ userId, name: userId }))].sort((x, y) => rank(x.userId) - rank(y.userId));
  try {
    const occurredAt = normalizeInstant(command.input.occurredAt) ?? existing.data.occurredAt;
    return sameExpense(existing.data, resolveExpense(command.expenseId, command.input, { ...state, members }, occurredAt));
  } catch (error) {
    if (error instanceof DomainError) return false;
    throw error;
  }
}

/** Instants are kept to the millisecond, in UTC, so every reader sees the same value. */
function normalizeInstant(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const instant = new Date(text);
  // Date() rolls 2026-02-30 over into March; a calendar date must exist as written.
  const [, y, m, d] = /^(\d{4})-(\d{2})-(\d{2})T/.exec(text) ?? [];
  const daysInMonth = new Date(Date.UTC(Number(y), Number(m), 0)).getUTCDate();
  const year = Number(y);
  if (Number.isNaN(instant.getTime()) || year < 1900 || year > 9999 || Number(d) > daysInMonth || Number(d) < 1) {
    throw invalid('VALIDATION_FAILED', 'occurredAt', 'must be a real date between the years 1900 and 9999');
  }
  return instant.toISOString();
}

/** Same fact, so a retry: compares every field that moves money or shows to people. */
function sameExpense(a: ExpenseAdded, b: ExpenseAdded): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}
