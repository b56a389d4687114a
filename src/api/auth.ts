import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findUserByToken, hashToken, type User } from '../app/users.js';
import type { Db } from '../db/database.js';
import { sendProblem } from './problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,200})$/;

/** onRequest hook: resolves `Authorization: Bearer <token>` to a user, or answers 401. */
export function authenticate(db: Db) {
  return async function requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const match = BEARER.exec(request.headers.authorization ?? '');
    const user = match?.[1] ? await findUserByToken(db, match[1]) : undefined;
    if (!user) {
      reply.header('www-authenticate', 'Bearer realm="fairshare"');
      await sendProblem(reply, 401, 'UNAUTHENTICATED', match ? 'the token is not valid' : 'send Authorization: Bearer <token>');
      return;
    }
    request.user = user;
  };
}

export function currentUser(request: FastifyRequest): User {
  if (!request.user) throw new Error('route is missing the authenticate hook');
  return request.user;
}

/**
 * onRequest hook for operator routes: the bearer token must be one of the operator
 * tokens the server was started with (FAIRSHARE_OPERATOR_TOKENS). User tokens are not
 * operator tokens. Compared as SHA-256 digests in constant time.
 */
export function authenticateOperator(tokens: readonly string[]) {
  const digests = tokens.map(hashToken);
  return async function requireOperator(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (digests.length === 0) {
      await sendProblem(reply, 403, 'OPERATOR_ACCESS_DISABLED', 'no operator tokens are configured on this server (FAIRSHARE_OPERATOR_TOKENS)');
      return;
    }
    const match = BEARER.exec(request.headers.authorization ?? '');
    const given = match?.[1] ? hashToken(match[1]) : undefined;
    if (!given || !digests.some((d) => timingSafeEqual(d, given))) {
      reply.header('www-authenticate', 'Bearer realm="fairshare-operator"');
      await sendProblem(reply, 401, 'UNAUTHENTICATED', match ? 'not an operator token' : 'send Authorization: Bearer <operator token>');
    }
  };
}
