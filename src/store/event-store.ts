import { sql } from 'kysely';
import {
  CURRENT_SCHEMA_VERSION,
  decodeGroupEvent,
  type EventEnvelope,
  type EventMetadata,
  type GroupEvent,
} from '../events/index.js';
import type { Db, Tx } from '../db/database.js';
import { randomUUID } from 'node:crypto';

/** The stream moved on between reading its version and appending (or it already exists). */
export class StreamVersionConflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is no longer at version ${expectedVersion}`);
  }
}

const UNIQUE_VIOLATION = '23505';

/**
 * Appends events to a stream inside the caller's transaction, at versions
 * expectedVersion+1 … . The (stream_id, version) primary key is the optimistic
 * concurrency check: a competing append of the same version fails here.
 */
export async function appendToStream(
  tx: Tx,
  streamId: string,
  expectedVersion: number,
  events: readonly GroupEvent[],
  metadata: EventMetadata,
): Promise<EventEnvelope[]> {
  if (events.length === 0) return [];
  const meta = JSON.stringify(metadata);
  const rows = events.map((event, i) => ({
    stream_id: streamId,
    version: expectedVersion + i + 1,
    event_id: randomUUID(),
    type: event.type,
    schema_version: CURRENT_SCHEMA_VERSION[event.type],
    data: JSON.stringify(event.data),
    metadata: meta,
  }));
  try {
    const inserted = await tx
      .insertInto('events')
      .values(rows)
      .returning(['version', 'event_id', 'global_position', 'recorded_at'])
      .execute();
    return inserted.map((row, i) => ({
      ...(events[i] as GroupEvent),
      eventId: row.event_id,
      streamId,
      version: row.version,
      schemaVersion: CURRENT_SCHEMA_VERSION[(events[i] as GroupEvent).type],
      metadata,
      recordedAt: row.recorded_at,
      globalPosition: row.global_position,
    }));
  } catch (error) {
    if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
      throw new StreamVersionConflict(streamId, expectedVersion);
    }
    throw error;
  }
}

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
export async function readStream(
  db: Db | Tx,
  streamId: string,
  options: { after?: number; limit?: number } = {},
): Promise<EventEnvelope[]> {
  let query = db
    .selectFrom('events')
    .select(['global_position', 'stream_id', 'version', 'event_id', 'type', 'schema_version', 'data', 'metadata', 'recorded_at'])
    .where('stream_id', '=', streamId)
    .where('version', '>', options.after ?? 0)
    .orderBy('version');
  if (options.limit !== undefined) query = query.limit(options.limit);
  const rows = await query.execute();
  return rows.map(toEnvelope);
}

/** The `group_changed` notification's payload; `rebuilt` marks a repair at the same version. */
export const groupChangedPayload = (groupId: string, version: number, rebuilt = false): string =>
  JSON.stringify(rebuilt ? { groupId, version, rebuilt } : { groupId, version });

/** Tells listeners (in any process) that a group changed; delivered only on commit. */
export async function notifyGroupChanged(tx: Tx, groupId: string, version: number, rebuilt = false): Promise<void> {
  await sql`select pg_notify('group_changed', ${groupChangedPayload(groupId, version, rebuilt)})`.execute(tx);
}
