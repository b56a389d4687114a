import type { EventEnvelope } from '../events/index.js';

/**
 * Where a reader of the whole log stands. Opaque: only the log that made it reads it,
 * and API clients never see one. Positions of one log increase along the log but have
 * gaps (KurrentDB's `$all` positions are byte offsets, unsigned 64-bit), so nothing may
 * count on them being dense.
 */
export type LogPosition = string & { readonly logPosition: unique symbol };

/** An event as the whole-log readers see it: the envelope and where it sits in the log. */
export interface PositionedEvent {
  event: EventEnvelope;
  position: LogPosition;
}

/**
 * The stream is not at the version the append expected: someone else appended first
 * (or the projection that said "version N" is behind the log). `actualVersion` is 0
 * when the stream does not exist.
 */
export class StreamVersionConflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`stream ${streamId} is at version ${actualVersion}, not ${expectedVersion}`);
    this.name = 'StreamVersionConflict';
  }
}

/**
 * The event log did not answer (an outage, a leader election that outlasted the
 * command's patience). For an append, `maybeStored` says whether its events may be in
 * the log anyway: then the log subscriber projects them once they show up, and a client
 * retrying with the same ids is answered from them, never appended twice.
 */
export class EventLogUnavailable extends Error {
  constructor(
    message: string,
    readonly maybeStored = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EventLogUnavailable';
  }
}

export interface AppendResult {
  /** The stream's version after the append (its last event's version). */
  version: number;
  /**
   * Where the last appended event sits in the whole log, when the store says (an append
   * re-sent after a lost answer may not learn it).
   */
  position: LogPosition | undefined;
}

/** A running subscription to the whole log. */
export interface LogSubscription {
  /** Resolves once the subscriber has been handed everything committed when it started. */
  readonly caughtUp: Promise<void>;
  /** Resolves when the subscription ends by close(); rejects when it fails. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Start after this position; from the beginning when absent. */
  after?: LogPosition | undefined;
  /**
   * Called with each batch of group events in log order; the next batch comes only
   * after it resolves. A rejection ends the subscription (done rejects).
   */
  onEvents: (events: PositionedEvent[]) => Promise<void>;
}

/**
 * The event log: per-group streams `group-<id>` whose versions start at 1 (KurrentDB
 * revision = version − 1), and the whole log in one order for readers who need
 * everything. Two implementations: PostgreSQL (the default; the write path appends in
 * the same transaction as the projection, see src/unit-of-work) and KurrentDB.
 */
export interface EventLog {
  readonly kind: 'postgres' | 'kurrentdb';
  /** A position before every group event: reading after it reads the whole log. */
  readonly start: LogPosition;
  /** Throws EventLogUnavailable when appends are known to fail now (a write need not even start). */
  assertAvailable(): void;
  /** Whether `text` is a position of this log (e.g. a cursor an API client sent back). */
  isPosition(text: string): text is LogPosition;
  /**
   * Appends `events` (versions expectedVersion + 1, … already set on them) to their
   * stream, which must be at exactly `expectedVersion` (0: no stream yet); there is no
   * "any". Throws StreamVersionConflict otherwise. Re-sending the same events (same
   * ids, same expected version) after an unanswered append stores nothing twice and
   * succeeds.
   */
  append(streamId: string, expectedVersion: number, events: readonly EventEnvelope[]): Promise<AppendResult>;
  /** A stream's events with version > `after` (default 0), in order, at most `limit`. */
  readStream(streamId: string, options?: { after?: number; limit?: number }): Promise<EventEnvelope[]>;
  /** Group events of the whole log after `after` (from the start when absent), at most `limit`, in log order. */
  readAll(options: { after?: LogPosition | undefined; limit: number }): Promise<PositionedEvent[]>;
  /** Follows the whole log's group events from a position: history first, then live. */
  subscribe(options: SubscribeOptions): LogSubscription;
  /** The position of the whole log's last group event now; undefined for an empty log. */
  head(): Promise<LogPosition | undefined>;
  /** Orders two positions of this log: negative when `a` comes first, 0 when equal. */
  compare(a: LogPosition, b: LogPosition): number;
  /**
   * The envelope `globalPosition` of the event at `position`: events read from a stream
   * with a globalPosition at most this one were in the log at `position`.
   */
  globalPositionOf(position: LogPosition): bigint;
  close(): Promise<void>;
}

/** A KurrentDB stream revision for a FairShare version (versions start at 1, revisions at 0). */
export const revisionOf = (version: number): bigint => BigInt(version - 1);

/** The FairShare version of a KurrentDB stream revision. */
export const versionOf = (revision: bigint): number => Number(revision) + 1;

/** Orders two positions given as their parts, most significant first (for compare()). */
export function compareParts(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0n;
    const y = b[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The checks every log makes before an append: events of this stream, numbered on from the expected version. */
export function checkAppend(streamId: string, expectedVersion: number, events: readonly EventEnvelope[]): void {
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) throw new RangeError(`expected version ${expectedVersion}`);
  if (events.length === 0) throw new RangeError('nothing to append');
  events.forEach((e, i) => {
    if (e.streamId !== streamId) throw new RangeError(`event ${e.eventId} belongs to ${e.streamId}, not ${streamId}`);
    if (e.version !== expectedVersion + i + 1) throw new RangeError(`event ${e.eventId} has version ${e.version}, not ${expectedVersion + i + 1}`);
  });
}
