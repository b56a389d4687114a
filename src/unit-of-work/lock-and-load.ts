import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { ExpenseRow, GroupRows, MemberRow } from '../projections/projector.js';

/** An Idempotency-Key's record: the outcome it was answered with (or, for older keys, the HTTP status and body). */
export interface StoredKey {
  requestHash: string;
  /** Older than IDEMPOTENCY_KEY_LIFETIME: forgotten (the key may be used afresh). */
  expired?: boolean;
  outcome: unknown;
  status: number | null;
  response: unknown;
}

/**
 * How long an Idempotency-Key is remembered, as payment APIs do: a retry within a day is
 * answered from the first request; after that the key is forgotten (and its record
 * removed, see forgetExpiredKeys).
 */
export const IDEMPOTENCY_KEY_LIFETIME = '24 hours';

/** Removes Idempotency-Key records past their lifetime; returns how many. */
export async function forgetExpiredKeys(db: Db): Promise<number> {
  const result = await sql`delete from idempotency_keys where created_at <= now() - ${IDEMPOTENCY_KEY_LIFETIME}::interval`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface LoadedGroup {
  /** The group's rows a command can touch: the group, every member with their balance, and the expense it names. */
  rows: GroupRows;
  /** Rebuilds of the group's rows (in its ETag). */
  epoch: number;
  /** The transaction's clock: the time its events are recorded at. */
  now: Date;
  /** The caller's earlier request with the same Idempotency-Key, if any. */
  stored: StoredKey | undefined;
}

export interface LoadedRow {
  name: string | null;
  currency: string;
  version: number;
  epoch: number;
  created_at: Date;
  updated_at: Date;
  seen: [number, number] | null;
  archived: boolean;
  /** Every member row (see the projector's MemberRow) with its balance, as a decimal string of minor units. */
  members: (MemberRow & { balance: string })[] | null;
  expense: (Omit<ExpenseRow, 'occurredAt'> & { occurredAt: string }) | null;
  /** Every expense that names `claimedMember`, live or deleted. */
  claimed: (Omit<ExpenseRow, 'occurredAt'> & { occurredAt: string; expenseId: string })[] | null;
  stored: StoredKey | null;
  now: Date;
}

export interface LoadNames {
  expenseId?: string | undefined;
  /** A name-only member an account claims (MemberClaimed): every expense naming them is loaded, to name the account instead. */
  claimedMember?: string | undefined;
  actorUserId: string;
  idempotencyKey?: string | undefined;
}

/** lockAndLoad's statement (the bench's minimal route runs the same one). */
export const lockAndLoadStatement = (groupId: string, names: LoadNames) =>
  sql<LoadedRow>`
  select g.name, g.currency, g.version, g.projection_epoch as epoch, g.archived, g.created_at, g.updated_at,
     (select json_build_array(s.version, s.projection_epoch) from groups s where s.group_id = ${groupId}) as seen,
     (select json_agg(json_build_object('userId', m.user_id, 'name', m.name, 'joinedVersion', m.joined_version, 'position', m.position,
                                        'removedVersion', m.removed_version, 'nameOnly', m.name_only, 'claimedFrom', m.claimed_from,
                                        'balance', coalesce(b.balance_minor, 0)::text) order by m.position)
        from group_members m
        left join user_balances b on b.group_id = m.group_id and b.user_id = m.user_id
       where m.group_id = ${groupId}) as members,
     (select json_build_object('kind', e.kind, 'description', e.description, 'currency', e.currency,
                               'amountMinor', e.amount_minor, 'payers', e.payers, 'shares', e.shares, 'split', e.split,
                               'occurredAt', e.occurred_at, 'deleted', e.deleted,
                               'firstVersion', e.first_version, 'lastVersion', e.last_version)
        from expenses e where e.group_id = ${groupId} and e.expense_id = ${names.expenseId ?? null}) as expense,
     (select json_agg(json_build_object('expenseId', e.expense_id, 'kind', e.kind, 'description', e.description, 'currency', e.currency,
                               'amountMinor', e.amount_minor, 'payers', e.payers, 'shares', e.shares, 'split', e.split,
                               'occurredAt', e.occurred_at, 'deleted', e.deleted,
                               'firstVersion', e.first_version, 'lastVersion', e.last_version))
        from expenses e, jsonb_build_array(jsonb_build_object('userId', ${names.claimedMember ?? null}::text)) as who(entry)
       where e.group_id = ${groupId} and ${names.claimedMember ?? null}::text is not null
         and (e.payers @> who.entry or e.shares @> who.entry
              or e.split -> 'among' @> to_jsonb(${names.claimedMember ?? null}::text) or e.split -> 'shares' @> who.entry)) as claimed,
     (select json_build_object('requestHash', k.request_hash, 'outcome', k.outcome, 'status', k.status, 'response', k.response,
                               'expired', k.created_at <= now() - ${IDEMPOTENCY_KEY_LIFETIME}::interval)
        from idempotency_keys k where k.actor_user_id = ${names.actorUserId} and k.key = ${names.idempotencyKey ?? null}) as stored,
     now() as now
    from (select 1) as one
    left join lateral (select * from groups where group_id = ${groupId} for update) as g on true`;

/** The load waited for the lock and read the other tables as of before the lock holder committed. */
export const readBeforeTheLock = (row: LoadedRow): boolean => row.name !== null && (row.seen?.[0] !== row.version || row.seen?.[1] !== row.epoch);

/**
 * The first statement of a command, one round trip: locks the group's row and reads
 * everything the command needs (members and balances, the expense it names, the
 * caller's earlier request with the same Idempotency-Key, the transaction's clock).
 *
 * Under READ COMMITTED a statement that had to wait for the lock returns the locked
 * row as it is now, but reads the other tables as of the moment it started, before the
 * lock holder committed. `seen` (the row's version and epoch in that older snapshot)
 * gives such a stale read away: then the statement runs once more, with the lock
 * already held, and sees everything committed before it.
 */
export async function lockAndLoad(tx: Tx, groupId: string, names: LoadNames): Promise<LoadedGroup> {
  for (;;) {
    const { rows } = await lockAndLoadStatement(groupId, names).execute(tx);
    const row = rows[0] as LoadedRow;
    if (readBeforeTheLock(row)) continue;
    const members = row.members ?? [];
    const rowsOfGroup: GroupRows = {
      groupId,
      group:
        row.name === null
          ? null
          : { name: row.name, currency: row.currency, version: row.version, archived: row.archived, createdAt: row.created_at, updatedAt: row.updated_at },
      members: members.map((m) => ({
        userId: m.userId,
        name: m.name,
        joinedVersion: m.joinedVersion,
        position: m.position,
        removedVersion: m.removedVersion,
        nameOnly: m.nameOnly,
        claimedFrom: m.claimedFrom,
      })),
      balances: new Map(members.map((m) => [m.userId, BigInt(m.balance)])),
      expenses: new Map(),
    };
    if (row.expense && names.expenseId !== undefined) {
      rowsOfGroup.expenses.set(names.expenseId, { ...row.expense, occurredAt: new Date(row.expense.occurredAt).toISOString() });
    }
    for (const { expenseId, ...e } of row.claimed ?? []) rowsOfGroup.expenses.set(expenseId, { ...e, occurredAt: new Date(e.occurredAt).toISOString() });
    let stored = row.stored ?? undefined;
    if (stored?.expired) {
      // Past its lifetime the key is forgotten: its record goes, and this request is new.
      await sql`delete from idempotency_keys where actor_user_id = ${names.actorUserId} and key = ${names.idempotencyKey ?? null}`.execute(tx);
      stored = undefined;
    }
    return { rows: rowsOfGroup, epoch: row.epoch ?? 0, now: row.now, stored };
  }
}
