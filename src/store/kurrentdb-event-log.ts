import { z } from 'zod';
import {
  KurrentDBClient,
  BACKWARDS,
  END,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  UnavailableError,
  DeadlineExceededError,
  TimeoutError,
  CancelledError,
  NotLeaderError,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type Position,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { decodeGroupEvent, EventMetadata, GROUP_STREAM_PREFIX, type EventEnvelope } from '../events/index.js';
import {
  checkAppend,
  compareParts,
  EventLogUnavailable,
  revisionOf,
  StreamVersionConflict,
  versionOf,
  type AppendResult,
  type EventLog,
  type LogPosition,
  type LogSubscription,
  type PositionedEvent,
  type SubscribeOptions,
} from './event-log.js';

/**
 * What FairShare stores in a KurrentDB event's metadata besides the request's own
 * metadata: the payload's schema version and when the decision was made (the
 * server's `created` is when it stored the event, which a re-sent append may move).
 */
const StoredMetadata = EventMetadata.extend({ schemaVersion: z.number().int().min(1), recordedAt: z.iso.datetime({ offset: true }) });
type StoredMetadata = z.infer<typeof StoredMetadata>;

/** Only group streams: the server filters `$all` by this prefix. */
const GROUP_STREAMS = () => streamNameFilter({ prefixes: [GROUP_STREAM_PREFIX] });

/**
 * Before every group event: `$all` begins with the server's own records (its first
 * epoch), so no FairShare event is ever at 0/0.
 */
const KURRENT_START = '0/0' as LogPosition;

/**
 * The event log in KurrentDB (formerly EventStoreDB), through the maintained client
 * `@kurrent/kurrentdb-client`. Streams are `group-<id>`; FairShare version v is stream
 * revision v − 1. Appends always carry the exact expected revision (no_stream for a
 * new group), never "any": that is the concurrency guard. Positions are `$all`
 * positions (commit and prepare, unsigned 64-bit, with gaps), written `<commit>/<prepare>`.
 */
export interface KurrentDbEventLogOptions {
  /**
   * How long one append may take in all, re-sends included (default 5,000 ms). A command
   * holds its group's lock and a database connection meanwhile, so an outage must not
   * hold them for the client's own 10 s deadline times every re-send.
   */
  appendTimeoutMs?: number;
  /** After an append ran out of time, further appends fail at once for this long (default 1,000 ms). */
  failFastMs?: number;
}

export class KurrentDbEventLog implements EventLog {
  readonly kind = 'kurrentdb';
  readonly start = KURRENT_START;
  private readonly appendTimeoutMs: number;
  private readonly failFastMs: number;
  /** Until when appends fail without trying: the log just failed to answer one. */
  private downUntil = 0;
  /** Appends and subscriptions (the client's gRPC channel, which reconnects by itself). */
  private readonly client: KurrentDBClient;
  /**
   * Reads (the client sends them through its native bridge, whose connection does not
   * come back once it has failed: a client made while the server was down never reads).
   * Replaced after a read finds the server unreachable.
   */
  private reader: KurrentDBClient;
  private readerMadeAt = Date.now();

  private constructor(
    private readonly makeClient: () => KurrentDBClient,
    options: KurrentDbEventLogOptions,
  ) {
    this.client = makeClient();
    this.reader = makeClient();
    this.appendTimeoutMs = options.appendTimeoutMs ?? 5_000;
    this.failFastMs = options.failFastMs ?? 1_000;
  }

  static connect(connectionString: string, options: KurrentDbEventLogOptions = {}): KurrentDbEventLog {
    return new KurrentDbEventLog(() => KurrentDBClient.connectionString`${connectionString}`, options);
  }

  /** A read that got no answer: EventLogUnavailable, and a fresh reader for the next read (at most one a second). */
  private readFailed(error: unknown): unknown {
    if (!isAmbiguous(error)) return error;
    if (Date.now() - this.readerMadeAt >= 1_000) {
      const broken = this.reader;
      this.reader = this.makeClient();
      this.readerMadeAt = Date.now();
      broken.dispose().catch(() => undefined);
    }
    return new EventLogUnavailable('the KurrentDB event log cannot be reached', false, { cause: error });
  }

  assertAvailable(): void {
    if (Date.now() < this.downUntil) {
      throw new EventLogUnavailable('the KurrentDB event log did not answer an append moments ago; not trying again yet', false);
    }
  }

  async append(streamId: string, expectedVersion: number, events: readonly EventEnvelope[]): Promise<AppendResult> {
    checkAppend(streamId, expectedVersion, events);
    this.assertAvailable();
    const data = events.map((e) =>
      jsonEvent({
        id: e.eventId,
        type: e.type,
        data: e.data,
        metadata: { ...e.metadata, schemaVersion: e.schemaVersion, recordedAt: e.recordedAt.toISOString() } satisfies StoredMetadata,
      }),
    );
    const streamState = expectedVersion === 0 ? NO_STREAM : revisionOf(expectedVersion);
    const giveUpAt = Date.now() + this.appendTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        // The client's deadline reaches only the server: a server gone silent (a
        // partition) would hold this command until gRPC keepalive gives up. So the
        // command stops waiting at its budget; the append may still land, and is then
        // repaired like any other unanswered one.
        const result = await withinBudget(
          this.client.appendToStream(streamId, data, { streamState, deadline: Math.max(100, giveUpAt - Date.now()) }),
          giveUpAt - Date.now(),
        );
        this.downUntil = 0;
        return { version: versionOf(result.nextExpectedRevision), position: result.position ? positionOf(result.position) : undefined };
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) {
          const actual = error.actualState;
          throw new StreamVersionConflict(streamId, expectedVersion, typeof actual === 'bigint' ? versionOf(actual) : 0);
        }
        if (error instanceof OutOfTime) {
          this.downUntil = Date.now() + this.failFastMs;
          throw new EventLogUnavailable(`the KurrentDB event log did not answer an append to ${streamId} within ${this.appendTimeoutMs} ms`, true, {
            cause: error,
          });
        }
        if (!isAmbiguous(error)) throw error;
        // No answer: the events may or may not be stored. The same events (same ids)
        // at the same expected revision again are stored at most once, so re-send them,
        // for as long as the command may wait.
        const pause = Math.min(1_000, 50 * 2 ** attempt);
        if (Date.now() + pause >= giveUpAt) {
          this.downUntil = Date.now() + this.failFastMs;
          throw new EventLogUnavailable(`the KurrentDB event log did not answer an append to ${streamId} within ${this.appendTimeoutMs} ms`, true, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  async readStream(streamId: string, options: { after?: number; limit?: number } = {}): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    try {
      const read = this.reader.readStream(streamId, {
        // Version `after` + 1 is revision `after`.
        fromRevision: options.after ? BigInt(options.after) : START,
        ...(options.limit === undefined ? {} : { maxCount: options.limit }),
      });
      for await (const resolved of read) out.push(toEnvelope(resolved));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw this.readFailed(error);
    }
    return out;
  }

  async readAll(options: { after?: LogPosition | undefined; limit: number }): Promise<PositionedEvent[]> {
    const after = fromPosition(options.after);
    // Reading from a position includes the event at it: one more, and that one dropped.
    const read = this.reader.readAll({ fromPosition: after ?? START, maxCount: options.limit + (after ? 1 : 0), filter: GROUP_STREAMS() });
    const out: PositionedEvent[] = [];
    try {
      for await (const resolved of read) {
        const position = (resolved as AllStreamResolvedEvent).event?.position;
        if (!position || (after && samePosition(position, after))) continue;
        out.push({ event: toEnvelope(resolved), position: positionOf(position) });
      }
    } catch (error) {
      throw this.readFailed(error);
    }
    return out.slice(0, options.limit);
  }

  subscribe(options: SubscribeOptions): LogSubscription {
    const after = fromPosition(options.after);
    const subscription = this.client.subscribeToAll({ fromPosition: after ?? START, filter: GROUP_STREAMS() });
    let markCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    // The server says "caught up" as soon as it has sent the history, while events may
    // still wait in the stream's buffer or in the handler: caught up is when those are
    // handled too. (Checked after the pending microtasks, in which the loop below takes
    // an event it was already handed.)
    let handling = false;
    const whenHandled = () => {
      if (!handling && subscription.readableLength === 0) markCaughtUp();
      else setTimeout(whenHandled, 5).unref();
    };
    subscription.on('caughtUp', () => setImmediate(whenHandled));
    let closing = false;
    const done = (async () => {
      try {
        for await (const resolved of subscription) {
          handling = true;
          const position = resolved.event?.position;
          if (position && !(after && samePosition(position, after))) {
            await options.onEvents([{ event: toEnvelope(resolved), position: positionOf(position) }]);
          }
          handling = false;
        }
      } catch (error) {
        if (!closing) throw error;
      }
    })();
    done.catch(() => undefined); // observed by whoever awaits done
    return {
      caughtUp,
      done,
      async close() {
        closing = true;
        await subscription.unsubscribe();
        await done.catch(() => undefined);
      },
    };
  }

  async head(): Promise<LogPosition | undefined> {
    try {
      for await (const resolved of this.reader.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1, filter: GROUP_STREAMS() })) {
        const position = (resolved as AllStreamResolvedEvent).event?.position;
        if (position) return positionOf(position);
      }
    } catch (error) {
      throw this.readFailed(error);
    }
    return undefined;
  }

  isPosition(text: string): text is LogPosition {
    if (!POSITION.test(text)) return false;
    // Unsigned 64-bit, and an event's prepare never comes after its commit.
    const { commit, prepare } = parsePosition(text as LogPosition);
    return commit <= 0xffffffffffffffffn && prepare <= commit;
  }

  globalPositionOf(position: LogPosition): bigint {
    return parsePosition(position).commit;
  }

  compare(a: LogPosition, b: LogPosition): number {
    const [x, y] = [parsePosition(a), parsePosition(b)];
    return compareParts([x.commit, x.prepare], [y.commit, y.prepare]);
  }

  async close(): Promise<void> {
    await Promise.all([this.client.dispose(), this.reader.dispose()]);
  }
}

/** gRPC status codes of a call that got no answer: DEADLINE_EXCEEDED, UNAVAILABLE. */
const NO_ANSWER_CODES = new Set([4, 14]);

/**
 * An append that got no answer (its events may be stored or not). The client wraps
 * most of these in its own error classes, but not all: once an outage has begun, its
 * server-features probe fails with the raw gRPC error.
 */
const isAmbiguous = (error: unknown) =>
  (error instanceof Error && NO_ANSWER_CODES.has((error as Error & { code?: unknown }).code as number)) ||
  error instanceof UnavailableError ||
  error instanceof DeadlineExceededError ||
  error instanceof TimeoutError ||
  error instanceof CancelledError ||
  error instanceof NotLeaderError;

/** An append attempt that outlived the command's budget. */
class OutOfTime extends Error {}

/** `call`, or OutOfTime once `ms` have passed (the call itself goes on, unobserved). */
async function withinBudget<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutOfTime(`no answer within ${ms} ms`)), Math.max(0, ms));
  });
  call.catch(() => undefined);
  try {
    return await Promise.race([call, outOfTime]);
  } finally {
    clearTimeout(timer);
  }
}

const positionOf = (p: Position) => `${p.commit}/${p.prepare}` as LogPosition;
const samePosition = (a: Position, b: Position) => a.commit === b.commit && a.prepare === b.prepare;
const POSITION = /^(0|[1-9][0-9]{0,19})\/(0|[1-9][0-9]{0,19})$/;

/** Where a read after `position` starts: undefined (the start) for none or for `start`. */
const fromPosition = (position: LogPosition | undefined): Position | undefined =>
  position === undefined || position === KURRENT_START ? undefined : parsePosition(position);

function parsePosition(position: LogPosition): Position {
  const match = POSITION.exec(position);
  if (!match) throw new RangeError(`not a position of the KurrentDB log: ${position}`);
  return { commit: BigInt(match[1] as string), prepare: BigInt(match[2] as string) };
}

function toEnvelope(resolved: ResolvedEvent): EventEnvelope {
  const recorded = resolved.event;
  if (!recorded) throw new Error('a KurrentDB read returned a link without its event');
  const { schemaVersion, recordedAt, ...rest } = StoredMetadata.parse(recorded.metadata);
  return {
    ...decodeGroupEvent(recorded.type, schemaVersion, recorded.data),
    eventId: recorded.id,
    streamId: recorded.streamId,
    version: versionOf(recorded.revision),
    schemaVersion,
    metadata: rest,
    recordedAt: new Date(recordedAt),
    globalPosition: recorded.position?.commit ?? 0n,
  };
}
