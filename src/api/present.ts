import type { BalanceRow, ExpenseRow, MemberRow, GroupRow } from '../read-model/group-reads.js';
import type { EventEnvelope } from '../events/index.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';

/** Turns projection rows into API bodies: integer minor units become decimal strings. */

export const money = (minor: bigint | number, currency: string): string => formatMinor(BigInt(minor), minorDigits(currency));

export const presentBalances = (rows: readonly BalanceRow[], currency: string) =>
  rows.map((r) => ({ userId: r.userId, name: r.name, balance: money(r.balanceMinor, currency) }));

const presentMember = (m: MemberRow) => ({ userId: m.userId, name: m.name, nameOnly: m.nameOnly === true });

export const presentGroup = (
  group: Omit<GroupRow, 'epoch' | 'archived'> & { archived?: boolean | undefined },
  members: readonly MemberRow[],
  formerMembers: readonly MemberRow[] = [],
) => ({
  groupId: group.groupId,
  name: group.name,
  currency: group.currency,
  version: group.version,
  archived: group.archived ?? false,
  members: members.map(presentMember),
  formerMembers: formerMembers.map(presentMember),
});

/** An expense as the read model holds it, or as a command's outcome carries it. */
type ExpenseShown = Omit<ExpenseRow, 'amountMinor' | 'occurredAt' | 'firstVersion'> & { amountMinor: bigint | number; occurredAt: Date | string };

export const presentExpense = (row: ExpenseShown) => ({
  expenseId: row.expenseId,
  kind: row.kind,
  description: row.description,
  currency: row.currency,
  amount: money(row.amountMinor, row.currency),
  payers: row.payers.map((p) => ({ userId: p.userId, amount: money(p.amountMinor, row.currency) })),
  shares: row.shares.map((s) => ({ userId: s.userId, amount: money(s.amountMinor, row.currency) })),
  split: row.split,
  occurredAt: typeof row.occurredAt === 'string' ? row.occurredAt : row.occurredAt.toISOString(),
  deleted: row.deleted,
  version: row.lastVersion,
});

export const presentEvent = (event: EventEnvelope) => ({
  eventId: event.eventId,
  streamId: event.streamId,
  version: event.version,
  type: event.type,
  schemaVersion: event.schemaVersion,
  data: event.data,
  metadata: event.metadata,
  recordedAt: event.recordedAt.toISOString(),
  globalPosition: event.globalPosition.toString(),
});
