import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { authenticateOperator } from '../auth.js';
import type { ApiDeps } from '../context.js';
import type { LogPosition } from '../../store/event-log.js';
import { presentEvent } from '../present.js';
import { PageLimit, Problem } from '../schemas/common.js';

/** The global event feed for integrators (operator tokens only). */
export const eventFeedRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticateOperator(deps.operatorTokens));
    const { log } = deps;
    // Positions are the log's own (PostgreSQL or KurrentDB); clients only pass them back.
    const Checkpoint = z
      .string()
      .max(60)
      .refine((text) => log.isPosition(text), `must be a checkpoint from a previous page, or "${log.start}" for the start`);

    app.get(
      '/events',
      {
        schema: {
          summary: "Every event of every group in the log's order; never skips one committed late by a slow transaction",
          tags: ['events'],
          security: [{ operator: [] }],
          querystring: z.strictObject({
            after: Checkpoint.optional().describe('`nextAfter` of the previous page; absent: from the start'),
            limit: PageLimit(1000, 100),
          }),
          response: {
            200: z.object({
              items: z.array(z.object({ checkpoint: z.string() }).passthrough()),
              nextAfter: z.string().describe('Pass as `after` to continue; equals `after` when nothing is new yet'),
            }),
            400: Problem,
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request) => {
        const { after, limit } = request.query;
        const events = await log.readAll({ after: after as LogPosition | undefined, limit });
        return {
          items: events.map((e) => ({ ...presentEvent(e.event), checkpoint: e.position })),
          nextAfter: events.at(-1)?.position ?? after ?? log.start,
        };
      },
    );
  };
