import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import { DomainError } from '../commands/errors.js';
import { tokenKey } from './auth.js';

export interface RateLimits {
  /** Sign-ups per client address per minute. */
  signupsPerMinute: number;
  /** Writes (commands) per bearer token per minute, across every write route. */
  writesPerMinute: number;
  /** Counters shared by every server process (Redis); absent: in this process's memory. */
  redis?: Redis | undefined;
}

/**
 * Defaults a real deployment would keep: a household signing up behind one address, a
 * person adding expenses as fast as they can type, an integration writing steadily. A
 * load test sets them higher (RATE_LIMIT_SIGNUPS_PER_MINUTE, RATE_LIMIT_WRITES_PER_MINUTE).
 */
export const DEFAULT_RATE_LIMITS = { signupsPerMinute: 20, writesPerMinute: 300 } as const;

/** onRequest hooks for the routes: `onRequest: limits.signups` on sign-up, `limits.writes` on every write. */
export interface RouteRateLimits {
  signups: onRequestHookHandler;
  writes: onRequestHookHandler;
}

/**
 * Rate limits with @fastify/rate-limit: one counter per key across every route that
 * uses a limit (the plugin's per-route config would count each route apart in memory),
 * 429 problem+json `RATE_LIMITED` with `Retry-After` and the X-RateLimit-* headers past
 * it. With Redis unreachable the limits are skipped rather than the requests refused.
 */
export async function registerRateLimits(app: FastifyInstance, limits: RateLimits): Promise<RouteRateLimits> {
  await app.register(rateLimit, {
    global: false,
    ...(limits.redis ? { redis: limits.redis, nameSpace: 'fairshare-rate-limit:' } : {}),
    skipOnError: true,
  });
  const hook = (max: number, name: string, keyOf: (request: FastifyRequest) => string): onRequestHookHandler => {
    const check = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (request) => `${name}:${keyOf(request)}` });
    return async (request, reply) => {
      const result = await check(request);
      if (result.isAllowed || !result.isExceeded) return;
      reply.header('x-ratelimit-limit', max).header('x-ratelimit-remaining', 0).header('x-ratelimit-reset', result.ttlInSeconds);
      reply.header('retry-after', result.ttlInSeconds);
      throw new DomainError(429, 'RATE_LIMITED', `too many requests: at most ${max} a minute; try again in ${result.ttlInSeconds} s`);
    };
  };
  return {
    signups: hook(limits.signupsPerMinute, 'signups', (request) => request.ip),
    // One budget per token across every write route; the token's hash, never the token, is the key.
    writes: hook(limits.writesPerMinute, 'writes', (request) => tokenKey(request) ?? request.ip),
  };
}
