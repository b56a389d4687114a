import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findUserByToken, hashToken, type User } from '../users/users.js';
import { DeviceUse } from '../users/devices.js';
import type { Db } from '../db/database.js';
import type { TokenAsker } from '../read-model/group-reads.js';
import { sendProblem } from './problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
    /** The device whose token authenticated the request (on `userFromRead` routes: once the read has found it). */
    deviceId: string | null;
    /** On `userFromRead` routes: the bearer token's SHA-256, for the route's own read to resolve. */
    asker: TokenAsker | null;
  }
  interface FastifyContextConfig {
    /**
     * The route resolves the token inside its own single read statement (the hottest
     * reads: one round trip instead of two); it must call `unauthenticated` when that
     * read finds no user. The hook still refuses a missing or malformed header.
     */
    userFromRead?: boolean;
  }
}

/** The scheme is case-insensitive (RFC 9110 §11.1); the token is not. */
const BEARER = /^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/=-]{1,200})$/;

/** The request's bearer token as its hash (hex), for per-token limits; undefined without one. */
export function tokenKey(request: FastifyRequest): string | undefined {
  const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
  return token === undefined ? undefined : hashToken(token).toString('hex');
}

/**
 * onRequest hook: resolves `Authorization: Bearer <token>` to a user and the device the
 * token belongs to, or answers 401. A revoked device's token is gone from the table, so
 * it answers 401 from the next request on. The device's last use is recorded on the side
 * (see DeviceUse).
 */
export function authenticate(db: Db) {
  const use = new DeviceUse(db);
  return async function requireUser(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token?.startsWith(SIGN_IN_KEY_PREFIX)) {
      await unauthenticated(reply, true, 'a saved sign-in key is not a bearer token: sign in with it (POST /sign-in) to get a device token');
      return;
    }
    if (token && request.routeOptions.config.userFromRead) {
      request.asker = {
        tokenHash: hashToken(token),
        found: (device) => {
          request.deviceId = device.deviceId;
          use.seen(device, request.log);
        },
      };
      return;
    }
    const found = token ? await findUserByToken(db, token) : undefined;
    if (!found) {
      await unauthenticated(reply, token !== undefined);
      return;
    }
    request.user = { userId: found.userId, name: found.name };
    request.deviceId = found.deviceId;
    use.seen(found, request.log);
  };
}

/** Saved sign-in keys start so (device tokens with fs_): a key sent as a bearer token is told what it is. */
const SIGN_IN_KEY_PREFIX = 'fsk_';

/** The 401 for a missing, malformed or unknown user token. */
export function unauthenticated(
  reply: FastifyReply,
  hadToken: boolean,
  detail = hadToken ? 'the token is not valid' : 'send Authorization: Bearer <token>',
): FastifyReply {
  reply.header('www-authenticate', 'Bearer realm="fairshare"');
  return sendProblem(reply, 401, 'UNAUTHENTICATED', detail);
}

export function currentUser(request: FastifyRequest): User {
  if (!request.user) throw new Error('route is missing the authenticate hook');
  return request.user;
}

/** The device whose token authenticated the request. */
export function currentDevice(request: FastifyRequest): string {
  if (!request.deviceId) throw new Error('route is missing the authenticate hook');
  return request.deviceId;
}

/** Who is asking, as the route's read should resolve it: a known user, or a token to look up in the read. */
export function principal(request: FastifyRequest): { userId: string } | TokenAsker {
  if (request.asker) return request.asker;
  return { userId: currentUser(request).userId };
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
