import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// The group life cycle (issue #13 §4): an archived group is read-only; a member who
// left or was removed keeps their row (their name stays on old expenses) with the
// version that took them out, and is no member any more while it is set.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table groups add column archived boolean not null default false`.execute(db);
  await sql`alter table group_members add column removed_version integer check (removed_version > joined_version)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table group_members drop column removed_version`.execute(db);
  await sql`alter table groups drop column archived`.execute(db);
}
