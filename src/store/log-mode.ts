import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Refuses a database that was run with the other kind of event log. Its projection is
 * only right against the log it was built from: a PostgreSQL-mode database in KurrentDB
 * mode finds every group's stream missing (each write conflicts), and a KurrentDB-mode
 * database in PostgreSQL mode has no events at all (a rebuild would remove every group).
 */
export async function assertEventLogMode(db: Db, kind: 'postgres' | 'kurrentdb'): Promise<void> {
  const { rows } = await sql<{ events: boolean; groups: boolean }>`
    select exists (select 1 from events) as events, exists (select 1 from groups) as groups`.execute(db);
  const { events, groups } = rows[0] as { events: boolean; groups: boolean };
  if (kind === 'kurrentdb' && events) {
    throw new Error(
      'this database keeps its events in PostgreSQL (its events table is not empty), but FAIRSHARE_EVENT_LOG=kurrentdb: ' +
        'run it with FAIRSHARE_EVENT_LOG=postgres, or copy its events into KurrentDB and start from a database without them',
    );
  }
  if (kind === 'postgres' && groups && !events) {
    throw new Error(
      'this database holds groups but no events: it was run with FAIRSHARE_EVENT_LOG=kurrentdb (its events are in KurrentDB); ' +
        'set FAIRSHARE_EVENT_LOG=kurrentdb and KURRENTDB_URL again',
    );
  }
}
