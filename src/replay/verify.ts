import { sql } from 'kysely';
import type { Allocation } from '../db/schema.js';
import type pg from 'pg';
import { poolOf, readSnapshot, type Db, type Tx } from '../db/database.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';
import { balancesOf, foldEvent, newFold, type FoldedExpense, type FoldedGroup } from './fold-group.js';
import { copyFactsInStreamOrder } from '../store/copy-log.js';
import { verifyInWorker } from './verify-workers.js';
import { GROUP_STREAM_PREFIX, groupIdOf, streamIdOf } from '../events/index.js';

export type MismatchKind = 'balance' | 'version' | 'group' | 'expense' | 'member' | 'missing-group' | 'orphan-group' | 'sum' | 'log';

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
  /**
   * How many threads fold and compare (the log split into that many ranges of
   * streams, every range in the same snapshot). 1, the default, runs in this thread.
   */
  workers?: number | undefined;
  /** Called now and then with how far the check has got. */
  onProgress?: (progress: { events: number; groups: number }) => void;
}

/** A range of streams one fold covers: ids from `from` (inclusive) to `before` (exclusive); open where absent. */
export interface StreamRange {
  streamId?: string | undefined;
  from?: string | undefined;
  before?: string | undefined;
}

/**
 * Folds the event log on its own path and compares it with the projection tables,
 * group by group, inside one REPEATABLE READ snapshot: writes may continue meanwhile,
 * and the check sees the log and the projection as of one instant. This transaction
 * exports its snapshot; every fold (in this thread or in workers, each a range of
 * streams) imports it on its own connections, streams its events in with one COPY and
 * compares them a lot at a time. Groups projected without any events are found here.
 */
export async function verifyProjection(db: Db, options: VerifyOptions = {}): Promise<VerifyReport> {
  return readSnapshot(db, async (tx) => {
    const { rows } = await sql<{ snapshot: string }>`select pg_export_snapshot() as snapshot`.execute(tx);
    const snapshot = rows[0]?.snapshot as string;
    const workers = options.groupId === undefined ? Math.max(1, Math.floor(options.workers ?? 1)) : 1;
    const ranges = workers > 1 ? await splitLog(tx, workers) : [{ streamId: options.groupId === undefined ? undefined : streamIdOf(options.groupId) }];
    const progress = ranges.map(() => ({ events: 0, groups: 0 }));
    const onProgress = (i: number, p: { events: number; groups: number }) => {
      progress[i] = p;
      options.onProgress?.(progress.reduce((a, b) => ({ events: a.events + b.events, groups: a.groups + b.groups })));
    };
    const stop = new AbortController();
    const parts = await Promise.all(
      ranges.map((range, i) =>
        (workers > 1
          ? verifyInWorker(poolOf(db), snapshot, range, (p) => onProgress(i, p), stop.signal)
          : verifyRange(db, snapshot, range, (p) => onProgress(i, p))
        ).catch((error: unknown) => {
          stop.abort();
          throw error;
        }),
      ),
    );
    const report: VerifyReport = {
      groups: parts.reduce((n, p) => n + p.groups, 0),
      events: parts.reduce((n, p) => n + p.events, 0),
      mismatches: parts.flatMap((p) => p.mismatches),
    };

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

/**
 * Splits the group streams into `parts` ranges of about as many events each. The
 * sizes come from the projected group versions, which only balances the work: the
 * ranges always cover every stream id, projected or not, so nothing in the log escapes
 * the check.
 */
async function splitLog(tx: Tx, parts: number): Promise<StreamRange[]> {
  const { rows } = await sql<{ stream_id: string; events: number }>`
    select ${GROUP_STREAM_PREFIX} || group_id as stream_id, version as events from groups order by 1`.execute(tx);
  const total = rows.reduce((n, r) => n + r.events, 0);
  const bounds: string[] = [];
  let seen = 0;
  for (const row of rows) {
    if (bounds.length === parts - 1) break;
    if (seen >= (total * (bounds.length + 1)) / parts && bounds.at(-1) !== row.stream_id) bounds.push(row.stream_id);
    seen += row.events;
  }
  return [undefined, ...bounds].map((from, i) => ({ from, before: bounds[i] }));
}

/** Folds and compares the streams of `range` in the exported `snapshot`, on connections of `db`. */
export async function verifyRange(db: Db, snapshot: string, range: StreamRange, onProgress?: VerifyOptions['onProgress']): Promise<VerifyReport> {
  return readSnapshot(db, async (tx) => {
    await importSnapshot(tx, snapshot);
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
      onProgress?.({ events: report.events, groups: report.groups });
    };
    let current: FoldedGroup | undefined;
    await withSnapshotReader(db, snapshot, async (reader) => {
      for await (const facts of copyFactsInStreamOrder(reader, range)) {
        for (const { streamId, version, event } of facts) {
          if (groupIdOf(streamId) !== current?.groupId) {
            if (lotEvents >= COMPARE_LOT_EVENTS) await compareLot();
            current = newFold(groupIdOf(streamId) ?? streamId);
            lot.push(current);
          }
          foldEvent(current as FoldedGroup, version, event);
          report.events += 1;
          lotEvents += 1;
        }
      }
    });
    await compareLot();
    return report;
  });
}

/** An id pg_export_snapshot() gives, such as 00000003-0000001B-1. */
const SNAPSHOT_ID = /^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/;

/** Makes `tx` (just begun, REPEATABLE READ) see exactly the exported `snapshot`. */
async function importSnapshot(tx: Tx, snapshot: string): Promise<void> {
  if (!SNAPSHOT_ID.test(snapshot)) throw new Error(`not a snapshot id: ${snapshot}`);
  await sql`set transaction snapshot ${sql.lit(snapshot)}`.execute(tx);
}

/**
 * Runs `fn` with one more connection that sees exactly the exported `snapshot`. The
 * reader is closed rather than returned to the pool if `fn` stops midway (a COPY may
 * still be running on it).
 */
async function withSnapshotReader(db: Db, snapshot: string, fn: (reader: pg.PoolClient) => Promise<void>): Promise<void> {
  if (!SNAPSHOT_ID.test(snapshot)) throw new Error(`not a snapshot id: ${snapshot}`);
  const reader = await poolOf(db).connect();
  let failed = true;
  try {
    await reader.query('begin isolation level repeatable read read only');
    await reader.query(`set transaction snapshot '${snapshot}'`);
    await fn(reader);
    await reader.query('commit');
    failed = false;
  } finally {
    reader.release(failed);
  }
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

/** The projected version of each of `ids` that has a projected group. */
export async function projectedVersions(tx: Tx, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await tx
    .selectFrom('groups')
    .select(['group_id', 'version'])
    .where('group_id', '=', sql<string>`any(${ids})`)
    .execute();
  return new Map(rows.map((g) => [g.group_id, g.version]));
}

/** Compares folded groups with their projected rows, read in `tx` (four statements for the lot). */
export async function compareGroups(tx: Tx, folds: FoldedGroup[]): Promise<Mismatch[]> {
  const ids = folds.map((f) => f.groupId);
  const groups = new Map(
    (
      await tx
        .selectFrom('groups')
        .select(['group_id', 'version', 'name', 'archived'])
        .where('group_id', '=', sql<string>`any(${ids})`)
        .execute()
    ).map((g) => [g.group_id, g]),
  );
  const members = byGroup(
    await tx
      .selectFrom('group_members')
      .select(['group_id', 'user_id', 'name', 'joined_version', 'removed_version', 'name_only', 'claimed_from'])
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
  group: { version: number; name: string; archived: boolean } | undefined;
  members: { user_id: string; name: string; joined_version: number; removed_version: number | null; name_only: boolean; claimed_from: string | null }[];
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

  if (group.name !== folded.name || group.archived !== folded.archived) {
    const describe = (name: string, archived: boolean) => `"${name}"${archived ? ', archived' : ''}`;
    out.push({ groupId, kind: 'group', expected: describe(folded.name, folded.archived), actual: describe(group.name, group.archived) });
  }

  // A member as "name (joined at version j)", with "(name only)", "(claimed <id>)" or "(left at version n)" where they apply.
  const described = (name: string, joined: number | undefined, removed: number | null | undefined, nameOnly: boolean, claimedFrom: string | null | undefined) =>
    [
      name,
      `(joined at version ${joined ?? '?'})`,
      nameOnly ? '(name only)' : '',
      claimedFrom == null ? '' : `(claimed ${claimedFrom})`,
      removed == null ? '' : `(left at version ${removed})`,
    ]
      .filter(Boolean)
      .join(' ');
  const projectedMembers = new Map(
    projection.members.map((m) => [m.user_id, described(m.name, m.joined_version, m.removed_version, m.name_only, m.claimed_from)]),
  );
  const foldedMembers = new Map(
    Array.from(folded.members, ([userId, name]) => [
      userId,
      described(name, folded.joined.get(userId), folded.removed.get(userId), folded.nameOnly.has(userId), folded.claimedFrom.get(userId)),
    ]),
  );
  for (const userId of new Set([...foldedMembers.keys(), ...projectedMembers.keys()])) {
    if (foldedMembers.get(userId) !== projectedMembers.get(userId)) {
      out.push({
        groupId,
        kind: 'member',
        userId,
        expected: foldedMembers.get(userId) ?? '(not a member)',
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
