// The one writer: turns the projector's row changes (of one group, or of a rebuild's
// batch of groups) into SQL. Every value travels as a parameter (one JSON document per
// table), so the statement text never changes and is prepared once per connection.
// Each change carries what the stored row must still hold; a row that does not match
// is not written, and the count check turns that into a ProjectionError.
import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/database.js';
import { ProjectionError, type RowChanges } from './projector.js';

export interface RowWrites {
  /** The writer's common table expressions, to stand in a WITH list (their names start with w_). */
  ctes: RawBuilder<unknown>;
  /** A select-list fragment: the rows each table took, as columns w_groups, w_members, w_balances, w_expenses. */
  counts: RawBuilder<unknown>;
  /** Throws ProjectionError unless the statement wrote exactly the rows it was given. */
  check(written: WrittenCounts): void;
  /** Rows the changes write. */
  rows: number;
}

export interface WrittenCounts {
  w_groups: number;
  w_members: number;
  w_balances: number;
  w_expenses: number;
}

export function rowWrites(changes: readonly RowChanges[], options: { bumpEpoch?: boolean } = {}): RowWrites {
  const groups = changes.map((c) => ({
    group_id: c.groupId,
    name: c.group.row.name,
    currency: c.group.row.currency,
    version: c.group.row.version,
    archived: c.group.row.archived,
    created_at: c.group.row.createdAt,
    updated_at: c.group.row.updatedAt,
    expected_version: c.group.expectedVersion,
    epoch_bump: options.bumpEpoch ? 1 : 0,
  }));
  const members = changes.flatMap((c) =>
    c.newMembers.map((m) => ({
      group_id: c.groupId,
      user_id: m.userId,
      name: m.name,
      position: m.position,
      joined_version: m.joinedVersion,
      removed_version: m.removedVersion,
      name_only: m.nameOnly,
      claimed_from: m.claimedFrom,
    })),
  );
  const changedMembers = changes.flatMap((c) =>
    c.changedMembers.map(({ row, previous }) => ({
      group_id: c.groupId,
      user_id: row.userId,
      name: row.name,
      joined_version: row.joinedVersion,
      removed_version: row.removedVersion,
      name_only: row.nameOnly,
      claimed_from: row.claimedFrom,
      previous_user_id: previous.userId,
      previous_joined_version: previous.joinedVersion,
      previous_removed_version: previous.removedVersion,
    })),
  );
  const balances = changes.flatMap((c) =>
    c.balances.map((b) => ({ group_id: c.groupId, user_id: b.userId, balance: b.balance.toString(), previous: b.previous?.toString() ?? null })),
  );
  const dropped = changes.flatMap((c) => c.droppedBalances.map((b) => ({ group_id: c.groupId, user_id: b.userId, previous: b.previous.toString() })));
  const expenses = changes.flatMap((c) =>
    c.expenses.map(({ expenseId, row, previousLastVersion }) => ({
      group_id: c.groupId,
      expense_id: expenseId,
      kind: row.kind,
      description: row.description,
      currency: row.currency,
      amount_minor: row.amountMinor,
      payers: row.payers,
      shares: row.shares,
      split: row.split,
      occurred_at: row.occurredAt,
      deleted: row.deleted,
      first_version: row.firstVersion,
      last_version: row.lastVersion,
      previous_last_version: previousLastVersion ?? null,
    })),
  );

  const ctes = sql`
    w_g as (select * from jsonb_to_recordset(${JSON.stringify(groups)}::jsonb)
              as x(group_id text, name text, currency text, version int, archived boolean, created_at timestamptz, updated_at timestamptz,
                   expected_version int, epoch_bump int)),
    w_groups_new as (
      insert into groups (group_id, name, currency, version, archived, created_at, updated_at)
      select group_id, name, currency, version, archived, created_at, updated_at from w_g where expected_version = 0
      returning 1),
    w_groups_old as (
      update groups g
         set name = x.name, currency = x.currency, version = x.version, archived = x.archived, created_at = x.created_at,
             updated_at = x.updated_at, projection_epoch = g.projection_epoch + x.epoch_bump
        from w_g x
       where x.expected_version <> 0 and g.group_id = x.group_id and g.version = x.expected_version
      returning 1),
    w_members_new as (
      insert into group_members (group_id, user_id, name, position, joined_version, removed_version, name_only, claimed_from)
      select group_id, user_id, name, position, joined_version, removed_version, name_only, claimed_from
        from jsonb_to_recordset(${JSON.stringify(members)}::jsonb)
          as x(group_id text, user_id text, name text, position int, joined_version int, removed_version int,
               name_only boolean, claimed_from text)
      returning 1),
    w_members_old as (
      update group_members m
         set user_id = x.user_id, name = x.name, joined_version = x.joined_version, removed_version = x.removed_version,
             name_only = x.name_only, claimed_from = x.claimed_from
        from jsonb_to_recordset(${JSON.stringify(changedMembers)}::jsonb)
          as x(group_id text, user_id text, name text, joined_version int, removed_version int, name_only boolean, claimed_from text,
               previous_user_id text, previous_joined_version int, previous_removed_version int)
       where m.group_id = x.group_id and m.user_id = x.previous_user_id and m.joined_version = x.previous_joined_version
         and m.removed_version is not distinct from x.previous_removed_version
      returning 1),
    w_b as (select * from jsonb_to_recordset(${JSON.stringify(balances)}::jsonb)
              as x(group_id text, user_id text, balance int8, previous int8)),
    w_balances_new as (
      insert into user_balances (group_id, user_id, balance_minor)
      select group_id, user_id, balance from w_b where previous is null
      returning 1),
    w_balances_old as (
      update user_balances b set balance_minor = x.balance
        from w_b x
       where x.previous is not null and b.group_id = x.group_id and b.user_id = x.user_id and b.balance_minor = x.previous
      returning 1),
    w_balances_gone as (
      delete from user_balances b
       using jsonb_to_recordset(${JSON.stringify(dropped)}::jsonb) as x(group_id text, user_id text, previous int8)
       where b.group_id = x.group_id and b.user_id = x.user_id and b.balance_minor = x.previous
      returning 1),
    w_e as (select * from jsonb_to_recordset(${JSON.stringify(expenses)}::jsonb)
              as x(group_id text, expense_id text, kind text, description text, currency text, amount_minor int8,
                   payers jsonb, shares jsonb, split jsonb, occurred_at timestamptz, deleted boolean,
                   first_version int, last_version int, previous_last_version int)),
    w_expenses_new as (
      insert into expenses (group_id, expense_id, kind, description, currency, amount_minor, payers, shares, split,
                            occurred_at, deleted, first_version, last_version)
      select group_id, expense_id, kind, description, currency, amount_minor, payers, shares, split,
             occurred_at, deleted, first_version, last_version
        from w_e where previous_last_version is null
      returning 1),
    w_expenses_old as (
      update expenses e
         set kind = x.kind, description = x.description, currency = x.currency, amount_minor = x.amount_minor,
             payers = x.payers, shares = x.shares, split = x.split, occurred_at = x.occurred_at, deleted = x.deleted,
             first_version = x.first_version, last_version = x.last_version
        from w_e x
       where x.previous_last_version is not null and e.group_id = x.group_id and e.expense_id = x.expense_id
         and e.last_version = x.previous_last_version
      returning 1)`;
  const counts = sql`
    ((select count(*) from w_groups_new) + (select count(*) from w_groups_old))::int as w_groups,
    ((select count(*) from w_members_new) + (select count(*) from w_members_old))::int as w_members,
    ((select count(*) from w_balances_new) + (select count(*) from w_balances_old) + (select count(*) from w_balances_gone))::int as w_balances,
    ((select count(*) from w_expenses_new) + (select count(*) from w_expenses_old))::int as w_expenses`;
  const what = changes.length === 1 ? `group ${changes[0]?.groupId}` : `${changes.length} groups`;
  return {
    ctes,
    counts,
    rows: groups.length + members.length + changedMembers.length + balances.length + dropped.length + expenses.length,
    check(written) {
      const wanted: WrittenCounts = {
        w_groups: groups.length,
        w_members: members.length + changedMembers.length,
        w_balances: balances.length + dropped.length,
        w_expenses: expenses.length,
      };
      for (const key of Object.keys(wanted) as (keyof WrittenCounts)[]) {
        if (written[key] !== wanted[key]) {
          throw new ProjectionError(
            `${what}: the projection is not what the projector was given (${key.slice(2)}: ${written[key]} of ${wanted[key]} rows matched)`,
          );
        }
      }
    },
  };
}

/** Writes row changes on their own (the rebuild); returns the rows written. */
export async function writeRows(tx: Tx, changes: readonly RowChanges[], options: { bumpEpoch?: boolean } = {}): Promise<number> {
  const writes = rowWrites(changes, options);
  const { rows } = await sql<WrittenCounts>`with ${writes.ctes} select ${writes.counts}`.execute(tx);
  writes.check(rows[0] as WrittenCounts);
  return writes.rows;
}
