// The one projector: a pure function from a group's events, and the rows they touch, to
// row changes. The live write path, the rebuild and any other event log use it; one
// writer (write-rows.ts) turns its changes into SQL. No database here, no clock.
import { renamedInExpense, type EventEnvelope } from '../events/index.js';

export type Allocation = { userId: string; amountMinor: number }[];

export interface GroupRow {
  name: string;
  currency: string;
  version: number;
  /** Read-only (GroupArchived), until GroupUnarchived. */
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberRow {
  userId: string;
  name: string;
  joinedVersion: number;
  /** Order of joining; a new member takes the next one after the last (positions may have gaps). */
  position: number;
  /** The version of the MemberRemoved that took them out (their row stays, for their name in old expenses); null while a member. */
  removedVersion: number | null;
  /** Known only by a name (no account); false once claimed. */
  nameOnly: boolean;
  /** The name-only member whose place this account claimed (MemberClaimed); null otherwise. */
  claimedFrom: string | null;
}

export interface ExpenseRow {
  kind: 'expense' | 'payment';
  description: string;
  currency: string;
  amountMinor: number;
  payers: Allocation;
  shares: Allocation;
  split: unknown;
  /** ISO 8601, UTC, to the millisecond. */
  occurredAt: string;
  deleted: boolean;
  firstVersion: number;
  lastVersion: number;
}

/**
 * A group's read-model rows, or the part of them some events touch: the group row,
 * every member (in joining order) with their balance, and the expenses the events
 * name (a rebuild holds them all).
 */
export interface GroupRows {
  groupId: string;
  group: GroupRow | null;
  members: MemberRow[];
  balances: Map<string, bigint>;
  expenses: Map<string, ExpenseRow>;
}

/**
 * What the events changed, each row with what the stored row must still hold for the
 * change to apply (the writer checks it, so a projection that drifted from what the
 * projector was given fails the transaction instead of being overwritten).
 */
export interface RowChanges {
  groupId: string;
  /** The group row after the events; `expectedVersion` 0 means there is no row yet. */
  group: { row: GroupRow; expectedVersion: number };
  /** Members who joined. */
  newMembers: MemberRow[];
  /** Members who left, were removed, came back or were claimed (a new user id); `previous` is the stored row they replace. */
  changedMembers: { row: MemberRow; previous: MemberRow }[];
  /** Balances that moved or are new; `previous` undefined means there is no row yet. */
  balances: { userId: string; balance: bigint; previous: bigint | undefined }[];
  /** Balance rows that go (a claimed name-only member's: the account holds it now), with the balance they must still hold. */
  droppedBalances: { userId: string; previous: bigint }[];
  /** Expenses as the events leave them; `previousLastVersion` undefined means no row yet. */
  expenses: { expenseId: string; row: ExpenseRow; previousLastVersion: number | undefined }[];
}

/** The projection and the log disagree: whatever was being written must not commit. */
export class ProjectionError extends Error {}

export const emptyRows = (groupId: string): GroupRows => ({ groupId, group: null, members: [], balances: new Map(), expenses: new Map() });

/**
 * Applies `events` to a copy of `rows`; returns the rows after them and the changes to
 * write. Throws ProjectionError when the events cannot apply to these rows.
 */
export function project(rows: GroupRows, events: readonly EventEnvelope[]): { rows: GroupRows; changes: RowChanges } {
  const after: GroupRows = {
    groupId: rows.groupId,
    group: rows.group && { ...rows.group },
    members: rows.members.map((m) => ({ ...m })),
    balances: new Map(rows.balances),
    expenses: new Map([...rows.expenses].map(([id, e]) => [id, { ...e }])),
  };
  const touchedExpenses = new Set<string>();
  for (const event of events) for (const expenseId of projectEvent(after, event)) touchedExpenses.add(expenseId);
  if (!after.group) throw new ProjectionError(`group ${rows.groupId}: no events to project`);
  const newMembers = after.members.slice(rows.members.length);
  const changedMembers = rows.members.flatMap((previous, i) => {
    const row = after.members[i] as MemberRow;
    const changed =
      row.removedVersion !== previous.removedVersion ||
      row.joinedVersion !== previous.joinedVersion ||
      row.name !== previous.name ||
      row.userId !== previous.userId ||
      row.nameOnly !== previous.nameOnly ||
      row.claimedFrom !== previous.claimedFrom;
    return changed ? [{ row, previous }] : [];
  });
  const balances = [...after.balances]
    .filter(([userId, balance]) => rows.balances.get(userId) !== balance)
    .map(([userId, balance]) => ({ userId, balance, previous: rows.balances.get(userId) }));
  const droppedBalances = [...rows.balances].filter(([userId]) => !after.balances.has(userId)).map(([userId, previous]) => ({ userId, previous }));
  const expenses = [...touchedExpenses].map((expenseId) => ({
    expenseId,
    row: after.expenses.get(expenseId) as ExpenseRow,
    previousLastVersion: rows.expenses.get(expenseId)?.lastVersion,
  }));
  return {
    rows: after,
    changes: {
      groupId: rows.groupId,
      group: { row: after.group, expectedVersion: rows.group?.version ?? 0 },
      newMembers,
      changedMembers,
      balances,
      droppedBalances,
      expenses,
    },
  };
}

/** Every row of a group, as changes onto a projection that holds none of them (a rebuild). */
export function allRows(rows: GroupRows, expectedVersion: number): RowChanges {
  if (!rows.group) throw new ProjectionError(`group ${rows.groupId}: no events to project`);
  return {
    groupId: rows.groupId,
    group: { row: rows.group, expectedVersion },
    newMembers: rows.members,
    changedMembers: [],
    balances: [...rows.balances].map(([userId, balance]) => ({ userId, balance, previous: undefined })),
    droppedBalances: [],
    expenses: [...rows.expenses].map(([expenseId, row]) => ({ expenseId, row, previousLastVersion: undefined })),
  };
}

/**
 * Applies the group's next event to `p` in place; returns the expenses it changed.
 * Throws ProjectionError when it cannot apply. For MemberClaimed, `p.expenses` must hold
 * every expense that names the name-only member (the write path loads them).
 */
export function projectEvent(p: GroupRows, event: EventEnvelope): string[] {
  const touched: string[] = [];
  const expected = (p.group?.version ?? 0) + 1;
  if (event.version !== expected) {
    throw new ProjectionError(`group ${p.groupId}: expected version ${expected}, the log has ${event.version}`);
  }
  if (event.type !== 'GroupCreated' && !p.group) {
    throw new ProjectionError(`group ${p.groupId}: ${event.type} before GroupCreated`);
  }
  switch (event.type) {
    case 'GroupCreated': {
      if (p.group) throw new ProjectionError(`group ${p.groupId} is created twice`);
      const { name, currency, members } = event.data;
      p.group = { name, currency, version: event.version, archived: false, createdAt: event.recordedAt, updatedAt: event.recordedAt };
      for (const m of members) addMember(p, m.userId, m.name, event.version);
      break;
    }
    case 'MemberAdded':
      addMember(p, event.data.userId, event.data.name, event.version, event.data.nameOnly === true);
      break;
    case 'MemberClaimed': {
      const { nameOnlyId: from, userId: to, name } = event.data;
      const place = p.members.find((m) => m.userId === from);
      if (!place || place.removedVersion !== null || !place.nameOnly) {
        throw new ProjectionError(`${to} claims ${from} in group ${p.groupId}, not a name-only member`);
      }
      if (p.balances.has(to) || p.members.some((m) => m.userId === to))
        throw new ProjectionError(`${to} claims a place in group ${p.groupId} they already have`);
      Object.assign(place, { userId: to, name, nameOnly: false, claimedFrom: from });
      p.balances.set(to, p.balances.get(from) ?? 0n);
      p.balances.delete(from);
      for (const [expenseId, e] of p.expenses) {
        const renamed = renamedInExpense(e, from, to);
        if (!renamed) continue;
        p.expenses.set(expenseId, renamed); // its version stays that of its last add or delete
        touched.push(expenseId);
      }
      break;
    }
    case 'MemberRemoved': {
      const member = p.members.find((m) => m.userId === event.data.userId);
      if (!member || member.removedVersion !== null) throw new ProjectionError(`${event.data.userId} leaves group ${p.groupId} without being a member`);
      member.removedVersion = event.version;
      break;
    }
    case 'GroupRenamed':
      (p.group as GroupRow).name = event.data.name;
      break;
    case 'GroupArchived':
    case 'GroupUnarchived':
      (p.group as GroupRow).archived = event.type === 'GroupArchived';
      break;
    case 'ExpenseAdded': {
      const e = event.data;
      const existing = p.expenses.get(e.expenseId);
      if (existing && !existing.deleted) throw new ProjectionError(`expense ${e.expenseId} is already live in group ${p.groupId}`);
      for (const { userId } of [...e.payers, ...e.shares]) {
        if (!p.balances.has(userId)) throw new ProjectionError(`expense ${e.expenseId} names ${userId}, not a member of group ${p.groupId}`);
      }
      p.expenses.set(e.expenseId, {
        kind: e.kind,
        description: e.description,
        currency: e.currency,
        amountMinor: e.amountMinor,
        payers: e.payers,
        shares: e.shares,
        split: e.split,
        occurredAt: e.occurredAt,
        deleted: false,
        firstVersion: existing?.firstVersion ?? event.version,
        lastVersion: event.version,
      });
      moveBalances(p.balances, e.payers, e.shares, 1n);
      touched.push(e.expenseId);
      break;
    }
    case 'ExpenseDeleted': {
      const existing = p.expenses.get(event.data.expenseId);
      if (!existing || existing.deleted) throw new ProjectionError(`expense ${event.data.expenseId} is not live in group ${p.groupId}`);
      p.expenses.set(event.data.expenseId, { ...existing, deleted: true, lastVersion: event.version });
      moveBalances(p.balances, existing.payers, existing.shares, -1n);
      touched.push(event.data.expenseId);
      break;
    }
    default: {
      const never: never = event;
      throw new ProjectionError(`no projection for ${(never as EventEnvelope).type}`);
    }
  }
  const group = p.group as GroupRow;
  group.version = event.version;
  group.updatedAt = event.recordedAt;
  return touched;
}

function addMember(p: GroupRows, userId: string, name: string, version: number, nameOnly = false): void {
  const former = p.members.find((m) => m.userId === userId);
  if (former && former.removedVersion !== null) {
    // Back after leaving: the same row (and place), a member again from this version.
    former.name = name;
    former.removedVersion = null;
    former.joinedVersion = version;
    return;
  }
  if (former || p.balances.has(userId)) throw new ProjectionError(`${userId} joins group ${p.groupId} twice`);
  p.members.push({
    userId,
    name,
    joinedVersion: version,
    position: (p.members.at(-1)?.position ?? -1) + 1,
    removedVersion: null,
    nameOnly,
    claimedFrom: null,
  });
  p.balances.set(userId, 0n);
}

/** Each payer is owed what they paid, each participant owes their share; `sign` -1 undoes an expense. */
function moveBalances(into: Map<string, bigint>, payers: Allocation, shares: Allocation, sign: 1n | -1n): void {
  for (const p of payers) into.set(p.userId, (into.get(p.userId) ?? 0n) + sign * BigInt(p.amountMinor));
  for (const s of shares) into.set(s.userId, (into.get(s.userId) ?? 0n) - sign * BigInt(s.amountMinor));
}
