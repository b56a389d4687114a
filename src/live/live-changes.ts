// Change announcements for this process's live streams, from the log itself.
//
// No NOTIFY in the write transaction (PostgreSQL serialises the commits of notifying
// transactions). Instead:
// - a command that commits here tells this process's streams at once, with the
//   balances it already holds (`committed`);
// - one loop per process tails the gap-safe global feed (only stream and version, one
//   query at most every `idleMs` while idle, at once again after a full batch) and hears
//   every other process's commits and every rebuild;
// - a change is read once per process, and the same view goes to every open stream of
//   that group; (group, version) pairs already shown are dropped.
// Only groups with an open stream are tracked, so memory follows the open streams.
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { readGroupView, type BalanceRow } from '../read-model/group-reads.js';
import { readChanges, tailHead, type TailPosition } from '../store/global-feed.js';

/** A group's balances at a version, as every live stream of the group is sent them. */
export interface GroupView {
  groupId: string;
  currency: string;
  version: number;
  /** Rebuilds of the group's rows: a repair at the same version is a new view. */
  epoch: number;
  balances: BalanceRow[];
}

type Listener = (view: GroupView) => void;
/** Told the id of every group that changed, whether or not a stream of it is open. */
type AnyListener = (groupId: string) => void;

interface Watched {
  listeners: Set<Listener>;
  shown: { version: number; epoch: number } | undefined;
  reading: Promise<void> | undefined;
  again: boolean;
}

export interface LiveChangesOptions {
  /** How long the tail waits between queries while nothing is new (ms). */
  idleMs?: number;
  /** Changes read per query. */
  batch?: number;
}

/** True when `view` is newer than what was shown (a later version, or a rebuild of the same one). */
export const isNewer = (view: { version: number; epoch: number }, shown: { version: number; epoch: number } | undefined): boolean =>
  !shown || view.version > shown.version || (view.version === shown.version && view.epoch > shown.epoch);

export class LiveChanges {
  private readonly watched = new Map<string, Watched>();
  private readonly anyListeners = new Set<AnyListener>();
  private position: TailPosition | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private failures = 0;
  private readonly idleMs: number;
  private readonly batch: number;
  /** Tail queries run, changes they found, and views read for open streams. */
  readonly stats = { polls: 0, changes: 0, reads: 0 };

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    options: LiveChangesOptions = {},
  ) {
    this.idleMs = options.idleMs ?? 50;
    this.batch = options.batch ?? 500;
  }

  /** Starts tailing at the log's current end. */
  async start(): Promise<void> {
    this.position = await tailHead(this.db);
    this.logger.info({ idleMs: this.idleMs }, 'announcing changes from the log');
    this.schedule(this.idleMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.polling;
    await Promise.all([...this.watched.values()].map((w) => w.reading));
  }

  /** Calls `listener` with every newer view of the group from now on, from any process. */
  subscribe(groupId: string, listener: Listener): () => void {
    let watched = this.watched.get(groupId);
    if (!watched) {
      watched = { listeners: new Set(), shown: undefined, reading: undefined, again: false };
      this.watched.set(groupId, watched);
    }
    watched.listeners.add(listener);
    const w = watched;
    return () => {
      w.listeners.delete(listener);
      if (w.listeners.size === 0 && this.watched.get(groupId) === w) this.watched.delete(groupId);
    };
  }

  /**
   * Calls `listener` with the id of every group that changes from now on, from any
   * process (home streams: a user's groups, and groups they are added to). The same
   * change may be told twice (once from this process's command, once from the tail).
   */
  subscribeAny(listener: AnyListener): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  /** This process committed a change: its streams hear it at once, without a read. */
  committed(view: GroupView): void {
    const watched = this.watched.get(view.groupId);
    if (watched) this.deliver(watched, view);
    this.tellAny(view.groupId);
  }

  private tellAny(groupId: string): void {
    for (const listener of [...this.anyListeners]) {
      try {
        listener(groupId);
      } catch (error) {
        this.logger.warn({ err: error, groupId }, 'a live stream could not take a change');
      }
    }
  }

  private deliver(watched: Watched, view: GroupView): void {
    if (!isNewer(view, watched.shown)) return;
    watched.shown = { version: view.version, epoch: view.epoch };
    for (const listener of [...watched.listeners]) {
      try {
        listener(view);
      } catch (error) {
        // One stream's failure must not keep the view from the others (or end the process).
        this.logger.warn({ err: error, groupId: view.groupId }, 'a live stream could not take a change');
      }
    }
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => (this.polling = undefined));
    }, delay);
  }

  private async poll(): Promise<void> {
    let delay = this.idleMs;
    try {
      const { changes, next, full } = await readChanges(this.db, this.position as TailPosition, this.batch);
      this.position = next;
      this.stats.polls += 1;
      this.stats.changes += changes.length;
      for (const change of changes) {
        const watched = this.watched.get(change.groupId);
        if (watched && (change.rebuilt || !watched.shown || change.version > watched.shown.version)) this.refresh(change.groupId, watched);
      }
      if (this.anyListeners.size > 0) for (const groupId of new Set(changes.map((c) => c.groupId))) this.tellAny(groupId);
      if (full) delay = 0;
      if (this.failures > 0) this.logger.info({ failures: this.failures }, 'the log tail is back');
      this.failures = 0;
    } catch (error) {
      // The position stays where it was: nothing is missed, only delayed.
      this.failures += 1;
      if (this.failures === 1) this.logger.warn({ err: error }, 'the log tail cannot read the log; retrying');
      delay = Math.min(5_000, 100 * 2 ** this.failures);
    }
    this.schedule(delay);
  }

  /** Reads the group's view once for all its streams; a burst of changes collapses into one more read. */
  private refresh(groupId: string, watched: Watched): void {
    if (watched.reading) {
      watched.again = true;
      return;
    }
    watched.reading = (async () => {
      do {
        watched.again = false;
        this.stats.reads += 1;
        const found = await readGroupView(this.db, groupId).catch((error: unknown) => {
          this.logger.warn({ err: error, groupId }, 'reading a changed group for its live streams failed');
          return undefined;
        });
        if (found)
          this.deliver(watched, { groupId, currency: found.group.currency, version: found.group.version, epoch: found.group.epoch, balances: found.balances });
      } while (watched.again && !this.closed);
    })().finally(() => (watched.reading = undefined));
  }
}
