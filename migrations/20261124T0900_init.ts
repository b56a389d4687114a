import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.

export async function up(db: Kysely<any>): Promise<void> {
  // The event log. global_position alone is not a safe reading order (identities become
  // visible out of order under concurrent commits); readers of the global feed order by
  // (transaction_id, global_position) below the oldest running transaction.
  await sql`
    create table events (
      global_position bigint generated always as identity,
      transaction_id xid8 not null default pg_current_xact_id(),
      stream_id text not null,
      version integer not null check (version >= 1),
      event_id uuid not null unique,
      type text not null,
      schema_version smallint not null check (schema_version >= 1),
      data jsonb not null,
      metadata jsonb not null,
      recorded_at timestamptz not null default now(),
      primary key (stream_id, version)
    )`.execute(db);
  await sql`create index events_global_order on events (transaction_id, global_position)`.execute(db);
  await sql`
    create function events_are_immutable() returns trigger language plpgsql as $$
    begin
      raise exception 'events are immutable: % on events is not allowed', tg_op
        using errcode = 'restrict_violation';
    end $$`.execute(db);
  await sql`
    create trigger events_no_update_delete before update or delete on events
    for each row execute function events_are_immutable()`.execute(db);
  await sql`
    create trigger events_no_truncate before truncate on events
    for each statement execute function events_are_immutable()`.execute(db);

  await sql`
    create table users (
      user_id text primary key,
      name text not null,
      token_hash bytea not null unique,
      created_at timestamptz not null default now()
    )`.execute(db);

  // Read model. Every row here can be rebuilt from the events table.
  await sql`
    create table groups (
      group_id text primary key,
      name text not null,
      currency char(3) not null,
      version integer not null check (version >= 1),
      created_at timestamptz not null,
      updated_at timestamptz not null
    )`.execute(db);
  await sql`
    create table group_members (
      group_id text not null references groups (group_id),
      user_id text not null,
      name text not null,
      position integer not null,
      joined_version integer not null,
      primary key (group_id, user_id),
      unique (group_id, position)
    )`.execute(db);
  await sql`create index group_members_by_user on group_members (user_id)`.execute(db);
  await sql`
    create table user_balances (
      group_id text not null references groups (group_id),
      user_id text not null,
      balance_minor bigint not null default 0,
      primary key (group_id, user_id)
    )`.execute(db);
  await sql`
    create table expenses (
      group_id text not null references groups (group_id),
      expense_id text not null,
      kind text not null check (kind in ('expense', 'payment')),
      description text not null,
      currency char(3) not null,
      amount_minor bigint not null check (amount_minor > 0),
      payers jsonb not null,
      shares jsonb not null,
      split jsonb not null,
      occurred_at timestamptz not null,
      deleted boolean not null default false,
      first_version integer not null,
      last_version integer not null,
      primary key (group_id, expense_id)
    )`.execute(db);
  await sql`
    create index expenses_listing on expenses (group_id, occurred_at desc, first_version desc)
  `.execute(db);

  // Stored responses of writes sent with an Idempotency-Key, per caller.
  await sql`
    create table idempotency_keys (
      actor_user_id text not null,
      key text not null,
      request_hash text not null,
      status integer not null,
      response jsonb not null,
      created_at timestamptz not null default now(),
      primary key (actor_user_id, key)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['idempotency_keys', 'expenses', 'user_balances', 'group_members', 'groups', 'users']) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop table events`.execute(db);
  await sql`drop function events_are_immutable()`.execute(db);
}
