import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { DomainError, invalid } from '../commands/errors.js';
import { isUniqueViolation } from '../db/errors.js';

export interface User {
  userId: string;
  name: string;
}

/**
 * Name-only members' ids start with this; no account may: membership is by user id, so
 * an account holding a name-only member's id would be in their group.
 */
export const NAME_ONLY_PREFIX = 'guest_';

/** How every bearer token (user or operator) is kept and compared: its SHA-256. */
export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** A new secret: 256 random bits, base64url, after a prefix that says what it is (fs_ a device token, fsk_ a sign-in key). */
export const newSecret = (prefix: 'fs_' | 'fsk_'): string => `${prefix}${randomBytes(32).toString('base64url')}`;

/** The name a device gets when its maker gives none. */
export const DEFAULT_DEVICE_NAMES = {
  signUp: 'Device used to sign up',
  code: 'Device signed in with a code',
  key: 'Device signed in with a saved key',
  savedKey: 'Saved sign-in key',
} as const;

/**
 * Creates a user and their first device, in one statement. The device's bearer token
 * (256 random bits) is returned once and only its SHA-256 is stored: a leaked database
 * yields no usable tokens.
 */
export async function createUser(
  db: Db,
  userId: string,
  name: string,
  deviceName: string = DEFAULT_DEVICE_NAMES.signUp,
): Promise<User & { token: string; deviceId: string }> {
  if (userId.toLowerCase().startsWith(NAME_ONLY_PREFIX)) {
    throw invalid('RESERVED_USER_ID', 'userId', `user ids starting with ${NAME_ONLY_PREFIX} are kept for members who are only a name`);
  }
  const token = newSecret('fs_');
  try {
    const { rows } = await sql<{ deviceId: string }>`
      with u as (insert into users (user_id, name) values (${userId}, ${name}) returning user_id)
      insert into devices (user_id, token_hash, kind, name)
      select user_id, ${hashToken(token)}, 'device', ${deviceName} from u
      returning device_id as "deviceId"`.execute(db);
    return { userId, name, token, deviceId: (rows[0] as { deviceId: string }).deviceId };
  } catch (error) {
    if (isUniqueViolation(error, 'users_pkey')) {
      throw new DomainError(409, 'USER_ALREADY_EXISTS', `user ${userId} already exists`);
    }
    throw error;
  }
}

/** Who a bearer token speaks for: the user, the device it belongs to, and whether that device's last use is over a minute old. */
export interface TokenHolder extends User {
  deviceId: string;
  /** last_used_at is more than a minute old: worth moving forward (see DeviceUse). */
  stale: boolean;
}

/**
 * The user and device a bearer token's hash belongs to, as ONE statement (the bench's
 * minimal route runs the same one). Only devices: a saved sign-in key is not a bearer token.
 */
export const userByTokenStatement = (db: Db, tokenHash: Buffer) =>
  db
    .selectFrom('devices as d')
    .innerJoin('users as u', 'u.user_id', 'd.user_id')
    .select(['u.user_id as userId', 'u.name', 'd.device_id as deviceId', sql<boolean>`d.last_used_at < now() - interval '1 minute'`.as('stale')])
    .where('d.token_hash', '=', tokenHash)
    .where('d.kind', '=', 'device');

export async function findUserByToken(db: Db, token: string): Promise<TokenHolder | undefined> {
  return userByTokenStatement(db, hashToken(token)).executeTakeFirst();
}

export async function findUsers(db: Db, userIds: readonly string[]): Promise<User[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('users').select(['user_id as userId', 'name']).where('user_id', 'in', userIds).execute();
}
