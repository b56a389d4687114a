import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { Allocation } from '../db/schema.js';

/** Queries over the projection. Reads never fold events and never use a cache. */

export interface GroupRow {
  groupId: string;
  name: string;
  currency: string;
  version: number;
  /** Rebuilds of the group's rows (see the projection_epoch migration). */
  epoch: number;
  /** Read-only while archived. */
  archived: boolean;
}

export interface MemberRow {
  userId: string;
  name: string;
  /** Known only by a name (no account yet); absent in outcomes stored before it existed. */
  nameOnly?: boolean;
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
    .innerJoin('group_members as m', (join) => join.onRef('m.group_id', '=', 'g.group_id').on('m.user_id', '=', userId).on('m.removed_version', 'is', null))
    .select(['g.group_id as groupId', 'g.name', 'g.currency', 'g.version', 'g.projection_epoch as epoch', 'g.archived'])
    .where('g.group_id', '=', groupId)
    .executeTakeFirst();
}

/** Which of `userIds` are current members of at least one of `groupIds`. */
export async function currentMembersAmong(db: Db | Tx, groupIds: readonly string[], userIds: readonly string[]): Promise<Set<string>> {
  if (groupIds.length === 0 || userIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('group_members')
    .select('user_id')
    .distinct()
    // Arrays, not lists of parameters: thousands of open streams stay one parameter.
    .where(sql<boolean>`group_id = any(${[...groupIds]}::text[])`)
    .where(sql<boolean>`user_id = any(${[...userIds]}::text[])`)
    .where('removed_version', 'is', null)
    .execute();
  return new Set(rows.map((r) => r.user_id));
}

/** A current member of the group known only by a name (no account), if `userId` is one. */
export async function findNameOnlyMember(db: Db | Tx, groupId: string, userId: string): Promise<MemberRow | undefined> {
  return db
    .selectFrom('group_members')
    .select(['user_id as userId', 'name'])
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .where('name_only', '=', true)
    .where('removed_version', 'is', null)
    .executeTakeFirst();
}

/** The device a bearer token belongs to, as a read found it, and whether its last use is over a minute old. */
export interface AskerDevice {
  deviceId: string;
  stale: boolean;
}

/** The hash of a bearer token for a read to resolve; `found` hears which device it belongs to. */
export interface TokenAsker {
  tokenHash: Buffer;
  found?: (device: AskerDevice) => void;
}

/**
 * Who asks: a user id, or the hash of a bearer token that the read itself resolves (the
 * request then needs no separate lookup; see `userFromRead` in src/api/auth.ts).
 */
export type Asker = { userId: string } | TokenAsker;

/**
 * The asker as a row `u` (user_id; for a token also its device and whether that
 * device's last use is due to be recorded), for the reads below to join the group to.
 * A token resolves through its device: a revoked device has no row, a sign-in key is no
 * bearer token.
 */
const askerRow = (asker: Asker) =>
  'tokenHash' in asker
    ? sql`(select d.user_id, d.device_id, d.last_used_at < now() - interval '1 minute' as stale
             from devices d where d.token_hash = ${asker.tokenHash} and d.kind = 'device') u`
    : sql`(select x.user_id, null::uuid as device_id, false as stale from users x where x.user_id = ${asker.userId}) u`;

/** The asker's columns in a read's rows. */
interface AskerColumns {
  asker_device_id: string | null;
  asker_stale: boolean;
}

/** Tells a token asker which device its read found. */
function found(asker: Asker, row: AskerColumns): void {
  if ('tokenHash' in asker && row.asker_device_id !== null) asker.found?.({ deviceId: row.asker_device_id, stale: row.asker_stale });
}

/** A read's answer: what it found, 'unknown-user' when no user has the token, undefined when the asker is not a member. */
export type AskerRead<T> = T | 'unknown-user' | undefined;

/**
 * The group and its members, only if the asker is a member, in one statement; and
 * those who left or were removed (their names are on old expenses).
 */
export async function readGroupWithMembers(
  db: Db | Tx,
  groupId: string,
  asker: Asker,
): Promise<AskerRead<{ group: GroupRow; members: MemberRow[]; formerMembers: MemberRow[] }>> {
  const { rows } = await sql<
    AskerColumns & {
      name: string | null;
      currency: string;
      version: number;
      epoch: number;
      archived: boolean;
      members: MemberRow[];
      former: MemberRow[] | null;
    }
  >`
    select u.device_id as asker_device_id, u.stale as asker_stale, g.name, g.currency, g.version, g.projection_epoch as epoch, g.archived,
           (select json_agg(json_build_object('userId', m.user_id, 'name', m.name, 'nameOnly', m.name_only) order by m.position)
              from group_members m where m.group_id = g.group_id and m.removed_version is null) as members,
           (select json_agg(json_build_object('userId', m.user_id, 'name', m.name, 'nameOnly', m.name_only) order by m.position)
              from group_members m where m.group_id = g.group_id and m.removed_version is not null) as former
      from ${askerRow(asker)}
      left join (groups g join group_members me on me.group_id = g.group_id and me.removed_version is null)
             on g.group_id = ${groupId} and me.user_id = u.user_id`.execute(db);
  const row = rows[0];
  if (!row) return 'tokenHash' in asker ? 'unknown-user' : undefined;
  found(asker, row);
  if (row.name === null) return undefined;
  return {
    group: { groupId, name: row.name, currency: row.currency, version: row.version, epoch: row.epoch, archived: row.archived },
    members: row.members,
    formerMembers: row.former ?? [],
  };
}

export interface ExpensePageCursor {
  occurredAt: string;
  firstVersion: number;
}

/** `text` as a LIKE pattern that matches it literally anywhere (its `%`, `_` and `\` escaped). */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * A page of the group's expenses, newest first (by occurredAt, then by when each was
 * first added), keyset-paginated, only if the asker is a member: one statement.
 * `q` keeps descriptions containing it (case-insensitive), `member` what that user paid
 * or has a share in. No index beyond the listing one: the filters are checked while
 * walking the group's expenses in page order, so the cost is bounded by one group's
 * expenses (a substring search could use no b-tree anyway).
 */
export async function listExpenses(
  db: Db | Tx,
  groupId: string,
  asker: Asker,
  options: {
    limit: number;
    after?: ExpensePageCursor | undefined;
    includeDeleted: boolean;
    q?: string | undefined;
    member?: string | undefined;
    /** Only this expense (deleted or not, with includeDeleted). */
    expenseId?: string | undefined;
  },
): Promise<AskerRead<ExpenseRow[]>> {
  const after = options.after;
  const pattern = options.q === undefined ? null : containsPattern(options.q);
  const who = options.member === undefined ? null : JSON.stringify([{ userId: options.member }]);
  const { rows } = await sql<AskerColumns & { member: boolean } & { [K in keyof ExpenseRow]: ExpenseRow[K] | null }>`
    select u.device_id as asker_device_id, u.stale as asker_stale, g.group_id is not null as member,
           e.expense_id as "expenseId", e.kind, e.description, e.currency, e.amount_minor as "amountMinor",
           e.payers, e.shares, e.split, e.occurred_at as "occurredAt", e.deleted,
           e.first_version as "firstVersion", e.last_version as "lastVersion"
      from ${askerRow(asker)}
      left join (groups g join group_members me on me.group_id = g.group_id and me.removed_version is null)
             on g.group_id = ${groupId} and me.user_id = u.user_id
      left join lateral (
        select * from expenses x
         where x.group_id = g.group_id
           and (${options.includeDeleted} or not x.deleted)
           and (${options.expenseId ?? null}::text is null or x.expense_id = ${options.expenseId ?? null}::text)
           and (${pattern}::text is null or x.description ilike ${pattern}::text escape '\\')
           and (${who}::jsonb is null or x.payers @> ${who}::jsonb or x.shares @> ${who}::jsonb)
           and (${after?.occurredAt ?? null}::timestamptz is null
                or (x.occurred_at, x.first_version) < (${after?.occurredAt ?? null}::timestamptz, ${after?.firstVersion ?? null}::int))
         order by x.occurred_at desc, x.first_version desc
         limit ${options.limit}) e on true`.execute(db);
  const first = rows[0];
  if (!first) return 'tokenHash' in asker ? 'unknown-user' : undefined;
  found(asker, first);
  if (!first.member) return undefined;
  return rows.filter((r) => r.expenseId !== null) as unknown as ExpenseRow[];
}

/** A group and its members' balances, one row per member, as the two balance reads return them. */
interface BalanceViewRow {
  name: string | null;
  currency: string;
  version: number;
  epoch: number;
  archived: boolean;
  user_id: string | null;
  member_name: string;
  balance_minor: bigint;
}

/** The rows of a balance read as the group and its balances; undefined when there is no group. */
function balancesView(groupId: string, rows: BalanceViewRow[]): { group: GroupRow; balances: BalanceRow[] } | undefined {
  const first = rows[0];
  if (!first || first.name === null) return undefined;
  return {
    group: { groupId, name: first.name, currency: first.currency, version: first.version, epoch: first.epoch, archived: first.archived },
    balances: rows.flatMap((r) => (r.user_id === null ? [] : [{ userId: r.user_id, name: r.member_name, balanceMinor: r.balance_minor }])),
  };
}

/** readGroupBalances' statement (the bench's minimal route runs the same one). */
export const groupBalancesStatement = (groupId: string, asker: Asker) => sql<BalanceViewRow & AskerColumns>`
    select u.device_id as asker_device_id, u.stale as asker_stale, g.name, g.currency, g.version, g.projection_epoch as epoch, g.archived,
           m.user_id, m.name as member_name, coalesce(b.balance_minor, 0) as balance_minor
      from ${askerRow(asker)}
      left join (groups g join group_members me on me.group_id = g.group_id and me.removed_version is null)
             on g.group_id = ${groupId} and me.user_id = u.user_id
      left join group_members m on m.group_id = g.group_id and m.removed_version is null
      left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
     order by m.position`;

/**
 * The group (only if the asker is a member) and every member's balance, in ONE
 * statement: a single statement reads a single snapshot, so the version and the
 * balances always belong together. The asker is a user id, or a token hash resolved
 * here too (then the request needs no separate lookup): 'unknown-user' when no user has
 * that token.
 */
export async function readGroupBalances(db: Db | Tx, groupId: string, asker: Asker): Promise<AskerRead<{ group: GroupRow; balances: BalanceRow[] }>> {
  const { rows } = await groupBalancesStatement(groupId, asker).execute(db);
  const first = rows[0];
  if (!first) return 'tokenHash' in asker ? 'unknown-user' : undefined;
  found(asker, first);
  return balancesView(groupId, rows);
}

/** A group's version and every member's balance, in one statement (one snapshot), for whoever may see them. */
export async function readGroupView(db: Db | Tx, groupId: string): Promise<{ group: GroupRow; balances: BalanceRow[] } | undefined> {
  const { rows } = await sql<BalanceViewRow>`
    select g.name, g.currency, g.version, g.projection_epoch as epoch, g.archived,
           m.user_id, m.name as member_name, coalesce(b.balance_minor, 0) as balance_minor
      from groups g
      left join group_members m on m.group_id = g.group_id and m.removed_version is null
      left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
     where g.group_id = ${groupId}
     order by m.position`.execute(db);
  return balancesView(groupId, rows);
}

export interface MyGroupRow extends GroupRow {
  balanceMinor: bigint;
}

export async function listGroupsOfUser(db: Db | Tx, userId: string): Promise<MyGroupRow[]> {
  const rows = await db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', 'g.group_id', 'm.group_id')
    .leftJoin('user_balances as b', (join) => join.onRef('b.group_id', '=', 'm.group_id').onRef('b.user_id', '=', 'm.user_id'))
    .select(['g.group_id as groupId', 'g.name', 'g.currency', 'g.version', 'g.projection_epoch as epoch', 'g.archived', 'b.balance_minor as balanceMinor'])
    .where('m.user_id', '=', userId)
    .where('m.removed_version', 'is', null)
    .orderBy('g.created_at')
    .orderBy('g.group_id')
    .execute();
  return rows.map((r) => ({ ...r, balanceMinor: r.balanceMinor ?? 0n }));
}
