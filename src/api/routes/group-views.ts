import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { findGroupForMember, readGroupBalances } from '../../read-model/group-reads.js';
import { groupNotFound } from '../../commands/errors.js';
import type { Db } from '../../db/database.js';
import { streamIdOf } from '../../events/index.js';
import { settle } from '../../money/settlements.js';
import { authenticate, currentUser, principal, unauthenticated } from '../auth.js';
import { openEventStream, takeStreamPlace } from '../event-stream.js';
import type { ApiDeps } from '../context.js';
import { notModified } from '../http-cache.js';
import { isNewer, type GroupView } from '../../live/live-changes.js';
import { money, presentBalances, presentEvent } from '../present.js';
import { Amount, Balance, GroupParams, PageLimit, Problem, StoredId } from '../schemas/common.js';

const BalancesView = z.object({ groupId: StoredId, currency: z.string(), version: z.number().int(), balances: z.array(Balance) });

/**
 * Balances and the version they belong to, read as one snapshot; undefined for
 * non-members, 'unknown-user' when the asker's token belongs to no one.
 */
export async function readBalancesView(db: Db, groupId: string, asker: Parameters<typeof readGroupBalances>[2]) {
  const found = await readGroupBalances(db, groupId, asker);
  if (found === undefined || found === 'unknown-user') return found;
  const { group, balances: rows } = found;
  return {
    view: { groupId, currency: group.currency, version: group.version, balances: presentBalances(rows, group.currency) },
    rows,
    group,
  };
}

export const groupViewRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticate(deps.db));
    const security = [{ bearer: [] }];

    app.get(
      '/groups/:groupId/balances',
      {
        schema: {
          summary: 'What every member is owed (positive) or owes (negative). ETag = group version.',
          tags: ['balances'],
          security,
          params: GroupParams,
          response: { 200: BalancesView, 304: z.null(), 401: Problem, 404: Problem },
        },
        config: { userFromRead: true },
      },
      async (request, reply) => {
        const found = await readBalancesView(deps.db, request.params.groupId, principal(request));
        if (found === 'unknown-user') return unauthenticated(reply, true);
        if (!found) throw groupNotFound();
        if (notModified(request, reply, found.group)) return reply;
        return found.view;
      },
    );

    app.get(
      '/groups/:groupId/settlements',
      {
        schema: {
          summary: 'Transfers that settle every balance, as few as possible',
          tags: ['balances'],
          security,
          params: GroupParams,
          response: {
            200: z.object({
              version: z.number().int(),
              transfers: z.array(
                z.object({ from: StoredId, fromName: z.string(), to: StoredId, toName: z.string(), amount: Amount }).describe('from pays to the amount'),
              ),
            }),
            304: z.null(),
            401: Problem,
            404: Problem,
          },
        },
        config: { userFromRead: true },
      },
      async (request, reply) => {
        const found = await readBalancesView(deps.db, request.params.groupId, principal(request));
        if (found === 'unknown-user') return unauthenticated(reply, true);
        if (!found) throw groupNotFound();
        if (notModified(request, reply, found.group)) return reply;
        const transfers = settle(found.rows.map((r) => ({ userId: r.userId, balance: r.balanceMinor })));
        const names = new Map(found.rows.map((r) => [r.userId, r.name]));
        return {
          version: found.view.version,
          transfers: transfers.map((t) => ({
            from: t.from,
            fromName: names.get(t.from) ?? t.from,
            to: t.to,
            toName: names.get(t.to) ?? t.to,
            amount: money(t.amount, found.view.currency),
          })),
        };
      },
    );

    app.get(
      '/groups/:groupId/events',
      {
        schema: {
          summary: "The group's event log (audit trail), in version order",
          tags: ['events'],
          security,
          params: GroupParams,
          querystring: z.strictObject({
            after: z.coerce.number().int().min(0).max(2_147_483_647).default(0),
            limit: PageLimit(1000, 100),
          }),
          response: {
            200: z.object({
              items: z.array(z.object({}).passthrough()),
              nextAfter: z.number().int().describe('Pass as `after` to continue; equals `after` when nothing is new'),
            }),
            400: Problem,
            401: Problem,
            404: Problem,
          },
        },
      },
      async (request) => {
        const { groupId } = request.params;
        const { after, limit } = request.query;
        const group = await findGroupForMember(deps.db, groupId, currentUser(request).userId);
        if (!group) throw groupNotFound();
        // Up to the version the projection has: the trail never runs ahead of the balances
        // (with KurrentDB as the log, an append waits for its projection or for repair).
        const events = after >= group.version ? [] : await deps.log.readStream(streamIdOf(groupId), { after, limit: Math.min(limit, group.version - after) });
        return { items: events.map(presentEvent), nextAfter: events.at(-1)?.version ?? after };
      },
    );

    app.get(
      '/groups/:groupId/live',
      {
        schema: {
          summary: 'Server-sent events: `event: balances` on connect and after every committed change',
          tags: ['balances'],
          security,
          params: GroupParams,
          produces: ['text/event-stream'],
          response: { 401: Problem, 404: Problem, 429: Problem },
        },
      },
      async (request, reply) => {
        const { groupId } = request.params;
        const userId = currentUser(request).userId;
        const release = takeStreamPlace(deps, request, reply);
        // Subscribe before the first read, so no change can fall between the two; what
        // arrives before the stream is open waits as `pending`.
        let open = false;
        let pending: GroupView | undefined;
        let shown: { version: number; epoch: number } | undefined;
        const send = (view: GroupView) => {
          if (!open) {
            if (isNewer(view, pending)) pending = view;
            return;
          }
          if (!isNewer(view, shown)) return;
          // Someone who is no longer a member stops hearing about the group.
          if (!view.balances.some((b) => b.userId === userId)) return stream?.close();
          shown = { version: view.version, epoch: view.epoch };
          stream?.res.write(sseBalances(view));
        };
        const subscription = deps.changes.subscribe(groupId, send);
        const unsubscribe = () => {
          subscription();
          release();
        };
        const found = await readBalancesView(deps.db, groupId, { userId }).catch((error: unknown) => {
          unsubscribe();
          throw error;
        });
        if (!found || found === 'unknown-user') {
          unsubscribe();
          throw groupNotFound();
        }

        const stream = openEventStream(deps, request, reply, unsubscribe);
        if (!stream) return;
        open = true;
        send({ groupId, currency: found.group.currency, version: found.group.version, epoch: found.group.epoch, balances: found.rows });
        if (pending) send(pending);
      },
    );
  };

/**
 * A view as a server-sent event. Every open stream of a group is sent the same view,
 * so it is serialised once per view, not once per stream.
 */
const serialised = new WeakMap<GroupView, string>();
function sseBalances(view: GroupView): string {
  let text = serialised.get(view);
  if (text === undefined) {
    const body = { groupId: view.groupId, currency: view.currency, version: view.version, balances: presentBalances(view.balances, view.currency) };
    text = `event: balances\nid: ${view.version}\ndata: ${JSON.stringify(body)}\n\n`;
    serialised.set(view, text);
  }
  return text;
}
