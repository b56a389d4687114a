import { createHash, randomBytes } from 'node:crypto';
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

/**
 * Creates a user with a fresh bearer token (256 random bits). The token is returned
 * once and only its SHA-256 is stored: a leaked database yields no usable tokens.
 */
export async function createUser(db: Db, userId: string, name: string): Promise<User & { token: string }> {
  if (userId.toLowerCase().startsWith(NAME_ONLY_PREFIX)) {
    throw invalid('RESERVED_USER_ID', 'userId', `user ids starting with ${NAME_ONLY_PREFIX} are kept for members who are only a name`);
  }
  const token = `fs_${randomBytes(32).toString('base64url')}`;
  try {
    await db
      .insertInto('users')
      .values({ user_id: userId, name, token_hash: hashToken(token) })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new DomainError(409, 'USER_ALREADY_EXISTS', `user ${userId} already exists`);
    }
    throw error;
  }
  return { userId, name, token };
}

/** The user a bearer token's hash belongs to, as a statement (the bench's minimal route runs the same one). */
export const userByTokenStatement = (db: Db, tokenHash: Buffer) =>
  db.selectFrom('users').select(['user_id as userId', 'name']).where('token_hash', '=', tokenHash);

export async function findUserByToken(db: Db, token: string): Promise<User | undefined> {
  return userByTokenStatement(db, hashToken(token)).executeTakeFirst();
}

export async function findUsers(db: Db, userIds: readonly string[]): Promise<User[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('users').select(['user_id as userId', 'name']).where('user_id', 'in', userIds).execute();
}
