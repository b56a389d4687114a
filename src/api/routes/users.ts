import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { createUser, findUsers } from '../../users/users.js';
import { notFound } from '../../commands/errors.js';
import { listGroupsOfUser } from '../../read-model/group-reads.js';
import { authenticate, currentUser } from '../auth.js';
import type { ApiDeps } from '../context.js';
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
          summary: 'The caller, with every group they belong to and their balance in it',
          tags: ['users'],
          security: [{ bearer: [] }],
          response: {
            200: z.object({
              userId: Id,
              name: z.string(),
              groups: z.array(
                z.object({ groupId: StoredId, name: z.string(), currency: z.string(), version: z.number(), archived: z.boolean(), balance: Amount }),
              ),
            }),
            401: Problem,
          },
        },
      },
      async (request) => {
        const user = currentUser(request);
        const groups = await listGroupsOfUser(deps.db, user.userId);
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
        };
      },
    );
  };
