import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { EventEnvelope } from '../events/index.js';
import { toEnvelope } from './event-store.js';

export interface ReadLogOptions {
  /** Only this stream. */
  streamId?: string | undefined;
  /** Start after this stream (all of its events are skipped). */
  afterStream?: string | undefined;
  batchSize?: number | undefined;
}

/**
 * Streams group events in (stream_id, version) order, a batch at a time by keyset on
 * the primary key, so memory stays flat however long the log is. Events are immutable
 * and versions contiguous, so a stream read across batches is never torn; run it inside
 * one REPEATABLE READ transaction to see the whole log as of one instant.
 */
export async function* readLogInStreamOrder(db: Db | Tx, options: ReadLogOptions = {}): AsyncGenerator<EventEnvelope> {
  const batchSize = options.batchSize ?? 2_000;
  let afterStream = options.afterStream ?? '';
  let afterVersion = options.afterStream === undefined ? 0 : 2 ** 31 - 1;
  for (;;) {
    let query = db
      .selectFrom('events')
      .select(['global_position', 'stream_id', 'version', 'event_id', 'type', 'schema_version', 'data', 'metadata', 'recorded_at'])
      .where(sql<boolean>`(stream_id, version) > (${afterStream}, ${afterVersion})`)
      .where('stream_id', 'like', 'group-%')
      .orderBy('stream_id')
      .orderBy('version')
      .limit(batchSize);
    if (options.streamId !== undefined) query = query.where('stream_id', '=', options.streamId);
    const rows = await query.execute();
    for (const row of rows) yield toEnvelope(row);
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) return;
    afterStream = last.stream_id;
    afterVersion = last.version;
  }
}
