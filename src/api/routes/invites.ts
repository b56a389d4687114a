import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { conflict, groupNotFound, notFound } from '../../commands/errors.js';
import { findGroupForMember, findNameOnlyMember } from '../../read-model/group-reads.js';
import { handleGroupCommand } from '../../unit-of-work/command-handler.js';
import type { Tx } from '../../db/database.js';
import { assertInviteWorks, createInvite, DEFAULT_INVITE_DAYS, findInvite, listInvites, revokeInvite, type Invite } from '../../users/invites.js';
import { authenticate, currentUser } from '../auth.js';
import { commandContext, sendResult, type ApiDeps } from '../context.js';
import { presentGroup } from '../present.js';
import { Group, GroupParams, Id, Problem, StoredId, WriteHeaders } from '../schemas/common.js';

// Invite links (issue #13 §2): a member makes a link; whoever opens it sees the group's
// name and who invited them, signs up or uses their account, and joins. A link works for
// several people until it expires (7 days unless said otherwise) or is revoked.

const InviteToken = z.string().regex(/^fsi_[A-Za-z0-9_-]{43}$/, 'is not an invite token');
const TokenParams = z.strictObject({ token: InviteToken });
const Place = z
  .object({ userId: StoredId, name: z.string(), taken: z.boolean().describe('Claimed already, or removed: the link no longer gives it') })
  .nullable()
  .describe(
    'The name-only member whose place the link is for: whoever accepts it takes that place, its balance and its expenses. Null: a link to join as oneself',
  );
const InviteView = z.object({
  inviteId: Id,
  createdBy: z.object({ userId: Id, name: z.string() }),
  createdAt: z.string(),
  expiresAt: z.string(),
  place: Place,
});
const presentInvite = (i: Invite) => ({
  inviteId: i.inviteId,
  createdBy: i.createdBy,
  createdAt: i.createdAt.toISOString(),
  expiresAt: i.expiresAt.toISOString(),
  place: i.place,
});
const inviteGone = () => notFound('INVITE_NOT_FOUND', 'this invite link does not work: it was revoked, it expired, or it never existed');

export const inviteRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const security = [{ bearer: [] }];

    /** The group, for a member of it (404 for anyone else, as everywhere). */
    const memberGroup = async (groupId: string, userId: string) => {
      const group = await findGroupForMember(deps.db, groupId, userId);
      if (!group) throw groupNotFound();
      return group;
    };

    // What a link shows before anyone signs up: open, like sign-up (the token is the secret).
    app.get(
      '/invites/:token',
      {
        schema: {
          summary: 'What an invite link leads to: the group and who invited you (no token needed)',
          tags: ['invites'],
          params: TokenParams,
          response: {
            200: z.object({
              groupId: Id,
              groupName: z.string(),
              archived: z.boolean().describe('Nobody can join an archived group until a member opens it again'),
              invitedBy: z.object({ userId: Id, name: z.string() }),
              expiresAt: z.string(),
              place: Place,
            }),
            400: Problem,
            404: Problem,
          },
        },
      },
      async (request) => {
        const invite = await findInvite(deps.db, request.params.token);
        const group = invite && (await findGroupForMember(deps.db, invite.groupId, invite.createdBy.userId));
        if (!invite || !group) throw inviteGone();
        return {
          groupId: group.groupId,
          groupName: group.name,
          archived: group.archived,
          invitedBy: invite.createdBy,
          expiresAt: invite.expiresAt.toISOString(),
          place: invite.place,
        };
      },
    );

    const auth = authenticate(deps.db);
    app.post(
      '/groups/:groupId/invites',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary: 'Make an invite link for the group (the token is shown once)',
          tags: ['invites'],
          security,
          params: GroupParams,
          body: z
            .strictObject({
              expiresInDays: z.number().int().min(1).max(30).optional(),
              forMember: Id.optional().describe("A name-only member's id: the link takes that place (send it to that friend only)"),
            })
            .nullish(),
          response: { 201: InviteView.extend({ token: InviteToken }), 400: Problem, 401: Problem, 404: Problem, 409: Problem },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const group = await memberGroup(request.params.groupId, me.userId);
        if (group.archived) throw conflict('GROUP_ARCHIVED', `the group "${group.name}" is archived: open it again before inviting anyone`);
        const days = request.body?.expiresInDays ?? DEFAULT_INVITE_DAYS;
        const forMember = request.body?.forMember;
        const place = forMember === undefined ? undefined : await findNameOnlyMember(deps.db, group.groupId, forMember);
        if (forMember !== undefined && !place) {
          throw notFound('PLACE_NOT_FOUND', `${forMember} is not a member of this group known only by a name`);
        }
        const made = await createInvite(deps.db, group.groupId, me.userId, days, place?.userId ?? null);
        request.log.info({ groupId: group.groupId, inviteId: made.inviteId, expiresAt: made.expiresAt, forMember }, 'invite link made');
        return reply.code(201).send({
          ...presentInvite({
            inviteId: made.inviteId,
            groupId: group.groupId,
            createdBy: me,
            createdAt: new Date(),
            expiresAt: made.expiresAt,
            place: place ? { ...place, taken: false } : null,
          }),
          token: made.token,
        });
      },
    );

    app.get(
      '/groups/:groupId/invites',
      {
        onRequest: auth,
        schema: {
          summary: "The group's invite links that still work (not revoked or expired)",
          tags: ['invites'],
          security,
          params: GroupParams,
          response: { 200: z.object({ items: z.array(InviteView) }), 401: Problem, 404: Problem },
        },
      },
      async (request) => {
        await memberGroup(request.params.groupId, currentUser(request).userId);
        return { items: (await listInvites(deps.db, request.params.groupId)).map(presentInvite) };
      },
    );

    app.delete(
      '/groups/:groupId/invites/:inviteId',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary: 'Revoke an invite link: it stops working at once (revoking again changes nothing)',
          tags: ['invites'],
          security,
          params: z.strictObject({ groupId: GroupParams.shape.groupId, inviteId: GroupParams.shape.groupId }),
          response: { 204: z.null(), 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        await memberGroup(request.params.groupId, me.userId);
        if (!(await revokeInvite(deps.db, request.params.groupId, request.params.inviteId)))
          throw notFound('INVITE_NOT_FOUND', 'no such invite link in this group');
        request.log.info({ groupId: request.params.groupId, inviteId: request.params.inviteId }, 'invite link revoked');
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/invites/:token/accept',
      {
        onRequest: [auth, deps.rateLimits.writes],
        schema: {
          summary: 'Join the group an invite link is for (201; 200 when you are a member already)',
          description:
            "A link made for a name-only member's place (`place`) takes it: their balance and every expense that names them become yours, recorded by one MemberClaimed event (409 ALREADY_CLAIMED once someone has).",
          tags: ['invites'],
          security,
          params: TokenParams,
          headers: WriteHeaders,
          body: z.strictObject({}).nullish(),
          response: { 200: Group, 201: Group, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const invite = await findInvite(deps.db, request.params.token);
        if (!invite) throw inviteGone();
        // Checked again in the join's own transaction: a revoke between the two waits for
        // the join, or the join sees it (and the decision checks the maker is a member).
        const withinTransaction = async (tx: Tx) => {
          if (!(await assertInviteWorks(tx, invite.inviteId))) throw inviteGone();
        };
        const member = { userId: me.userId, name: me.name };
        const claim = invite.place?.userId;
        const result = await handleGroupCommand(
          deps,
          { ...commandContext(request, invite.groupId), ifMatch: undefined, withinTransaction },
          claim === undefined
            ? { type: 'JoinGroup', member, invitedBy: invite.createdBy.userId }
            : { type: 'ClaimMember', nameOnlyId: claim, member, invitedBy: invite.createdBy.userId },
        );
        return sendResult(reply, result, (o) => ({ status: o.appended > 0 ? 201 : 200, body: presentGroup(o, o.members, o.formerMembers) }));
      },
    );
  };
