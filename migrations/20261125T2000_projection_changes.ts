import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// With an event log outside PostgreSQL (KurrentDB), the events table stays empty, so
// the log tail that tells live streams about changes needs another record of them:
// every projection commit writes one row here, as a rebuild already did. The rebuild
// announcements table becomes the projection's change record; `rebuilt` tells a repair
// at the same version (true) from a new version projected from the external log (false).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table projection_rebuilds rename to projection_changes`.execute(db);
  await sql`alter index projection_rebuilds_pkey rename to projection_changes_pkey`.execute(db);
  await sql`alter table projection_changes add column rebuilt boolean not null default true`.execute(db);
  await sql`alter table projection_changes alter column rebuilt drop default`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from projection_changes where not rebuilt`.execute(db);
  await sql`alter table projection_changes drop column rebuilt`.execute(db);
  await sql`alter index projection_changes_pkey rename to projection_rebuilds_pkey`.execute(db);
  await sql`alter table projection_changes rename to projection_rebuilds`.execute(db);
}
