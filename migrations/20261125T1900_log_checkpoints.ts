import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// With an event log outside PostgreSQL (KurrentDB), one subscriber per deployment
// follows the whole log and repairs the projection where a command's append committed
// in the log but its projection did not. Its place in the log is kept here, moved by a
// compare-and-set in the same transaction as the rows it projects.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table log_checkpoints (
      name text primary key,
      position text not null,
      updated_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table log_checkpoints`.execute(db);
}
