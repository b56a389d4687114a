import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// Devices (issue #13 §5). An account holds several credentials instead of one token:
// one per signed-in device (kind 'device', a bearer token) and any saved sign-in keys
// (kind 'key', which only sign a new device in, never act as a bearer token). Each is
// kept like every other secret here: only its SHA-256. Revoking one deletes its row.
//
// Sign-in codes: short-lived, single-use codes a signed-in device shows so another can
// sign in. Only their SHA-256 is kept; a code dies with the device that made it.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table devices (
      device_id uuid primary key default gen_random_uuid(),
      user_id text not null references users (user_id) on delete cascade,
      token_hash bytea not null unique,
      kind text not null default 'device' check (kind in ('device', 'key')),
      name text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index devices_by_user on devices (user_id)`.execute(db);
  // Every token made before devices keeps working, as a device of its own. When it was
  // last used is unknown: its sign-up time stands in until its next use.
  await sql`
    insert into devices (user_id, token_hash, kind, name, created_at, last_used_at)
    select user_id, token_hash, 'device', 'Device from before device names', created_at, created_at from users`.execute(db);
  // Kept (no longer required, no longer read) while processes of the previous version may
  // still be running and reading it: a later migration drops it.
  await sql`alter table users alter column token_hash drop not null`.execute(db);

  await sql`
    create table sign_in_codes (
      code_hash bytea primary key,
      user_id text not null references users (user_id) on delete cascade,
      device_id uuid not null references devices (device_id) on delete cascade,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      check (expires_at > created_at)
    )`.execute(db);
  await sql`create unique index sign_in_codes_by_device on sign_in_codes (device_id)`.execute(db);
  await sql`create index sign_in_codes_by_expiry on sign_in_codes (expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table sign_in_codes`.execute(db);
  // Back to one token per user: each user's earliest device keeps working; a user with
  // no device left gets a token nobody holds.
  await sql`
    update users u set token_hash = coalesce(
      (select d.token_hash from devices d where d.user_id = u.user_id and d.kind = 'device' order by d.created_at, d.device_id limit 1),
      u.token_hash,
      sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')))`.execute(db);
  await sql`alter table users alter column token_hash set not null`.execute(db);
  await sql`drop table devices`.execute(db);
}
