import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { createUser, findUsers } from '../../users/users.js';
import { notFound } from '../../commands/errors.js';
import { listGroupsOfUser } from '../../read-model/group-reads.js';
import { authenticate, currentUser } from '../auth.js';
import type { ApiDeps } from '../context.js';
import type { Db } from '../../db/database.js';
import { money } from '../present.js';
import { Id, Name, Amount, PathId, Problem, StoredId } from '../schemas/common.js';
import { DeviceName, SignedIn } from '../schemas/devices.js';

export const userRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/users',
      {
        onRequest: deps.rateLimits.signups,
        schema: {
          summary: "Sign up: creates a user and their first device, and returns that device's bearer token (shown only this once)",
          tags: ['users'],
          body: z.strictObject({ userId: Id.optional(), name: Name, deviceName: DeviceName.optional() }),
          response: {
            201: SignedIn,
            400: Problem,
            409: Problem,
          },
        },
      },
      async (request, reply) => {
        const user = await createUser(deps.db, request.body.userId ?? deps.newId(), request.body.name, request.body.deviceName);
        request.log.info({ userId: user.userId, deviceId: user.deviceId }, 'user created');
        return reply.code(201).header('cache-control', 'no-store').send(user);
      },
    );

    app.get(
      '/users/:userId',
      {
        // Counted with the writes: a token cannot walk through guessable ids at speed.
        onRequest: [authenticate(deps.db), deps.rateLimits.writes],
        schema: {
          summary: 'The name behind a user id, so a person adding a member by id sees whom they are adding',
          tags: ['users'],
          security: [{ bearer: [] }],
          params: z.strictObject({ userId: PathId }),
          response: { 200: z.object({ userId: StoredId, name: z.string() }), 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request) => {
        const [user] = await findUsers(deps.db, [request.params.userId]);
        if (!user) throw notFound('USER_NOT_FOUND', `no user ${request.params.userId}`);
        return user;
      },
    );

    app.get(
      '/me',
      {
        onRequest: authenticate(deps.db),
        schema: {
          summary: 'The caller, with every group they belong to, their balance in it, and their totals per currency',
          tags: ['users'],
          security: [{ bearer: [] }],
          response: { 200: MeView, 401: Problem },
        },
      },
      async (request) => readMe(deps.db, currentUser(request)),
    );
  };

export const MeView = z.object({
  userId: Id,
  name: z.string(),
  groups: z.array(z.object({ groupId: StoredId, name: z.string(), currency: z.string(), version: z.number(), archived: z.boolean(), balance: Amount })),
  /** The balance summed over the user's groups, one entry per currency (integer minor units, never floats). */
  totals: z.array(z.object({ currency: z.string(), balance: Amount })),
});

/** The `/me` body: the user, their groups with their balance in each, and their totals per currency. */
export async function readMe(db: Db, user: { userId: string; name: string }): Promise<z.infer<typeof MeView>> {
  const groups = await listGroupsOfUser(db, user.userId);
  const sums = new Map<string, bigint>();
  for (const g of groups) sums.set(g.currency, (sums.get(g.currency) ?? 0n) + g.balanceMinor);
  return {
    ...user,
    groups: groups.map((g) => ({
      groupId: g.groupId,
      name: g.name,
      currency: g.currency,
      version: g.version,
      archived: g.archived,
      balance: money(g.balanceMinor, g.currency),
    })),
    totals: [...sums].map(([currency, minor]) => ({ currency, balance: money(minor, currency) })),
  };
}
