import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../context.js';
import { Problem } from '../schemas/common.js';
import { RETRY_AFTER_SECONDS, sendProblem } from '../problem.js';

export const healthRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health/live',
      { schema: { summary: 'The process is up', tags: ['health'], response: { 200: z.object({ status: z.literal('ok') }) } } },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/health/ready',
      {
        schema: {
          summary: 'The database answers (503 when it does not)',
          tags: ['health'],
          response: { 200: z.object({ status: z.literal('ok') }), 503: Problem },
        },
      },
      async (request, reply) => {
        try {
          await Promise.race([deps.ready(), new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2_000).unref())]);
          return { status: 'ok' as const };
        } catch (error) {
          request.log.warn({ err: error }, 'readiness check failed');
          return sendProblem(reply.header('retry-after', String(RETRY_AFTER_SECONDS)), 503, 'DATABASE_UNAVAILABLE', 'the database cannot be reached');
        }
      },
    );
  };
