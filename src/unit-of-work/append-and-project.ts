import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { groupIdOf, type EventEnvelope } from '../events/index.js';
import type { RowChanges } from '../projections/projector.js';
import { rowWrites, type WrittenCounts } from '../projections/write-rows.js';
import { eventInserts } from '../store/event-store.js';

/** An Idempotency-Key record to keep with the command's writes. */
export interface KeyRecord {
  actorUserId: string;
  key: string;
  requestHash: string;
  /** The outcome, as JSON. */
  outcome: string;
}

type Written = WrittenCounts & { positions: string[] };

/**
 * A command's second statement (the bench's minimal route runs the same one): appends
 * the events, writes the projector's row changes and keeps the Idempotency-Key record,
 * all in one statement. With `logElsewhere` (the events are already in another event
 * log, KurrentDB) it only projects and keeps the key. `check` throws unless it wrote
 * exactly what it was given.
 */
export function appendAndProjectStatement(events: readonly EventEnvelope[], changes: RowChanges, key: KeyRecord | undefined, logElsewhere = false) {
  // The events go to PostgreSQL's log here, or (already in another log) the change is
  // recorded for the log tail that tells live streams in every process.
  const inserts = logElsewhere ? undefined : eventInserts(events);
  const writes = rowWrites([changes]);
  return {
    query: sql<Written>`
      with ${inserts ? inserts.cte : projectedChange(events)}, ${writes.ctes}${key ? sql`, ${keyInsert(key)}` : sql``}
      select ${inserts ? inserts.positions : sql`'[]'::json as positions`}, ${writes.counts}`,
    check: (written: Written) => writes.check(written),
    rows: writes.rows,
  };
}

/** The record of a projected change whose events live in another log: the group and the version it reached. */
function projectedChange(events: readonly EventEnvelope[]) {
  const last = events.at(-1) as EventEnvelope;
  return sql`w_change as (insert into projection_changes (group_id, version, rebuilt)
                          values (${groupIdOf(last.streamId) ?? last.streamId}, ${last.version}, false) returning 1)`;
}

const keyInsert = (key: KeyRecord) =>
  sql`w_key as (insert into idempotency_keys (actor_user_id, key, request_hash, outcome)
                values (${key.actorUserId}, ${key.key}, ${key.requestHash}, ${key.outcome}::jsonb)
                returning 1)`;

/**
 * Appends and projects (or, for a command that changed nothing, only keeps the key);
 * fills in the global positions the events took. With `logElsewhere` the events are
 * already in another log and are only projected. Returns the rows projected.
 */
export async function appendAndProject(
  tx: Tx,
  events: EventEnvelope[],
  changes: RowChanges | undefined,
  key: KeyRecord | undefined,
  logElsewhere = false,
): Promise<number> {
  if (!changes) {
    if (key) await insertKey(tx, key);
    return 0;
  }
  const statement = appendAndProjectStatement(events, changes, key, logElsewhere);
  const { rows } = await statement.query.execute(tx);
  const written = rows[0] as Written;
  statement.check(written);
  written.positions.forEach((position, i) => {
    (events[i] as EventEnvelope).globalPosition = BigInt(position);
  });
  return statement.rows;
}

/** Inserts an Idempotency-Key record; one already there is a unique violation (the command runs again and answers from it). */
export async function insertKey(tx: Tx, key: KeyRecord): Promise<void> {
  await sql`with ${keyInsert(key)} select 1`.execute(tx);
}

/** Keeps an Idempotency-Key record on its own (a command whose events another transaction projected); a second copy is ignored. */
export async function storeKey(tx: Tx, key: KeyRecord): Promise<void> {
  await sql`insert into idempotency_keys (actor_user_id, key, request_hash, outcome)
            values (${key.actorUserId}, ${key.key}, ${key.requestHash}, ${key.outcome}::jsonb)
            on conflict do nothing`.execute(tx);
}

/**
 * With an external event log, commands and the log subscriber on one group queue on
 * this transaction lock as well as on the group's row: a group being created has no row
 * to lock yet.
 */
export async function lockGroupStream(tx: Tx, groupId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${GROUP_LOCK_SPACE}, hashtext(${groupId}))`.execute(tx);
}

/** The first key of FairShare's two-key advisory locks on groups ("FS" and 1). */
const GROUP_LOCK_SPACE = 0x46530001;
