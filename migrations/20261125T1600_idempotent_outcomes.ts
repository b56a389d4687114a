import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

// An Idempotency-Key now keeps the command's outcome (the group's version, balances and
// the expense it named, as the command left them), not an HTTP body: the unit of work
// knows nothing of HTTP, and the API presents a replayed outcome as it presented the
// first. Keys stored before this keep their status and body and are answered with them.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table idempotency_keys add column outcome jsonb`.execute(db);
  await sql`alter table idempotency_keys alter column status drop not null`.execute(db);
  await sql`alter table idempotency_keys alter column response drop not null`.execute(db);
  await sql`
    alter table idempotency_keys add constraint idempotency_keys_outcome_or_response
      check (outcome is not null or (status is not null and response is not null))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from idempotency_keys where outcome is not null`.execute(db);
  await sql`alter table idempotency_keys drop constraint idempotency_keys_outcome_or_response`.execute(db);
  await sql`alter table idempotency_keys alter column status set not null`.execute(db);
  await sql`alter table idempotency_keys alter column response set not null`.execute(db);
  await sql`alter table idempotency_keys drop column outcome`.execute(db);
}
