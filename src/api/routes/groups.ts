import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { handleGroupCommand } from '../../unit-of-work/command-handler.js';
import { readGroupWithMembers } from '../../read-model/group-reads.js';
import { findUsers, NAME_ONLY_PREFIX } from '../../users/users.js';
import type { MemberState } from '../../commands/index.js';
import { revokeInvitesOf } from '../../users/invites.js';
import type { Tx } from '../../db/database.js';
import { DomainError, groupNotFound, invalid } from '../../commands/errors.js';
import { uuidFrom } from '../ids.js';
import { isSupportedCurrency } from '../../money/currency.js';
import { authenticate, currentUser, principal, unauthenticated } from '../auth.js';
import { commandContext, sendResult, type ApiDeps } from '../context.js';
import { notModified } from '../http-cache.js';
import { presentGroup } from '../present.js';
import { Group, GroupParams, Id, MemberParams, Name, Problem, WriteHeaders } from '../schemas/common.js';

/**
 * The new group's id: the client's, else one named by the caller, their Idempotency-Key
 * and the request (a retry names the same group even if the key's stored answer never
 * committed), else a fresh one.
 */
function groupIdFor(given: string | undefined, actorUserId: string, key: string | undefined, body: unknown, newId: () => string): string {
  if (given !== undefined) return given;
  return key === undefined ? newId() : uuidFrom(`fairshare-group\0${actorUserId}\0${key}\0${JSON.stringify(body)}`);
}

export const groupRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticate(deps.db));

    app.post(
      '/groups',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Create a group; the caller is always a member',
          tags: ['groups'],
          security: [{ bearer: [] }],
          headers: WriteHeaders,
          body: z.strictObject({
            groupId: Id.optional(),
            name: Name,
            currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "EUR"'),
            members: z.array(Id).max(499).optional(),
          }),
          response: { 201: Group, 400: Problem, 401: Problem, 409: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const { name, currency } = request.body;
        if (!isSupportedCurrency(currency)) {
          throw invalid('UNSUPPORTED_CURRENCY', 'currency', `${currency} is not a currency in use`);
        }
        const ids = [...new Set([me.userId, ...(request.body.members ?? [])])];
        const users = new Map((await findUsers(deps.db, ids)).map((u) => [u.userId, u]));
        const unknown = ids.findIndex((id) => !users.has(id));
        if (unknown >= 0) throw invalid('UNKNOWN_USER', `members`, `no user ${ids[unknown]}`);
        const groupId = groupIdFor(request.body.groupId, me.userId, request.headers['idempotency-key'], request.body, deps.newId);
        const context = { ...commandContext(request, groupId), ifMatch: undefined };
        const members = ids.map((id) => ({ userId: id, name: users.get(id)?.name ?? id }));
        try {
          const result = await handleGroupCommand(deps, context, { type: 'CreateGroup', groupId: context.groupId, name, currency, members });
          return sendResult(reply, result, (o) => ({ status: 201, body: presentGroup(o, o.members, o.formerMembers) }));
        } catch (error) {
          // The id came from this caller's Idempotency-Key, so the group that has it is
          // theirs: a retry whose first answer (and stored key) was lost (KurrentDB mode,
          // a crash between the append and the projection). Answer with the group.
          const derived = request.body.groupId === undefined && context.idempotencyKey !== undefined;
          if (!(derived && error instanceof DomainError && error.code === 'GROUP_ALREADY_EXISTS')) throw error;
          const found = await readGroupWithMembers(deps.db, context.groupId, { userId: me.userId });
          if (!found || found === 'unknown-user') throw error;
          return reply.code(201).send(presentGroup(found.group, found.members, found.formerMembers));
        }
      },
    );

    app.get(
      '/groups/:groupId',
      {
        schema: {
          summary: 'A group and its members (ETag = group version)',
          tags: ['groups'],
          security: [{ bearer: [] }],
          params: GroupParams,
          response: { 200: Group, 304: z.null(), 401: Problem, 404: Problem },
        },
        config: { userFromRead: true },
      },
      async (request, reply) => {
        const found = await readGroupWithMembers(deps.db, request.params.groupId, principal(request));
        if (found === 'unknown-user') return unauthenticated(reply, true);
        if (!found) throw groupNotFound();
        if (notModified(request, reply, found.group)) return reply;
        return presentGroup(found.group, found.members, found.formerMembers);
      },
    );

    app.patch(
      '/groups/:groupId',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Rename a group, archive it (read-only, still listed), or open it again',
          description:
            'Either field or both. An archived group refuses every other write with 409 GROUP_ARCHIVED; `archived: false` opens it again (and may rename it in the same request). Asking for what already holds changes nothing.',
          tags: ['groups'],
          security: [{ bearer: [] }],
          params: GroupParams,
          headers: WriteHeaders,
          body: z
            .strictObject({ name: Name.optional(), archived: z.boolean().optional() })
            .refine((body) => body.name !== undefined || body.archived !== undefined, { message: 'give name, archived, or both' }),
          response: { 200: Group, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 412: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const result = await handleGroupCommand(deps, commandContext(request, request.params.groupId), {
          type: 'UpdateGroup',
          name: request.body.name,
          archived: request.body.archived,
        });
        return sendResult(reply, result, (o) => ({ status: 200, body: presentGroup(o, o.members, o.formerMembers) }));
      },
    );

    app.delete(
      '/groups/:groupId/members/:userId',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Remove a member, or leave the group (your own user id)',
          description:
            "Only while that member's balance is zero (409 MEMBER_HAS_BALANCE names it); never the last member (409 LAST_MEMBER: archive the group instead). A removed member loses access at once (404, like a stranger); their past expenses keep their name (formerMembers). Adding them again brings them back.",
          tags: ['groups'],
          security: [{ bearer: [] }],
          params: MemberParams,
          headers: WriteHeaders,
          response: { 200: Group, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 412: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const { groupId, userId } = request.params;
        // Their invite links go with them, in the same transaction (undone if refused).
        const withinTransaction = (tx: Tx) => revokeInvitesOf(tx, groupId, userId);
        const result = await handleGroupCommand(
          deps,
          { ...commandContext(request, groupId), withinTransaction },
          {
            type: 'RemoveMember',
            userId: request.params.userId,
            actorUserId: me.userId,
          },
        );
        return sendResult(reply, result, (o) => ({ status: 200, body: presentGroup(o, o.members, o.formerMembers) }));
      },
    );

    app.post(
      '/groups/:groupId/members',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Add a member: an existing user (userId), or a friend without an account (name). Adding a current member changes nothing (200).',
          description:
            'A name-only member takes part in expenses like anyone else and gets an id starting with guest_; they claim their place (balance and history) by accepting an invite link with `claim`. Send an Idempotency-Key: each name-only add is a new member.',
          tags: ['groups'],
          security: [{ bearer: [] }],
          params: GroupParams,
          headers: WriteHeaders,
          body: z.union([z.strictObject({ userId: Id }), z.strictObject({ name: Name })]),
          response: { 200: Group, 201: Group, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 412: Problem },
        },
      },
      async (request, reply) => {
        const { groupId } = request.params;
        const body = request.body;
        let member: MemberState;
        if ('name' in body) {
          member = { userId: `${NAME_ONLY_PREFIX}${deps.newId()}`, name: body.name, nameOnly: true };
        } else {
          const [user] = await findUsers(deps.db, [body.userId]);
          if (!user) throw invalid('UNKNOWN_USER', 'userId', `no user ${body.userId}`);
          member = { userId: user.userId, name: user.name };
        }
        const result = await handleGroupCommand(deps, commandContext(request, groupId), {
          type: 'AddMember',
          member,
          invitedBy: currentUser(request).userId,
        });
        return sendResult(reply, result, (o) => ({ status: o.appended > 0 ? 201 : 200, body: presentGroup(o, o.members, o.formerMembers) }));
      },
    );
  };
