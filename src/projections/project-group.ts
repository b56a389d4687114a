import type { Allocation } from '../db/schema.js';
import type { EventEnvelope } from '../events/index.js';
import { ProjectionError } from './apply-events.js';
import { addBalanceDeltas } from './balance-deltas.js';

/**
 * One group's read-model rows, built in memory from its events: what the rebuild
 * writes in place of the rows the live projector maintained. The same rules as
 * applyGroupEvents, applied to a whole stream at once.
 */
export interface ProjectedGroup {
  groupId: string;
  group: { name: string; currency: string; version: number; createdAt: Date; updatedAt: Date } | null;
  /** In joining order (position = index). */
  members: { userId: string; name: string; joinedVersion: number }[];
  balances: Map<string, bigint>;
  expenses: Map<string, ProjectedExpense>;
}

export interface ProjectedExpense {
  kind: 'expense' | 'payment';
  description: string;
  currency: string;
  amountMinor: number;
  payers: Allocation;
  shares: Allocation;
  split: unknown;
  occurredAt: string;
  deleted: boolean;
  firstVersion: number;
  lastVersion: number;
}

export const emptyProjection = (groupId: string): ProjectedGroup => ({
  groupId,
  group: null,
  members: [],
  balances: new Map(),
  expenses: new Map(),
});

/** Applies the group's next event; throws ProjectionError when the log cannot be applied. */
export function projectEvent(p: ProjectedGroup, event: EventEnvelope): void {
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
      p.group = { name, currency, version: event.version, createdAt: event.recordedAt, updatedAt: event.recordedAt };
      for (const m of members) addMember(p, m.userId, m.name, event.version);
      break;
    }
    case 'MemberAdded':
      addMember(p, event.data.userId, event.data.name, event.version);
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
      addBalanceDeltas(p.balances, e.payers, e.shares, 1n);
      break;
    }
    case 'ExpenseDeleted': {
      const existing = p.expenses.get(event.data.expenseId);
      if (!existing || existing.deleted) throw new ProjectionError(`expense ${event.data.expenseId} is not live in group ${p.groupId}`);
      existing.deleted = true;
      existing.lastVersion = event.version;
      addBalanceDeltas(p.balances, existing.payers, existing.shares, -1n);
      break;
    }
    default: {
      const never: never = event;
      throw new ProjectionError(`no projection for ${(never as EventEnvelope).type}`);
    }
  }
  const group = p.group as NonNullable<ProjectedGroup['group']>;
  group.version = event.version;
  group.updatedAt = event.recordedAt;
}

function addMember(p: ProjectedGroup, userId: string, name: string, version: number): void {
  if (p.balances.has(userId)) throw new ProjectionError(`${userId} joins group ${p.groupId} twice`);
  p.members.push({ userId, name, joinedVersion: version });
  p.balances.set(userId, 0n);
}
