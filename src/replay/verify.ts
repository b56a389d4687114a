import { sql } from 'kysely';
import { readSnapshot, type Db, type Tx } from '../db/database.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';
import { foldEvent, newFold, type FoldedGroup } from './fold-group.js';
import { readFactsInStreamOrder } from '../store/read-log.js';

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
    let current: FoldedGroup | undefined;
    const finish = async () => {
      if (!current) return;
      report.groups += 1;
      report.mismatches.push(...(await compareGroup(tx, current)));
      options.onProgress?.({ events: report.events, groups: report.groups });
    };
    const streamId = options.groupId === undefined ? undefined : `group-${options.groupId}`;
    for await (const { streamId: stream, version, event } of readFactsInStreamOrder(tx, { streamId })) {
      if (stream !== `group-${current?.groupId}`) {
        await finish();
        current = newFold(stream.slice('group-'.length));
      }
      foldEvent(current as FoldedGroup, version, event);
      report.events += 1;
    }
    await finish();

    // Projected groups with no events behind them at all.
    const orphans = await sql<{ group_id: string }>`
      select g.group_id from groups g
       where (${options.groupId ?? null}::text is null or g.group_id = ${options.groupId ?? null})
         and not exists (select 1 from events e where e.stream_id = 'group-' || g.group_id)`.execute(tx);
    for (const { group_id } of orphans.rows) {
      report.mismatches.push({ groupId: group_id, kind: 'orphan-group', expected: 'no group (no events)', actual: 'a projected group' });
    }
    return report;
  });
}

async function compareGroup(tx: Tx, folded: FoldedGroup): Promise<Mismatch[]> {
  const { groupId } = folded;
  const out: Mismatch[] = folded.faults.map((fault) => ({ groupId, kind: 'log', expected: 'a consistent event log', actual: fault }));
  const digits = minorDigits(folded.currency || 'USD');
  const money = (m: bigint | undefined) => (m === undefined ? '(none)' : formatMinor(m, digits));

  const group = await tx.selectFrom('groups').select(['version']).where('group_id', '=', groupId).executeTakeFirst();
  if (!group) return [...out, { groupId, kind: 'missing-group', expected: `version ${folded.version}`, actual: '(no projected group)' }];
  if (group.version !== folded.version) {
    out.push({ groupId, kind: 'version', expected: String(folded.version), actual: String(group.version) });
  }

  const members = await tx.selectFrom('group_members').select(['user_id', 'name']).where('group_id', '=', groupId).execute();
  const projectedMembers = new Map(members.map((m) => [m.user_id, m.name]));
  for (const userId of new Set([...folded.members.keys(), ...projectedMembers.keys()])) {
    if (folded.members.get(userId) !== projectedMembers.get(userId)) {
      out.push({ groupId, kind: 'member', userId, expected: folded.members.get(userId) ?? '(not a member)', actual: projectedMembers.get(userId) ?? '(not a member)' });
    }
  }

  const balances = await tx.selectFrom('user_balances').select(['user_id', 'balance_minor']).where('group_id', '=', groupId).execute();
  const projected = new Map(balances.map((b) => [b.user_id, BigInt(b.balance_minor)]));
  for (const userId of [...new Set([...folded.balances.keys(), ...projected.keys()])].sort()) {
    const expected = folded.balances.get(userId);
    const actual = projected.get(userId);
    if (expected !== actual) out.push({ groupId, kind: 'balance', userId, expected: money(expected), actual: money(actual) });
  }
  const projectedSum = [...projected.values()].reduce((a, b) => a + b, 0n);
  if (projectedSum !== 0n) out.push({ groupId, kind: 'sum', expected: money(0n), actual: money(projectedSum) });

  const expenses = await tx
    .selectFrom('expenses')
    .select(['expense_id', 'amount_minor', 'deleted', 'last_version', 'payers', 'shares'])
    .where('group_id', '=', groupId)
    .execute();
  const rows = new Map(expenses.map((e) => [e.expense_id, e]));
  for (const expenseId of [...new Set([...folded.expenses.keys(), ...rows.keys()])].sort()) {
    const want = folded.expenses.get(expenseId);
    const have = rows.get(expenseId);
    const expected = want
      ? describeExpense(money(want.amountMinor), want.deleted, want.lastVersion, [...want.payers], [...want.shares])
      : NO_EXPENSE;
    const actual = have
      ? describeExpense(money(BigInt(have.amount_minor)), have.deleted, have.last_version, pairs(have.payers), pairs(have.shares))
      : NO_EXPENSE;
    if (expected !== actual) out.push({ groupId, kind: 'expense', expenseId, expected, actual });
  }
  return out;
}

const NO_EXPENSE = '(no expense)';

// Projected allocations are listed entry by entry (not summed), so a duplicated row shows.
const pairs = (allocation: { userId: string; amountMinor: number }[]): [string, bigint][] =>
  allocation.map((a) => [a.userId, BigInt(a.amountMinor)]);

/** One comparable line per expense: amount, state, version and who paid / owes what. */
function describeExpense(amount: string, deleted: boolean, version: number, payers: [string, bigint][], shares: [string, bigint][]): string {
  const list = (entries: [string, bigint][]) => entries.map(([u, m]) => `${u}:${m}`).sort().join(',');
  return `${amount}${deleted ? ' deleted' : ''} at version ${version} paid ${list(payers)} owed ${list(shares)}`;
}
