import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { decodeGroupEvent, type GroupEvent } from '../events/index.js';

export interface LoggedEvent {
  streamId: string;
  version: number;
  event: GroupEvent;
}

const BATCH = 2_000;

/**
 * Streams group events in (stream_id, version) order, a batch at a time by keyset on
 * the primary key, so memory stays flat however long the log is. Run it inside one
 * REPEATABLE READ transaction to see a single consistent snapshot while writes go on.
 */
export async function* readGroupLog(tx: Tx, options: { streamId?: string | undefined } = {}): AsyncGenerator<LoggedEvent> {
  let afterStream = '';
  let afterVersion = 0;
  for (;;) {
    let query = tx
      .selectFrom('events')
      .select(['stream_id', 'version', 'type', 'schema_version', 'data'])
      .where(sql<boolean>`(stream_id, version) > (${afterStream}, ${afterVersion})`)
      .where('stream_id', 'like', 'group-%')
      .orderBy('stream_id')
      .orderBy('version')
      .limit(BATCH);
    if (options.streamId) query = query.where('stream_id', '=', options.streamId);
    const rows = await query.execute();
    for (const row of rows) {
      yield { streamId: row.stream_id, version: row.version, event: decodeGroupEvent(row.type, row.schema_version, row.data) };
    }
    const last = rows.at(-1);
    if (!last || rows.length < BATCH) return;
    afterStream = last.stream_id;
    afterVersion = last.version;
  }
}
