import cliProgress from 'cli-progress';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { streamIdOf } from '../events/index.js';

export interface Progress {
  update(progress: { events: number; groups: number }): void;
  stop(): void;
}

const quiet: Progress = { update: () => {}, stop: () => {} };

/**
 * A progress bar on stderr over the events a run will read, for people at a terminal.
 * Quiet when stderr is not a TTY (cli-progress renders nothing there) or when asked.
 */
export async function eventProgress(db: Db, label: string, options: { groupId?: string | undefined; quiet?: boolean | undefined }): Promise<Progress> {
  if (options.quiet || !process.stderr.isTTY) return quiet;
  const total = await estimateEvents(db, options.groupId);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | {groups} groups | {duration_formatted}`,
      etaBuffer: 50,
      clearOnComplete: false,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { groups: 0 });
  return {
    update: ({ events, groups }) => bar.update(Math.min(events, total), { groups }),
    stop: () => bar.stop(),
  };
}

/** The planner's estimate for the whole log (counting millions of rows just for a bar is waste). */
async function estimateEvents(db: Db, groupId: string | undefined): Promise<number> {
  if (groupId !== undefined) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from events where stream_id = ${streamIdOf(groupId)}`.execute(db);
    return rows[0]?.n ?? 0;
  }
  const { rows } = await sql<{ n: number }>`
    select case when c.reltuples > 0 then c.reltuples::bigint::int else (select count(*)::int from events) end as n
      from pg_class c where c.oid = 'events'::regclass`.execute(db);
  return rows[0]?.n ?? 0;
}
