import { sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import { poolOf, type Db } from '../db/database.js';
import type { EventLog, LogPosition, LogSubscription, PositionedEvent } from '../store/event-log.js';
import { projectLogged } from './project-logged.js';

export interface LogSubscriberOptions {
  /** The checkpoint's name (one per deployment and log). */
  name?: string;
  /** How long a standby waits before it asks for the lead again, and a broken subscription before it resubscribes. */
  retryMs?: number;
  /** The longest wait between attempts while the same trouble goes on (it doubles from retryMs up to this); default 30 s. */
  maxRetryMs?: number;
}

/** An event the projection could not take (the projector refused it, or the database failed while applying it). */
export class ApplyFailed extends Error {
  constructor(
    readonly event: PositionedEvent['event'],
    options: { cause: unknown },
  ) {
    super(`cannot apply ${event.streamId} version ${event.version} (${event.type})`, options);
    this.name = 'ApplyFailed';
  }
}

/** The checkpoint moved under this subscriber: another one is projecting. */
export class LostLead extends Error {}

/**
 * The repair path with an external event log (KurrentDB). One subscriber per
 * deployment projects (every server runs one; an advisory lock held on its own
 * connection elects the leader, the rest wait as standbys and take over when its
 * connection ends). The leader follows the whole log's group events from the
 * checkpoint stored in PostgreSQL and applies each event in one transaction together
 * with a compare-and-set of the checkpoint. Events the projection already has (the
 * inline write path projected them) are skipped: the subscriber only fills in what a
 * command appended but did not manage to project (a crash, a lost connection between
 * the append and the commit). The inline write path never moves the checkpoint.
 */
export class LogSubscriber {
  private readonly name: string;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private closed = false;
  private lockClient: pg.PoolClient | undefined;
  private subscription: LogSubscription | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Counts for logs and tests. */
  readonly stats = { applied: 0, skipped: 0, resubscribed: 0, consecutiveFailures: 0 };
  private leading = false;

  constructor(
    private readonly db: Db,
    private readonly eventLog: EventLog,
    private readonly logger: Logger,
    options: LogSubscriberOptions = {},
  ) {
    this.name = options.name ?? 'projector';
    this.retryMs = options.retryMs ?? 1_000;
    this.maxRetryMs = Math.max(this.retryMs, options.maxRetryMs ?? 30_000);
  }

  /** Whether this process holds the lead now. */
  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running ??= this.run();
  }

  /**
   * Resolves once this subscriber leads and has applied everything the log held when it
   * subscribed; rejects if that subscription ends first (it then resubscribes: ask again).
   */
  async caughtUp(): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('the log subscriber is closed');
      const subscription = this.subscription;
      if (subscription) {
        return Promise.race([subscription.caughtUp, subscription.done.then(() => Promise.reject(new Error('the log subscription ended before it caught up')))]);
      }
      await new Promise((resolve) => setTimeout(resolve, 20).unref());
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (!(await this.lead())) {
          await this.pause(this.retryMs);
          continue;
        }
        const from = await this.checkpoint();
        // close() may have come while this waited: subscribe no more.
        if (this.closed) break;
        let at = from;
        const subscription = this.eventLog.subscribe({
          after: from,
          onEvents: async (events) => {
            for (const event of events) {
              try {
                at = await this.apply(event, at);
              } catch (error) {
                throw error instanceof LostLead ? error : new ApplyFailed(event.event, { cause: error });
              }
              this.stats.consecutiveFailures = 0;
            }
          },
        });
        this.subscription = subscription;
        // Caught up without tripping: whatever went wrong before is over.
        void subscription.caughtUp.then(() => (this.stats.consecutiveFailures = 0));
        await subscription.done;
        this.subscription = undefined;
      } catch (error) {
        this.subscription = undefined;
        if (this.closed) break;
        this.stats.resubscribed += 1;
        // Only an event that cannot be applied waits longer each time; a lost connection
        // or lead is tried again at the usual pace, so repairs resume soon after an outage.
        if (error instanceof ApplyFailed) this.stats.consecutiveFailures += 1;
        const retryMs =
          error instanceof ApplyFailed ? Math.min(this.maxRetryMs, this.retryMs * 2 ** Math.min(20, this.stats.consecutiveFailures - 1)) : this.retryMs;
        if (error instanceof ApplyFailed) {
          // The same event will fail again until someone mends what it trips over: the
          // group's projection stays behind its log meanwhile (verify reports it as lag).
          this.logger.error(
            { err: error.cause, checkpoint: this.name, stream: error.event.streamId, version: error.event.version, type: error.event.type, retryMs },
            'log subscriber cannot apply an event; the projection stays behind the log until it can (see replay verify, replay rebuild --group)',
          );
        } else {
          this.logger.warn({ err: error, checkpoint: this.name, retryMs }, 'log subscriber stopped; resubscribing from the checkpoint');
        }
        if (error instanceof LostLead) await this.release();
        await this.pause(retryMs);
      }
    }
    await this.release();
  }

  /** Takes the lead if nobody holds it; keeps it while its connection lives. */
  private async lead(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await poolOf(this.db).connect();
    client.on('error', () => undefined); // the lock is gone with the connection; run() notices on its next use
    const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [`fairshare-log-subscriber:${this.name}`]);
    if (!rows[0]?.ok) {
      client.release();
      return false;
    }
    this.lockClient = client;
    this.leading = true;
    this.logger.info({ checkpoint: this.name }, 'log subscriber leads');
    return true;
  }

  private async release(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = undefined;
    this.leading = false;
    // Closing the connection ends its session and so its advisory lock.
    client?.release(true);
  }

  private async checkpoint(): Promise<LogPosition | undefined> {
    const row = await this.db.selectFrom('log_checkpoints').select('position').where('name', '=', this.name).executeTakeFirst();
    return row?.position as LogPosition | undefined;
  }

  /** Applies one event and moves the checkpoint from `from` to it, in one transaction. */
  private async apply({ event, position }: PositionedEvent, from: LogPosition | undefined): Promise<LogPosition> {
    const result = await this.db.transaction().execute(async (tx) => {
      const moved =
        from === undefined
          ? await sql`insert into log_checkpoints (name, position) values (${this.name}, ${position}) on conflict (name) do nothing`.execute(tx)
          : await sql`update log_checkpoints set position = ${position}, updated_at = now() where name = ${this.name} and position = ${from}`.execute(tx);
      if (Number(moved.numAffectedRows ?? 0) !== 1) throw new LostLead(`the ${this.name} checkpoint moved away from ${from ?? 'the start'}`);
      return projectLogged(tx, [event]);
    });
    this.stats.applied += result.applied;
    this.stats.skipped += result.skipped;
    await this.pruneChanges();
    if (result.applied > 0) {
      this.logger.info(
        { stream: event.streamId, version: event.version, type: event.type, rowsProjected: result.rows, position },
        'log subscriber repaired the projection',
      );
    }
    return position;
  }

  private prunedAt = 0;

  /**
   * Every projected commit leaves a row in projection_changes for the log tails of the
   * server processes, which read it within moments; the leader removes old ones now and
   * then (a rebuild's rows are kept a day, see rebuild.ts).
   */
  private async pruneChanges(): Promise<void> {
    if (Date.now() - this.prunedAt < 60_000) return;
    this.prunedAt = Date.now();
    await sql`delete from projection_changes where not rebuilt and recorded_at < now() - interval '10 minutes'`.execute(this.db);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, ms).unref();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.subscription?.close();
    await this.running;
  }
}
