// The home page's live stream: one per user, the `/me` view on connect and again after
// every committed change to one of the user's groups, or to a group they join or leave.
//
// LiveChanges tells every open home stream the id of every changed group (from this
// process's commands and from the log tail, so from every process, only after commit).
// A group the stream shows is re-read at once; for any other group one indexed
// membership query decides (it is how a process learns that someone elsewhere added the
// user). Reads of one stream run one at a time and a burst collapses into one more read,
// so a later view never comes from an older snapshot; an unchanged view is not sent.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DomainError } from '../../commands/errors.js';
import { findGroupForMember } from '../../read-model/group-reads.js';
import { authenticate, currentDevice, currentUser, tokenKey } from '../auth.js';
import type { ApiDeps } from '../context.js';
import { Problem } from '../schemas/common.js';
import { readMe } from './users.js';

export const meLiveRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/me/live',
      {
        onRequest: authenticate(deps.db),
        schema: {
          summary: 'Server-sent events: `event: me` (the `/me` body) on connect and after every committed change to the caller’s groups or memberships',
          tags: ['users'],
          security: [{ bearer: [] }],
          produces: ['text/event-stream'],
          response: { 401: Problem, 429: Problem },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        const deviceId = currentDevice(request);
        // The same per-token cap as the group streams, counted together with them.
        const token = tokenKey(request) as string;
        const holding = deps.liveStreamsByToken.get(token) ?? 0;
        if (holding >= deps.liveStreamsPerToken) {
          reply.header('retry-after', '5');
          throw new DomainError(
            429,
            'TOO_MANY_STREAMS',
            `this token already has ${holding} live streams open (at most ${deps.liveStreamsPerToken}); close one before opening another`,
          );
        }
        deps.liveStreamsByToken.set(token, holding + 1);
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          const left = (deps.liveStreamsByToken.get(token) ?? 1) - 1;
          if (left > 0) deps.liveStreamsByToken.set(token, left);
          else deps.liveStreamsByToken.delete(token);
        };

        let open = false;
        let ended = false;
        let changedEarly = false;
        let shownGroups = new Set<string>();
        let lastText: string | undefined;
        let sent = 0;
        let reading: Promise<void> | undefined;
        let again = false;
        const write = (body: Awaited<ReturnType<typeof readMe>>) => {
          shownGroups = new Set(body.groups.map((g) => g.groupId));
          const text = JSON.stringify(body);
          if (text === lastText) return;
          lastText = text;
          sent += 1;
          reply.raw.write(`event: me\nid: ${sent}\ndata: ${text}\n\n`);
        };
        const refresh = () => {
          if (ended) return;
          if (reading) {
            again = true;
            return;
          }
          reading = (async () => {
            do {
              again = false;
              const body = await readMe(deps.db, user).catch((error: unknown) => {
                request.log.warn({ err: error }, 'reading /me for a home stream failed');
                return undefined;
              });
              if (body && !ended) write(body);
            } while (again && !ended);
          })().finally(() => (reading = undefined));
        };
        // Subscribe before the first read, so no change can fall between the two.
        const subscription = deps.changes.subscribeAny((groupId) => {
          if (!open) {
            changedEarly = true;
            return;
          }
          if (shownGroups.has(groupId)) return refresh();
          findGroupForMember(deps.db, groupId, user.userId).then(
            (found) => found && refresh(),
            (error: unknown) => request.log.warn({ err: error, groupId }, 'checking a membership for a home stream failed'),
          );
        });
        const unsubscribe = () => {
          subscription();
          release();
        };
        const first = await readMe(deps.db, user).catch((error: unknown) => {
          unsubscribe();
          throw error;
        });

        if (request.method === 'HEAD') {
          unsubscribe();
          reply.hijack();
          reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform' }).end();
          return;
        }
        reply.hijack();
        if (request.raw.socket.destroyed) {
          unsubscribe();
          return;
        }
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        let forgetDevice = () => {};
        const close = () => {
          ended = true;
          clearInterval(heartbeat);
          unsubscribe();
          forgetDevice();
          deps.liveStreams.delete(close);
          if (!res.writableEnded) res.end();
        };
        deps.liveStreams.add(close);
        // Revoking the device ends the stream (see DeviceStreams).
        forgetDevice = deps.deviceStreams.add(deviceId, close);
        if (res.writableEnded) return;
        request.raw.on('close', close);
        res.write('retry: 2000\n\n');
        open = true;
        write(first);
        // A change between subscribing and the first read may be missing from it: read again.
        if (changedEarly) refresh();
      },
    );
  };
