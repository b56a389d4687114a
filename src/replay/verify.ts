import { sql } from 'kysely';
import type { Allocation } from '../db/schema.js';
import { readSnapshot, type Db, type Tx } from '../db/database.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';
import { balancesOf, foldEvent, newFold, type FoldedExpense, type FoldedGroup } from './fold-group.js';
import { readFactsInStreamOrder } from '../store/read-log.js';
import { GROUP_STREAM_PREFIX, groupIdOf, streamIdOf } from '../events/index.js';

export type MismatchKind = 'balance' | 'version' | 'expense' | 'member' | 'missing-group' | 'orphan-group' | 'sum' | 'log';

export interface Mismatch {
  groupId: string;
  kind: MismatchKind;
  userId?: string;
  expenseId?: string;
  expected: string;
  actual: string;
}

export interface VerifyReport {
  groups: number;
  events: number;
  mismatches: Mismatch[];
}

export interface VerifyOptions {
  groupId?: string | undefined;
  /** Called now and then with how far the check has got. */
  onProgress?: (progress: { events: number; groups: number }) => void;
}

/**
 * Folds the event log on its own path and compares it with the projection tables,
 * group by group, inside one REPEATABLE READ snapshot: writes may continue meanwhile,
 * and the check sees the log and the projection as of one instant.
 */
export async function verifyProjection(db: Db, options: VerifyOptions = {}): Promise<VerifyReport> {
  return readSnapshot(db, async (tx) => {
    const report: VerifyReport = { groups: 0, events: 0, mismatches: [] };
    // Folded groups are compared a few thousand events at a time, four statements per
    // lot instead of four per group.
    let lot: FoldedGroup[] = [];
    let lotEvents = 0;
    const compareLot = async () => {
      if (lot.length === 0) return;
      report.groups += lot.length;
      report.mismatches.push(...(await compareGroups(tx, lot)));
      lot = [];
      lotEvents = 0;
      options.onProgress?.({ events: report.events, groups: report.groups });
    };
    let current: FoldedGroup | undefined;
    const streamId = options.groupId === undefined ? undefined : streamIdOf(options.groupId);
    for await (const { streamId: stream, version, event } of readFactsInStreamOrder(tx, { streamId })) {
      if (groupIdOf(stream) !== current?.groupId) {
        if (lotEvents >= COMPARE_LOT_EVENTS) await compareLot();
        current = newFold(groupIdOf(stream) ?? stream);
        lot.push(current);
      }
      foldEvent(current as FoldedGroup, version, event);
      report.events += 1;
      lotEvents += 1;
    }
    await compareLot();

    // Projected groups with no events behind them at all.
    const orphans = await sql<{ group_id: string }>`
      select g.group_id from groups g
       where (${options.groupId ?? null}::text is null or g.group_id = ${options.groupId ?? null})
         and not exists (select 1 from events e where e.stream_id = ${GROUP_STREAM_PREFIX} || g.group_id)`.execute(tx);
    for (const { group_id } of orphans.rows) {
      report.mismatches.push({ groupId: group_id, kind: 'orphan-group', expected: 'no group (no events)', actual: 'a projected group' });
    }
    return report;
  });
}

const COMPARE_LOT_EVENTS = 5_000;

/** Rows of `rows` by their group_id. */
function byGroup<R extends { group_id: string }>(rows: R[]): Map<string, R[]> {
  const map = new Map<string, R[]>();
  for (const row of rows) {
    const list = map.get(row.group_id);
    if (list) list.push(row);
    else map.set(row.group_id, [row]);
  }
  return map;
}

async function compareGroups(tx: Tx, folds: FoldedGroup[]): Promise<Mismatch[]> {
  const ids = folds.map((f) => f.groupId);
  const groups = new Map(
    (
      await tx
        .selectFrom('groups')
        .select(['group_id', 'version'])
        .where('group_id', '=', sql<string>`any(${ids})`)
        .execute()
    ).map((g) => [g.group_id, g]),
  );
  const members = byGroup(
    await tx
      .selectFrom('group_members')
      .select(['group_id', 'user_id', 'name'])
      .where('group_id', '=', sql<string>`any(${ids})`)
      .execute(),
  );
  const balances = byGroup(
    await tx
      .selectFrom('user_balances')
      .select(['group_id', 'user_id', 'balance_minor'])
      .where('group_id', '=', sql<string>`any(${ids})`)
      .execute(),
  );
  const expenses = byGroup(
    await tx
      .selectFrom('expenses')
      .select(['group_id', 'expense_id', 'amount_minor', 'deleted', 'last_version', 'payers', 'shares'])
      .where('group_id', '=', sql<string>`any(${ids})`)
      .execute(),
  );
  return folds.flatMap((folded) =>
    compareGroup(folded, {
      group: groups.get(folded.groupId),
      members: members.get(folded.groupId) ?? [],
      balances: balances.get(folded.groupId) ?? [],
      expenses: expenses.get(folded.groupId) ?? [],
    }),
  );
}

interface ProjectedRows {
  group: { version: number } | undefined;
  members: { user_id: string; name: string }[];
  balances: { user_id: string; balance_minor: bigint }[];
  expenses: { expense_id: string; amount_minor: bigint; deleted: boolean; last_version: number; payers: Allocation; shares: Allocation }[];
}

function compareGroup(folded: FoldedGroup, projection: ProjectedRows): Mismatch[] {
  const { groupId } = folded;
  const out: Mismatch[] = folded.faults.map((fault) => ({ groupId, kind: 'log', expected: 'a consistent event log', actual: fault }));
  const digits = minorDigits(folded.currency || 'USD');
  const money = (m: bigint | undefined) => (m === undefined ? '(none)' : formatMinor(m, digits));

  const group = projection.group;
  if (!group) return [...out, { groupId, kind: 'missing-group', expected: `version ${folded.version}`, actual: '(no projected group)' }];
  if (group.version !== folded.version) {
    out.push({ groupId, kind: 'version', expected: String(folded.version), actual: String(group.version) });
  }

  const projectedMembers = new Map(projection.members.map((m) => [m.user_id, m.name]));
  for (const userId of new Set([...folded.members.keys(), ...projectedMembers.keys()])) {
    if (folded.members.get(userId) !== projectedMembers.get(userId)) {
      out.push({
        groupId,
        kind: 'member',
        userId,
        expected: folded.members.get(userId) ?? '(not a member)',
        actual: projectedMembers.get(userId) ?? '(not a member)',
      });
    }
  }

  const projected = new Map(projection.balances.map((b) => [b.user_id, BigInt(b.balance_minor)]));
  const balances = balancesOf(folded);
  for (const userId of [...new Set([...balances.keys(), ...projected.keys()])].sort()) {
    const expected = balances.get(userId);
    const actual = projected.get(userId);
    if (expected !== actual) out.push({ groupId, kind: 'balance', userId, expected: money(expected), actual: money(actual) });
  }
  const projectedSum = [...projected.values()].reduce((a, b) => a + b, 0n);
  if (projectedSum !== 0n) out.push({ groupId, kind: 'sum', expected: money(0n), actual: money(projectedSum) });

  const rows = new Map(projection.expenses.map((e) => [e.expense_id, e]));
  // Most expenses match: compared field by field first; the texts of a report are made only for one that does not.
  const unmatched = new Set<string>();
  for (const [expenseId, want] of folded.expenses) {
    const have = rows.get(expenseId);
    if (!have || !sameExpense(want, have)) unmatched.add(expenseId);
  }
  for (const expenseId of rows.keys()) if (!folded.expenses.has(expenseId)) unmatched.add(expenseId);
  for (const expenseId of [...unmatched].sort()) {
    const want = folded.expenses.get(expenseId);
    const have = rows.get(expenseId);
    const expected = want
      ? describeExpense(money(BigInt(want.amountMinor)), want.deleted, want.lastVersion, listed(want.payers), listed(want.shares))
      : NO_EXPENSE;
    const actual = have
      ? describeExpense(money(BigInt(have.amount_minor)), have.deleted, have.last_version, listed(entriesOf(have.payers)), listed(entriesOf(have.shares)))
      : NO_EXPENSE;
    if (expected !== actual) out.push({ groupId, kind: 'expense', expenseId, expected, actual });
  }
  return out;
}

const NO_EXPENSE = '(no expense)';

type ProjectedExpense = ProjectedRows['expenses'][number];

/** The folded expense and its projected row say the same: amount, state, version and every allocation entry. */
function sameExpense(want: FoldedExpense, have: ProjectedExpense): boolean {
  return (
    BigInt(have.amount_minor) === BigInt(want.amountMinor) &&
    have.deleted === want.deleted &&
    have.last_version === want.lastVersion &&
    sameAllocation(want.payers, have.payers) &&
    sameAllocation(want.shares, have.shares)
  );
}

/** A projected allocation holds exactly the folded one: one entry per user, each with the folded amount. */
function sameAllocation(want: Map<string, number>, have: Allocation): boolean {
  if (have.length !== want.size) return false;
  const seen = new Set<string>();
  for (const { userId, amountMinor } of have) {
    if (seen.has(userId) || want.get(userId) !== amountMinor) return false;
    seen.add(userId);
  }
  return true;
}

/**
 * An allocation as one comparable text: "user:minor" entries, sorted. Projected
 * allocations are listed entry by entry (not summed), so a duplicated entry shows.
 */
const listed = (entries: Iterable<readonly [string, bigint | number]>): string =>
  Array.from(entries, ([u, m]) => `${u}:${m}`)
    .sort()
    .join(',');

const entriesOf = (allocation: Allocation) => allocation.map((a) => [a.userId, a.amountMinor] as const);

/** One comparable line per expense: amount, state, version and who paid / owes what. */
function describeExpense(amount: string, deleted: boolean, version: number, payers: string, shares: string): string {
  return `${amount}${deleted ? ' deleted' : ''} at version ${version} paid ${payers} owed ${shares}`;
}
