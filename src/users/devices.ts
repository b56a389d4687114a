// An account's devices: one row per signed-in device (a bearer token) and per saved
// sign-in key. Listing, renaming and revoking always name the owner too, so one user's
// request can never reach another's device (theirs answers as if it did not exist).
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { DeviceKind } from '../db/schema.js';
import { DEFAULT_DEVICE_NAMES, hashToken, newSecret, type User } from './users.js';

export interface Device {
  deviceId: string;
  kind: DeviceKind;
  name: string;
  createdAt: Date;
  lastUsedAt: Date;
}

const columns = ['device_id as deviceId', 'kind', 'name', 'created_at as createdAt', 'last_used_at as lastUsedAt'] as const;

/** The user's devices and keys, oldest first. */
export async function listDevices(db: Db, userId: string): Promise<Device[]> {
  return db.selectFrom('devices').select(columns).where('user_id', '=', userId).orderBy('created_at').orderBy('device_id').execute();
}

/** Renames one of the user's devices; undefined when they have no such device. */
export async function renameDevice(db: Db, userId: string, deviceId: string, name: string): Promise<Device | undefined> {
  return db.updateTable('devices').set({ name }).where('device_id', '=', deviceId).where('user_id', '=', userId).returning(columns).executeTakeFirst();
}

/**
 * Revokes one of the user's devices or keys: its row goes, so its token answers 401 from
 * the next request on, and the sign-in codes it made go with it (foreign key). Undefined
 * when the user has no such device.
 */
export async function revokeDevice(db: Db, userId: string, deviceId: string): Promise<{ kind: DeviceKind } | undefined> {
  return db.deleteFrom('devices').where('device_id', '=', deviceId).where('user_id', '=', userId).returning('kind').executeTakeFirst();
}

/**
 * A new saved sign-in key for the user, made by one of their devices: returned once,
 * only its SHA-256 kept. Undefined when that device was revoked meanwhile (a revoked
 * device makes no new credentials, however the requests race).
 */
export async function createSignInKey(
  db: Db,
  userId: string,
  byDeviceId: string,
  name: string = DEFAULT_DEVICE_NAMES.savedKey,
): Promise<(Device & { key: string }) | undefined> {
  const key = newSecret('fsk_');
  const { rows } = await sql<Device>`
    insert into devices (user_id, token_hash, kind, name)
    select user_id, ${hashToken(key)}, 'key', ${name} from devices
     where device_id = ${byDeviceId} and user_id = ${userId} and kind = 'device'
       for share
    returning device_id as "deviceId", kind, name, created_at as "createdAt", last_used_at as "lastUsedAt"`.execute(db);
  const made = rows[0];
  return made && { ...made, key };
}

/** A device just signed in: its user, its id, and its bearer token (returned only this once). */
export interface SignedIn extends User {
  deviceId: string;
  token: string;
}

/**
 * Signs a new device in with a saved sign-in key (or the token of a device still signed
 * in), in one statement: the key stays as it is (its last use recorded), and the new
 * device gets a token of its own. Undefined when no device or key has that secret.
 */
export async function signInWithKey(db: Db, key: string, deviceName: string = DEFAULT_DEVICE_NAMES.key): Promise<(SignedIn & { keyId: string }) | undefined> {
  const token = newSecret('fs_');
  const { rows } = await sql<User & { deviceId: string; keyId: string }>`
    with source as (
      update devices set last_used_at = now() where token_hash = ${hashToken(key)} returning user_id, device_id),
    made as (
      insert into devices (user_id, token_hash, kind, name)
      select user_id, ${hashToken(token)}, 'device', ${deviceName} from source
      returning device_id, user_id)
    select u.user_id as "userId", u.name, m.device_id as "deviceId", s.device_id as "keyId"
      from made m join users u on u.user_id = m.user_id cross join source s`.execute(db);
  const row = rows[0];
  return row && { ...row, token };
}

/**
 * Records when devices were last used, without turning reads into writes: a device's
 * `last_used_at` moves at most once a minute (the token lookup says when it is due), by
 * an update that runs beside the request rather than before its answer, one at a time
 * per device in this process. A failure only leaves the time older; it is logged.
 */
export class DeviceUse {
  private readonly due = new Set<string>();

  constructor(private readonly db: Db) {}

  seen(device: { deviceId: string; stale: boolean }, log: { warn(details: object, message: string): void }): void {
    if (!device.stale || this.due.has(device.deviceId)) return;
    this.due.add(device.deviceId);
    this.db
      .updateTable('devices')
      .set({ last_used_at: sql`now()` })
      .where('device_id', '=', device.deviceId)
      .where('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)
      .execute()
      .catch((error: unknown) => log.warn({ err: error, deviceId: device.deviceId }, 'recording when a device was last used failed'))
      .finally(() => this.due.delete(device.deviceId));
  }
}
