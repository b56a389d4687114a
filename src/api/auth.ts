import type { FastifyReply, FastifyRequest } from 'fastify';
import { findUserByToken, type User } from '../app/users.js';
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
