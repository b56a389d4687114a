import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// Name-only members (issue #13 §3): friends without an account, known by the name a
// member gave, until one claims the place through an invite link (MemberClaimed). The
// row then carries the account's user id and the name-only id it replaced.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table group_members add column name_only boolean not null default false, add column claimed_from text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table group_members drop column name_only, drop column claimed_from`.execute(db);
}
