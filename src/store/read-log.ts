import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { decodeGroupEvent, GROUP_STREAMS_LIKE, type EventEnvelope, type GroupEvent } from '../events/index.js';
import { ENVELOPE_COLUMNS, toEnvelope } from './event-store.js';

export interface ReadLogOptions {
  /** Only this stream. */
  streamId?: string | undefined;
  batchSize?: number | undefined;
}

/** An event as a fold needs it: where it sits in its stream and what it says. */
export interface LoggedEvent {
  streamId: string;
  version: number;
  event: GroupEvent;
}

const ENVELOPE = ENVELOPE_COLUMNS;
const FACT = ['stream_id', 'version', 'type', 'schema_version', 'data'] as const;

/**
 * Streams group events in (stream_id, version) order, a batch at a time by keyset on
 * the primary key, so memory stays flat however long the log is. The next batch is
 * requested as soon as the current one arrives, so the database works while this
 * process decodes. Events are immutable and versions contiguous, so a stream read
 * across batches is never torn; run it inside one REPEATABLE READ transaction to see the
 * whole log as of one instant.
 */
export async function* readLogInStreamOrder(db: Db | Tx, options: ReadLogOptions = {}): AsyncGenerator<EventEnvelope> {
  for await (const rows of batches(db, ENVELOPE, options)) for (const row of rows) yield toEnvelope(row);
}

/** The same order, reading only what a fold needs (no metadata, ids or timestamps). */
export async function* readFactsInStreamOrder(db: Db | Tx, options: ReadLogOptions = {}): AsyncGenerator<LoggedEvent> {
  for await (const rows of batches(db, FACT, options)) {
    for (const row of rows) yield { streamId: row.stream_id, version: row.version, event: decodeGroupEvent(row.type, row.schema_version, row.data) };
  }
}

async function* batches<C extends readonly (typeof ENVELOPE)[number][]>(db: Db | Tx, columns: C, options: ReadLogOptions) {
  const size = options.batchSize ?? 5_000;
  const fetch = (afterStream: string, afterVersion: number) => {
    let query = db
      .selectFrom('events')
      .select(columns)
      .where(sql<boolean>`(stream_id, version) > (${afterStream}, ${afterVersion})`)
      .where('stream_id', 'like', GROUP_STREAMS_LIKE)
      .orderBy('stream_id')
      .orderBy('version')
      .limit(size);
    if (options.streamId !== undefined) query = query.where('stream_id', '=', options.streamId);
    return query.execute();
  };
  let pending = fetch('', 0);
  for (;;) {
    const rows = await pending;
    const last = rows.at(-1);
    const more = last !== undefined && rows.length === size;
    if (more) pending = fetch(last.stream_id, last.version);
    yield rows;
    if (!more) return;
  }
}
