import { sql } from 'kysely';
import type { EventEnvelope } from '../events/index.js';
import type { Tx } from '../db/database.js';
import { addBalanceDeltas } from './balance-deltas.js';

/** The projection and the log disagree: the transaction must not commit. */
export class ProjectionError extends Error {}

/**
 * Applies a group's newly appended events to the read model inside the append's
 * transaction. Balances move by deltas summed over the whole batch, one UPDATE for all
 * users in user-id order, so concurrent writers cannot deadlock on balance rows.
 * Returns how many rows it changed.
 */
export async function applyGroupEvents(tx: Tx, groupId: string, events: readonly EventEnvelope[]): Promise<number> {
  if (events.length === 0) return 0;
  let rows = 0;
  const deltas = new Map<string, bigint>();
  const first = events[0] as EventEnvelope;
  const last = events[events.length - 1] as EventEnvelope;

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
        await tx
          .insertInto('expenses')
          .values({ group_id: groupId, expense_id: e.expenseId, first_version: event.version, ...values })
          .onConflict((oc) => oc.columns(['group_id', 'expense_id']).where('expenses.deleted', '=', true).doUpdateSet(values))
          .execute()
          .then((result) => {
            if (result[0]?.numInsertedOrUpdatedRows !== 1n) {
              throw new ProjectionError(`expense ${e.expenseId} is already live in group ${groupId}`);
            }
          });
        addBalanceDeltas(deltas, e.payers, e.shares, 1n);
        rows += 1;
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

  rows += await applyBalanceDeltas(tx, groupId, deltas);
  if (first.type !== 'GroupCreated' || events.length > 1) {
    const bumped = await tx
      .updateTable('groups')
      .set({ version: last.version, updated_at: last.recordedAt })
      .where('group_id', '=', groupId)
      .where('version', '=', first.type === 'GroupCreated' ? first.version : first.version - 1)
      .executeTakeFirst();
    if (bumped.numUpdatedRows !== 1n) {
      throw new ProjectionError(`group ${groupId} projection is not at version ${first.version - 1}`);
    }
    rows += 1;
  }
  return rows;
}

async function applyBalanceDeltas(tx: Tx, groupId: string, deltas: Map<string, bigint>): Promise<number> {
  const changed = [...deltas].filter(([, delta]) => delta !== 0n).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (changed.length === 0) return 0;
  const result = await sql`
    update user_balances b
       set balance_minor = b.balance_minor + d.delta
      from unnest(${changed.map(([u]) => u)}::text[], ${changed.map(([, d]) => d.toString())}::int8[]) as d(user_id, delta)
     where b.group_id = ${groupId} and b.user_id = d.user_id`.execute(tx);
  if (result.numAffectedRows !== BigInt(changed.length)) {
    throw new ProjectionError(`balance rows missing in group ${groupId}: expected ${changed.length}`);
  }
  return changed.length;
}
