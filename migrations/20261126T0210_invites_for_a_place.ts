import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// An invite link can be for one name-only member's place (issue #13 §3): whoever
// accepts it takes that place, its balance and its expenses. Only such a link claims a
// place, so a link shared with a whole chat cannot be used to take over a creditor's.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table invites add column name_only_id text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table invites drop column name_only_id`.execute(db);
}
