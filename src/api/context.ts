import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandContext, HandlerDeps, Response } from '../unit-of-work/command-handler.js';
import type { Notifier } from '../live/notifier.js';
import type { Db } from '../db/database.js';
import { currentUser } from './auth.js';
import { parseIfMatch } from './http-cache.js';

export interface ApiDeps extends HandlerDeps {
  db: Db;
  notifier: Notifier;
  /** Injected so tests can pin time; the deciders never read a clock themselves. */
  clock: () => Date;
  /** Injected so tests can make ids predictable. */
  newId: () => string;
  /** Closers of open server-sent-event streams, ended when the server shuts down. */
  liveStreams: Set<() => void>;
  operatorTokens: readonly string[];
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
    expectedVersion: parseIfMatch(request.headers['if-match']),
    idempotencyKey: request.headers['idempotency-key'],
    requestFingerprint: { method: request.method, url: request.url, body: request.body ?? null },
  };
}

/** Sends a command's response as built (and, with an Idempotency-Key, stored) by the handler. */
export function sendResult(reply: FastifyReply, result: Response): FastifyReply {
  return reply.code(result.status).send(result.body);
}
