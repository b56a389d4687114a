import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CHECKPOINT, formatCheckpoint, parseCheckpoint, readGlobalFeed } from '../../store/global-feed.js';
import { authenticateOperator } from '../auth.js';
import type { ApiDeps } from '../context.js';
import { presentEvent } from '../present.js';
import { Problem } from '../schemas/common.js';

const Checkpoint = z.string().regex(CHECKPOINT, 'must be a checkpoint from a previous page, such as "0.0"');

/** The global event feed for integrators (operator tokens only). */
export const eventFeedRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticateOperator(deps.operatorTokens));

    app.get(
      '/events',
      {
        schema: {
          summary: 'Every event of every group in commit-safe order; never skips one committed late by a slow transaction',
          tags: ['events'],
          security: [{ operator: [] }],
          querystring: z.strictObject({
            after: Checkpoint.default('0.0').describe('`nextAfter` of the previous page; "0.0" (default) is the start'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
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
        const events = await readGlobalFeed(deps.db, parseCheckpoint(after), limit);
        const last = events.at(-1);
        return {
          items: events.map((e) => ({ ...presentEvent(e), checkpoint: formatCheckpoint(e.checkpoint) })),
          nextAfter: last ? formatCheckpoint(last.checkpoint) : after,
        };
      },
    );
  };
