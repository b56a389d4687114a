import { sql, type RawBuilder } from 'kysely';
import { CURRENT_SCHEMA_VERSION, decodeGroupEvent, type EventEnvelope, type EventMetadata, type GroupEvent } from '../events/index.js';
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';

/** The constraint that makes (stream_id, version) unique: the optimistic concurrency check. */
const STREAM_VERSION_KEY = 'events_pkey';

/** True when `error` is a competing append of the same stream version. */
export const isStreamVersionConflict = (error: unknown): boolean => isUniqueViolation(error, STREAM_VERSION_KEY);

/**
 * A stream's next events, given their ids, versions and recording time by the caller
 * (once per decision), as they will be stored.
 */
export function newEnvelopes(streamId: string, fromVersion: number, events: readonly GroupEvent[], metadata: EventMetadata, recordedAt: Date): EventEnvelope[] {
  return events.map((event, i) => ({
    ...event,
    eventId: randomUUID(),
    streamId,
    version: fromVersion + i + 1,
    schemaVersion: CURRENT_SCHEMA_VERSION[event.type],
    metadata,
    recordedAt,
    globalPosition: 0n, // assigned by the database on insert
  }));
}

/**
 * The append, as a common table expression `w_events` for the caller's statement (the
 * unit of work appends and projects in one statement). Its select-list fragment
 * `positions` gives the global positions the events took, in version order. A
 * competing append of the same version fails the whole statement on the primary key
 * (see isStreamVersionConflict).
 */
export function eventInserts(events: readonly EventEnvelope[], onlyIf: RawBuilder<boolean> = sql<boolean>`true`) {
  const rows = events.map((e) => ({
    stream_id: e.streamId,
    version: e.version,
    event_id: e.eventId,
    type: e.type,
    schema_version: e.schemaVersion,
    data: e.data,
    metadata: e.metadata,
    recorded_at: e.recordedAt,
  }));
  return {
    cte: sql`w_events as (
      insert into events (stream_id, version, event_id, type, schema_version, data, metadata, recorded_at)
      select stream_id, version, event_id, type, schema_version, data, metadata, recorded_at
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as x(stream_id text, version int, event_id uuid, type text, schema_version smallint, data jsonb, metadata jsonb,
               recorded_at timestamptz)
       where ${onlyIf}
      returning version, global_position)`,
    positions: sql`(select coalesce(json_agg(global_position::text order by version), '[]') from w_events) as positions`,
  };
}

/** The columns an envelope is read from (see toEnvelope). */
export const ENVELOPE_COLUMNS = ['global_position', 'stream_id', 'version', 'event_id', 'type', 'schema_version', 'data', 'metadata', 'recorded_at'] as const;

/** ENVELOPE_COLUMNS for a raw statement, qualified by `alias` when given (constant text, never input). */
export const envelopeColumns = (alias?: string) => sql.raw(ENVELOPE_COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', '));

export interface StoredEventRow {
  global_position: bigint;
  stream_id: string;
  version: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: Date;
}

/** Decodes a stored row (upcasting old schema versions) into an envelope. */
export function toEnvelope(row: StoredEventRow): EventEnvelope {
  return {
    ...decodeGroupEvent(row.type, row.schema_version, row.data),
    eventId: row.event_id,
    streamId: row.stream_id,
    version: row.version,
    schemaVersion: row.schema_version,
    metadata: row.metadata as EventMetadata,
    recordedAt: row.recorded_at,
    globalPosition: row.global_position,
  };
}

/** Reads a stream's events with version > after, in version order. */
export async function readStream(db: Db | Tx, streamId: string, options: { after?: number; limit?: number } = {}): Promise<EventEnvelope[]> {
  let query = db
    .selectFrom('events')
    .select(ENVELOPE_COLUMNS)
    .where('stream_id', '=', streamId)
    .where('version', '>', options.after ?? 0)
    .orderBy('version');
  if (options.limit !== undefined) query = query.limit(options.limit);
  const rows = await query.execute();
  return rows.map(toEnvelope);
}
