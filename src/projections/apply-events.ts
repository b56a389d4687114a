import { sql } from 'kysely';
import type { EventEnvelope } from '../events/index.js';
import type { Tx } from '../db/database.js';
import { addBalanceDeltas } from './balance-deltas.js';
import { groupChangedPayload } from '../store/event-store.js';

/** The projection and the log disagree: the transaction must not commit. */
export class ProjectionError extends Error {}

/**
 * Applies a group's newly appended events to the read model inside the append's
 * transaction: one statement per event for its own rows, then one for the whole batch
 * (balances, version, announcement; see finishBatch), which also carries the row of an
 * ExpenseAdded that ends the batch, so adding an expense is one statement. Returns how
 * many rows it changed and every member's balance after the batch.
 */
export async function applyGroupEvents(
  tx: Tx,
  groupId: string,
  events: readonly EventEnvelope[],
): Promise<{ rows: number; balances: ProjectedBalance[] }> {
  if (events.length === 0) return { rows: 0, balances: [] };
  let rows = 0;
  const deltas = new Map<string, bigint>();
  const first = events[0] as EventEnvelope;
  const last = events[events.length - 1] as EventEnvelope;
  let trailingExpense: TrailingExpense | undefined;

  for (const event of events) {
    switch (event.type) {
      case 'GroupCreated': {
        const { name, currency, members } = event.data;
        await tx
          .insertInto('groups')
          .values({ group_id: groupId, name, currency, version: event.version, created_at: event.recordedAt, updated_at: event.recordedAt })
          .execute();
        rows += 1;
        if (members.length > 0) {
          await tx
            .insertInto('group_members')
            .values(members.map((m, position) => ({ group_id: groupId, user_id: m.userId, name: m.name, position, joined_version: event.version })))
            .execute();
          await tx
            .insertInto('user_balances')
            .values(members.map((m) => ({ group_id: groupId, user_id: m.userId, balance_minor: 0n })))
            .execute();
          rows += 2 * members.length;
        }
        break;
      }
      case 'MemberAdded': {
        const { userId, name } = event.data;
        await tx
          .insertInto('group_members')
          .columns(['group_id', 'user_id', 'name', 'position', 'joined_version'])
          .expression(
            tx
              .selectFrom('group_members')
              .select([
                sql.lit(groupId).as('group_id'),
                sql.lit(userId).as('user_id'),
                sql<string>`${name}::text`.as('name'),
                sql<number>`coalesce(max(position) + 1, 0)`.as('position'),
                sql.lit(event.version).as('joined_version'),
              ])
              .where('group_id', '=', groupId),
          )
          .execute();
        await tx.insertInto('user_balances').values({ group_id: groupId, user_id: userId, balance_minor: 0n }).execute();
        rows += 2;
        break;
      }
      case 'ExpenseAdded': {
        const e = event.data;
        addBalanceDeltas(deltas, e.payers, e.shares, 1n);
        rows += 1;
        // The common command (one ExpenseAdded) needs one statement: the row rides in the final one.
        if (event === last) {
          trailingExpense = { expenseId: e.expenseId, upsert: upsertExpense(tx, groupId, event) };
          break;
        }
        const upserted = await upsertExpense(tx, groupId, event).execute();
        if (upserted.length !== 1) throw new ProjectionError(`expense ${e.expenseId} is already live in group ${groupId}`);
        break;
      }
      case 'ExpenseDeleted': {
        const removed = await tx
          .updateTable('expenses')
          .set({ deleted: true, last_version: event.version })
          .where('group_id', '=', groupId)
          .where('expense_id', '=', event.data.expenseId)
          .where('deleted', '=', false)
          .returning(['payers', 'shares'])
          .executeTakeFirst();
        if (!removed) throw new ProjectionError(`expense ${event.data.expenseId} is not live in group ${groupId}`);
        addBalanceDeltas(deltas, removed.payers, removed.shares, -1n);
        rows += 1;
        break;
      }
      default: {
        const never: never = event;
        throw new ProjectionError(`no projection for ${(never as EventEnvelope).type}`);
      }
    }
  }

  const final = await finishBatch(tx, groupId, deltas, trailingExpense, {
    // A batch that creates the group inserts its row at the first version.
    from: first.type === 'GroupCreated' ? first.version : first.version - 1,
    to: last.version,
    at: last.recordedAt,
  });
  return { rows: rows + final.rows, balances: final.balances };
}

/**
 * An expense's row as an `ExpenseAdded` leaves it: inserted, or a deleted row of the
 * same id brought back. Returns one row, or none when the expense is already live.
 */
function upsertExpense(tx: Tx, groupId: string, event: Extract<EventEnvelope, { type: 'ExpenseAdded' }>) {
  const e = event.data;
  const values = {
    kind: e.kind,
    description: e.description,
    currency: e.currency,
    amount_minor: BigInt(e.amountMinor),
    payers: JSON.stringify(e.payers),
    shares: JSON.stringify(e.shares),
    split: JSON.stringify(e.split),
    occurred_at: e.occurredAt,
    deleted: false,
    last_version: event.version,
  };
  return tx
    .insertInto('expenses')
    .values({ group_id: groupId, expense_id: e.expenseId, first_version: event.version, ...values })
    .onConflict((oc) => oc.columns(['group_id', 'expense_id']).where('expenses.deleted', '=', true).doUpdateSet(values))
    .returning(sql<number>`1`.as('one'));
}

interface TrailingExpense {
  expenseId: string;
  upsert: ReturnType<typeof upsertExpense>;
}

export interface ProjectedBalance {
  userId: string;
  name: string;
  balanceMinor: bigint;
}

/**
 * The batch's last statement, one round trip: writes the row of an `ExpenseAdded` that
 * ends the batch, moves the balances by the summed deltas (one UPDATE, rows in user-id
 * order, so concurrent writers cannot deadlock), moves the group row from version
 * `from` to `to`, announces the new version on `group_changed` (delivered only if the
 * transaction commits) and returns every member's balance as the batch leaves it. Any
 * disagreement with the log is a ProjectionError.
 */
async function finishBatch(
  tx: Tx,
  groupId: string,
  deltas: Map<string, bigint>,
  trailing: TrailingExpense | undefined,
  move: { from: number; to: number; at: Date },
): Promise<{ rows: number; balances: ProjectedBalance[] }> {
  const changed = [...deltas].filter(([, delta]) => delta !== 0n).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const { rows } = await sql<{ added: number; moved: number; bumped: number; announced: number; balances: { userId: string; name: string; balanceMinor: string }[] }>`
    with added as (${trailing ? trailing.upsert : sql`select 1 as one where false`}),
         delta (user_id, delta) as (
           select * from unnest(${changed.map(([u]) => u)}::text[], ${changed.map(([, d]) => d.toString())}::int8[])),
         moved as (
           update user_balances b set balance_minor = b.balance_minor + d.delta
             from delta d
            where b.group_id = ${groupId} and b.user_id = d.user_id
           returning b.user_id, b.balance_minor),
         bumped as (
           update groups set version = ${move.to}, updated_at = ${move.at}
            where group_id = ${groupId} and version = ${move.from}
           returning version),
         announced as (
           select pg_notify('group_changed', ${groupChangedPayload(groupId, move.to)}) from bumped)
    select (select count(*) from added)::int as added,
           (select count(*) from moved)::int as moved,
           (select count(*) from bumped)::int as bumped,
           (select count(*) from announced)::int as announced,
           coalesce((select json_agg(json_build_object('userId', m.user_id, 'name', m.name,
                                     'balanceMinor', coalesce(mv.balance_minor, b.balance_minor, 0)::text) order by m.position)
                       from group_members m
                       left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
                       left join moved mv on mv.user_id = m.user_id
                      where m.group_id = ${groupId}), '[]') as balances`.execute(tx);
  const result = rows[0] as { added: number; moved: number; bumped: number; announced: number; balances: { userId: string; name: string; balanceMinor: string }[] };
  if (trailing && result.added !== 1) throw new ProjectionError(`expense ${trailing.expenseId} is already live in group ${groupId}`);
  if (result.moved !== changed.length) {
    throw new ProjectionError(`balance rows missing in group ${groupId}: expected ${changed.length}, found ${result.moved}`);
  }
  if (result.bumped !== 1 || result.announced !== 1) throw new ProjectionError(`group ${groupId} projection is not at version ${move.from}`);
  return {
    rows: changed.length + 1,
    balances: result.balances.map((b) => ({ userId: b.userId, name: b.name, balanceMinor: BigInt(b.balanceMinor) })),
  };
}
