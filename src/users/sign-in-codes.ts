// One-time sign-in codes: a signed-in device shows one, another device types it (or opens
// its link) and is signed in as a new device of the same user.
//
// A code is 12 characters from 30 that cannot be mistaken for one another when read
// aloud or typed on a phone (no 0/O, 1/I/L, U), shown as 3 groups of 4: 30^12 ≈ 2^58.9
// codes. It works for 10 minutes, once, and dies with the device that made it; only its
// SHA-256 is stored. With redemption limited per address (the sign-up limit, 20 a minute)
// one address has 200 guesses in a code's life: a chance of 200 / 30^12 ≈ 4 × 10^-16 per
// live code.
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { isForeignKeyViolation } from '../db/errors.js';
import type { SignedIn } from './devices.js';
import { DEFAULT_DEVICE_NAMES, hashToken, newSecret, type User } from './users.js';

export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LENGTH = 12;
export const CODE_LIFETIME_MINUTES = 10;

/** A fresh code, as shown: "ABCD-EFGH-JKMN". */
export function newSignInCode(): string {
  const chars = Array.from({ length: CODE_LENGTH }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return chars.replace(/(.{4})(?!$)/g, '$1-');
}

/** A code as typed (any case, spaces or dashes anywhere) in its one stored form; undefined when it cannot be a code. */
export function normaliseSignInCode(typed: string): string | undefined {
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  return code.length === CODE_LENGTH && [...code].every((c) => CODE_ALPHABET.includes(c)) ? code : undefined;
}

/**
 * A new code for the user, made by one of their devices: it replaces any code that device
 * made before (a device has at most one at a time), and expired codes are cleared on the
 * way. Undefined when the device was revoked meanwhile.
 */
export async function issueSignInCode(db: Db, userId: string, byDeviceId: string): Promise<{ code: string; expiresAt: Date } | undefined> {
  const code = newSignInCode();
  try {
    const { rows } = await sql<{ expiresAt: Date }>`
      with cleared as (delete from sign_in_codes where expires_at < now() and device_id <> ${byDeviceId})
      insert into sign_in_codes (code_hash, user_id, device_id, expires_at)
      select ${hashToken(normaliseSignInCode(code) as string)}, user_id, device_id, now() + make_interval(mins => ${CODE_LIFETIME_MINUTES})
        from devices where device_id = ${byDeviceId} and user_id = ${userId} and kind = 'device'
      -- One code per device (a unique index): a new one replaces it, however two requests race.
      on conflict (device_id) do update set code_hash = excluded.code_hash, created_at = now(), expires_at = excluded.expires_at
      returning expires_at as "expiresAt"`.execute(db);
    const made = rows[0];
    return made && { code, expiresAt: made.expiresAt };
  } catch (error) {
    // The device was revoked between the select and the insert.
    if (isForeignKeyViolation(error)) return undefined;
    throw error;
  }
}

/**
 * Redeems a code: in ONE statement the code is deleted (if it is known and not expired)
 * and a new device made for its user. Of two concurrent redemptions, the second finds
 * the row gone (its delete waits for the first, then matches nothing) and makes nothing.
 * Undefined for a code that is unknown, expired or used, alike.
 */
export async function redeemSignInCode(db: Db, typed: string, deviceName: string = DEFAULT_DEVICE_NAMES.code): Promise<SignedIn | undefined> {
  const code = normaliseSignInCode(typed);
  if (code === undefined) return undefined;
  const token = newSecret('fs_');
  const { rows } = await sql<User & { deviceId: string }>`
    with used as (
      delete from sign_in_codes where code_hash = ${hashToken(code)} and expires_at > now() returning user_id),
    made as (
      insert into devices (user_id, token_hash, kind, name)
      select user_id, ${hashToken(token)}, 'device', ${deviceName} from used
      returning device_id, user_id)
    select u.user_id as "userId", u.name, m.device_id as "deviceId"
      from made m join users u on u.user_id = m.user_id`.execute(db);
  const row = rows[0];
  return row && { ...row, token };
}
