import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// Changes are announced from the log: every server process tails the events table
// (gap-safe, by transaction id) to tell its live streams. A rebuild repairs a group's
// rows without appending an event, so it writes here, in the swap transaction, and the
// same tail reads it with the same gap-safe order.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table projection_rebuilds (
      transaction_id xid8 not null default pg_current_xact_id(),
      position bigint generated always as identity,
      group_id text not null,
      version integer not null,
      recorded_at timestamptz not null default now(),
      primary key (transaction_id, position)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table projection_rebuilds`.execute(db);
}
