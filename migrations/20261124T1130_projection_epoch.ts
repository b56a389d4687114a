import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// A rebuild can change what a group shows without changing its version (it repairs
// drift). The epoch counts rebuilds of the group's rows and goes into its ETag, so no
// client keeps a pre-repair copy that a 304 would keep confirming.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table groups add column projection_epoch integer not null default 0 check (projection_epoch >= 0)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table groups drop column projection_epoch`.execute(db);
}
