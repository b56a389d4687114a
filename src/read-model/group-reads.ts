import { sql } from 'kysely';
import { readSnapshot, type Db, type Tx } from '../db/database.js';
import type { Allocation } from '../db/schema.js';

/** Queries over the projection. Reads never fold events and never use a cache. */

export interface GroupRow {
  groupId: string;
  name: string;
  currency: string;
  version: number;
  /** Rebuilds of the group's rows (see the projection_epoch migration). */
  epoch: number;
}

export interface MemberRow {
  userId: string;
  name: string;
}

export interface BalanceRow {
  userId: string;
  name: string;
  balanceMinor: bigint;
}

export interface ExpenseRow {
  expenseId: string;
  kind: 'expense' | 'payment';
  description: string;
  currency: string;
  amountMinor: bigint;
  payers: Allocation;
  shares: Allocation;
  split: unknown;
  occurredAt: Date;
  deleted: boolean;
  firstVersion: number;
  lastVersion: number;
}

/** The group, if `userId` is one of its members; otherwise it does not exist for them. */
export async function findGroupForMember(db: Db | Tx, groupId: string, userId: string): Promise<GroupRow | undefined> {
  return db
    .selectFrom('groups as g')
    .innerJoin('group_members as m', (join) => join.onRef('m.group_id', '=', 'g.group_id').on('m.user_id', '=', userId))
    .select(['g.group_id as groupId', 'g.name', 'g.currency', 'g.version', 'g.projection_epoch as epoch'])
    .where('g.group_id', '=', groupId)
    .executeTakeFirst();
}

/** The group and its members in one snapshot, only if `userId` is a member. */
export async function readGroupWithMembers(db: Db, groupId: string, userId: string): Promise<{ group: GroupRow; members: MemberRow[] } | undefined> {
  return readSnapshot(db, async (tx) => {
    const group = await findGroupForMember(tx, groupId, userId);
    return group ? { group, members: await listMembers(tx, groupId) } : undefined;
  });
}

export async function listMembers(db: Db | Tx, groupId: string): Promise<MemberRow[]> {
  return db.selectFrom('group_members').select(['user_id as userId', 'name']).where('group_id', '=', groupId).orderBy('position').execute();
}

const expenseColumns = [
  'expense_id as expenseId',
  'kind',
  'description',
  'currency',
  'amount_minor as amountMinor',
  'payers',
  'shares',
  'split',
  'occurred_at as occurredAt',
  'deleted',
  'first_version as firstVersion',
  'last_version as lastVersion',
] as const;

export interface ExpensePageCursor {
  occurredAt: string;
  firstVersion: number;
}

/** Newest first (by occurredAt, then by when it was first added), keyset-paginated. */
export async function listExpenses(
  db: Db | Tx,
  groupId: string,
  options: { limit: number; after?: ExpensePageCursor | undefined; includeDeleted: boolean },
): Promise<ExpenseRow[]> {
  let query = db.selectFrom('expenses').select(expenseColumns).where('group_id', '=', groupId);
  if (!options.includeDeleted) query = query.where('deleted', '=', false);
  const after = options.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('occurred_at', '<', new Date(after.occurredAt)),
        eb.and([eb('occurred_at', '=', new Date(after.occurredAt)), eb('first_version', '<', after.firstVersion)]),
      ]),
    );
  }
  return query.orderBy('occurred_at', 'desc').orderBy('first_version', 'desc').limit(options.limit).execute();
}

/**
 * The group (only if the asker is a member) and every member's balance, in ONE
 * statement: a single statement reads a single snapshot, so the version and the
 * balances always belong together, in one round trip instead of a transaction's four.
 * The asker is a user id, or a token hash resolved here too (then the request needs no
 * separate lookup): 'unknown-user' when no user has that token.
 */
export async function readGroupBalances(
  db: Db | Tx,
  groupId: string,
  asker: { userId: string } | { tokenHash: Buffer },
): Promise<{ group: GroupRow; balances: BalanceRow[] } | 'unknown-user' | undefined> {
  const byToken = 'tokenHash' in asker;
  const { rows } = await sql<{
    name: string | null;
    currency: string;
    version: number;
    epoch: number;
    user_id: string;
    member_name: string;
    balance_minor: bigint;
  }>`
    select g.name, g.currency, g.version, g.projection_epoch as epoch,
           m.user_id, m.name as member_name, coalesce(b.balance_minor, 0) as balance_minor
      from users u
      left join (groups g join group_members me on me.group_id = g.group_id)
             on g.group_id = ${groupId} and me.user_id = u.user_id
      left join group_members m on m.group_id = g.group_id
      left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
     where ${byToken ? sql`u.token_hash = ${asker.tokenHash}` : sql`u.user_id = ${asker.userId}`}
     order by m.position`.execute(db);
  const first = rows[0];
  if (!first) return byToken ? 'unknown-user' : undefined;
  if (first.name === null) return undefined;
  return {
    group: { groupId, name: first.name, currency: first.currency, version: first.version, epoch: first.epoch },
    balances: rows.map((r) => ({ userId: r.user_id, name: r.member_name, balanceMinor: r.balance_minor })),
  };
}

/** A group's version and every member's balance, in one statement (one snapshot), for whoever may see them. */
export async function readGroupView(db: Db | Tx, groupId: string): Promise<{ group: GroupRow; balances: BalanceRow[] } | undefined> {
  const { rows } = await sql<{
    name: string;
    currency: string;
    version: number;
    epoch: number;
    user_id: string | null;
    member_name: string;
    balance_minor: bigint;
  }>`
    select g.name, g.currency, g.version, g.projection_epoch as epoch,
           m.user_id, m.name as member_name, coalesce(b.balance_minor, 0) as balance_minor
      from groups g
      left join group_members m on m.group_id = g.group_id
      left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
     where g.group_id = ${groupId}
     order by m.position`.execute(db);
  const first = rows[0];
  if (!first) return undefined;
  return {
    group: { groupId, name: first.name, currency: first.currency, version: first.version, epoch: first.epoch },
    balances: rows.flatMap((r) => (r.user_id === null ? [] : [{ userId: r.user_id, name: r.member_name, balanceMinor: r.balance_minor }])),
  };
}

export interface MyGroupRow extends GroupRow {
  balanceMinor: bigint;
}

export async function listGroupsOfUser(db: Db | Tx, userId: string): Promise<MyGroupRow[]> {
  const rows = await db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', 'g.group_id', 'm.group_id')
    .leftJoin('user_balances as b', (join) => join.onRef('b.group_id', '=', 'm.group_id').onRef('b.user_id', '=', 'm.user_id'))
    .select(['g.group_id as groupId', 'g.name', 'g.currency', 'g.version', 'g.projection_epoch as epoch', 'b.balance_minor as balanceMinor'])
    .where('m.user_id', '=', userId)
    .orderBy('g.created_at')
    .orderBy('g.group_id')
    .execute();
  return rows.map((r) => ({ ...r, balanceMinor: r.balanceMinor ?? 0n }));
}

export { readSnapshot };
