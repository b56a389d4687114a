import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { hashToken } from './users.js';

/** How long an invite link works unless its creator says otherwise. */
export const DEFAULT_INVITE_DAYS = 7;

export interface Invite {
  inviteId: string;
  groupId: string;
  createdBy: { userId: string; name: string };
  createdAt: Date;
  expiresAt: Date;
  /** The name-only member whose place it is for (`taken` once claimed or removed); null: a link to join as oneself. */
  place: { userId: string; name: string; taken: boolean } | null;
}

/**
 * A new invite link's token (256 random bits, shown once) and its record; only the
 * token's SHA-256 is stored, as for bearer tokens.
 */
export async function createInvite(
  db: Db,
  groupId: string,
  createdBy: string,
  days: number,
  nameOnlyId: string | null = null,
): Promise<{ inviteId: string; token: string; expiresAt: Date }> {
  const token = `fsi_${randomBytes(32).toString('base64url')}`;
  const inviteId = randomUUID();
  const row = await db
    .insertInto('invites')
    .values({
      invite_id: inviteId,
      group_id: groupId,
      token_hash: hashToken(token),
      created_by: createdBy,
      name_only_id: nameOnlyId,
      expires_at: sql<Date>`now() + make_interval(days => ${days})`,
    })
    .returning('expires_at')
    .executeTakeFirstOrThrow();
  return { inviteId, token, expiresAt: row.expires_at };
}

/** Links that still work: not revoked, not expired, and their maker still a member. */
const invites = (db: Db) =>
  db
    .selectFrom('invites as i')
    .innerJoin('users as u', 'u.user_id', 'i.created_by')
    .innerJoin('group_members as m', (join) =>
      join.onRef('m.group_id', '=', 'i.group_id').onRef('m.user_id', '=', 'i.created_by').on('m.removed_version', 'is', null),
    )
    // The place a link is for: the member row that is (or was, until claimed) that name-only member.
    .leftJoin('group_members as p', (join) =>
      join
        .onRef('p.group_id', '=', 'i.group_id')
        .on((eb) => eb.or([eb('p.user_id', '=', eb.ref('i.name_only_id')), eb('p.claimed_from', '=', eb.ref('i.name_only_id'))])),
    )
    .select([
      'i.invite_id as inviteId',
      'i.group_id as groupId',
      'u.user_id as userId',
      'u.name',
      'i.created_at as createdAt',
      'i.expires_at as expiresAt',
      'i.name_only_id as placeId',
      'p.name as placeName',
      sql<boolean>`p.name_only and p.removed_version is null`.as('placeOpen'),
    ])
    .where('i.revoked_at', 'is', null)
    .where('i.expires_at', '>', sql<Date>`now()`);

interface InviteRow {
  inviteId: string;
  groupId: string;
  userId: string;
  name: string;
  createdAt: Date;
  expiresAt: Date;
  placeId: string | null;
  placeName: string | null;
  placeOpen: boolean | null;
}

const toInvite = (r: InviteRow): Invite => ({
  inviteId: r.inviteId,
  groupId: r.groupId,
  createdBy: { userId: r.userId, name: r.name },
  createdAt: r.createdAt,
  expiresAt: r.expiresAt,
  place: r.placeId === null ? null : { userId: r.placeId, name: r.placeName ?? '', taken: r.placeOpen !== true },
});

/** A group's links that still work (not revoked, not expired), newest first. */
export async function listInvites(db: Db, groupId: string): Promise<Invite[]> {
  const rows = await invites(db).where('i.group_id', '=', groupId).orderBy('i.created_at', 'desc').execute();
  return rows.map(toInvite);
}

/** The link a token opens, if it still works. */
export async function findInvite(db: Db, token: string): Promise<Invite | undefined> {
  const row = await invites(db).where('i.token_hash', '=', hashToken(token)).executeTakeFirst();
  return row && toInvite(row);
}

/** Revokes a group's link; false when the group has no such link (revoking twice is fine). */
export async function revokeInvite(db: Db, groupId: string, inviteId: string): Promise<boolean> {
  const result = await db
    .updateTable('invites')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('group_id', '=', groupId)
    .where('invite_id', '=', inviteId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Inside a join's transaction: the link still works, and stays so until the join commits
 * (its row is share-locked, so a revoke waits for the join, or the join sees the revoke).
 */
export async function assertInviteWorks(tx: Tx, inviteId: string): Promise<boolean> {
  const { rows } = await sql`
    select 1 from invites where invite_id = ${inviteId} and revoked_at is null and expires_at > now() for share`.execute(tx);
  return rows.length === 1;
}

/** A member who leaves or is removed takes their links with them (in the removal's transaction). */
export async function revokeInvitesOf(tx: Tx, groupId: string, userId: string): Promise<void> {
  await sql`update invites set revoked_at = now() where group_id = ${groupId} and created_by = ${userId} and revoked_at is null`.execute(tx);
}
