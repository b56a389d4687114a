import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandContext, CommandOutcome, CommandResult, HandlerDeps } from '../unit-of-work/command-handler.js';
import type { LiveChanges } from '../live/live-changes.js';
import type { Db } from '../db/database.js';
import type { EventLog } from '../store/event-log.js';
import type { RouteRateLimits } from './rate-limits.js';
import type { DeviceStreams } from './device-streams.js';
import { currentUser } from './auth.js';
import { parseIfMatch } from './http-cache.js';

export interface ApiDeps extends HandlerDeps {
  db: Db;
  changes: LiveChanges;
  /** The event log for the routes that read it: `eventLog` when there is one, else PostgreSQL's. */
  log: EventLog;
  /** Injected so tests can pin time; the deciders never read a clock themselves. */
  clock: () => Date;
  /** Injected so tests can make ids predictable. */
  newId: () => string;
  /** Closers of open server-sent-event streams, ended when the server shuts down. */
  liveStreams: Set<() => void>;
  /** True once the server has begun shutting down (and ended the streams then open). */
  closing: () => boolean;
  /** At most this many live streams open at once per bearer token; the count per token hash. */
  liveStreamsPerToken: number;
  /** Route configs for @fastify/rate-limit (see rate-limits.ts). */
  rateLimits: RouteRateLimits;
  liveStreamsByToken: Map<string, number>;
  /** Open live streams by device, so revoking a device ends them. */
  deviceStreams: DeviceStreams;
  operatorTokens: readonly string[];
  /** Resolves when the database answers, on a connection of the readiness check's own. */
  ready: () => Promise<unknown>;
}

/** The command context of a write request: who, which group, retry and concurrency headers. */
export function commandContext(
  request: FastifyRequest<{ Headers: { 'if-match'?: string | undefined; 'idempotency-key'?: string | undefined } }>,
  groupId: string,
): CommandContext {
  return {
    groupId,
    actorUserId: currentUser(request).userId,
    requestId: String(request.id),
    ifMatch: parseIfMatch(request.headers['if-match']),
    idempotencyKey: request.headers['idempotency-key'],
    requestFingerprint: { method: request.method, url: request.url, body: request.body ?? null },
  };
}

/**
 * Answers a command: its outcome as `present` shows it (a replayed outcome exactly as the
 * first), or the answer stored for an Idempotency-Key from before outcomes were kept.
 */
export function sendResult(reply: FastifyReply, result: CommandResult, present: (outcome: CommandOutcome) => { status: number; body: unknown }): FastifyReply {
  const { status, body } = 'storedResponse' in result ? result.storedResponse : present(result.outcome);
  return reply.code(status).send(body);
}
