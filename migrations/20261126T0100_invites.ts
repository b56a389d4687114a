import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// Invite links (issue #13 §2). A link's token is a credential, kept like bearer tokens:
// only its SHA-256. Links are not events (a secret does not belong in an immutable log);
// the joins they bring are (MemberAdded with invitedBy). No foreign key to groups: the
// projection's rows are rebuilt from the log, and an invite must not stand in the way.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table invites (
      invite_id text primary key,
      group_id text not null,
      token_hash bytea not null unique,
      created_by text not null references users (user_id),
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz,
      check (expires_at > created_at)
    )`.execute(db);
  await sql`create index invites_by_group on invites (group_id, expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table invites`.execute(db);
}
