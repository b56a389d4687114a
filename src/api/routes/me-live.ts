// The home page's live stream: one per user, the `/me` view on connect and again after
// every committed change to one of the user's groups, or to a group they join or leave.
//
// LiveChanges tells the process's home streams the id of every changed group (from this
// process's commands and from the log tail, so from every process, only after commit).
// Streams that show the group re-read `/me` at once. For the others, one query per turn
// of the event loop and process (however many groups changed, however many home streams
// are open) finds which of their users are members of a changed group: that is how a
// process learns that someone elsewhere added a user. Reads of one stream run one at a
// time and a burst collapses into one more read, so a later view never comes from an
// older snapshot; an unchanged view is not sent. A read that fails ends the stream (the
// client reconnects and starts from a fresh view) rather than leave it showing an old one;
// a members query that fails refreshes every stream it was asked for.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { currentMembersAmong } from '../../read-model/group-reads.js';
import type { LiveChanges } from '../../live/live-changes.js';
import type { Db } from '../../db/database.js';
import type { FastifyBaseLogger } from 'fastify';
import { authenticate, currentUser } from '../auth.js';
import { openEventStream, takeStreamPlace } from '../event-stream.js';
import type { ApiDeps } from '../context.js';
import { Problem } from '../schemas/common.js';
import { readMe } from './users.js';

interface HomeStream {
  userId: string;
  /** Whether the stream shows the group (or has not sent its first view yet). */
  shows(groupId: string): boolean;
  refresh(): void;
}

/** The open home streams of one process, told of every changed group through one subscription. */
class HomeStreams {
  private readonly streams = new Set<HomeStream>();
  private unsubscribe: (() => void) | undefined;
  /** Changed groups that some open stream does not show, asked about on the next turn. */
  private unseen = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly changes: LiveChanges,
    private readonly log: FastifyBaseLogger,
  ) {}

  add(stream: HomeStream): () => void {
    if (this.streams.size === 0) this.unsubscribe = this.changes.subscribeAny((groupId) => this.changed(groupId));
    this.streams.add(stream);
    return () => {
      if (!this.streams.delete(stream)) return;
      if (this.streams.size === 0) this.unsubscribe?.();
    };
  }

  private changed(groupId: string): void {
    let unseen = false;
    for (const stream of this.streams) {
      if (stream.shows(groupId)) stream.refresh();
      else unseen = true;
    }
    if (!unseen) return;
    if (this.unseen.size === 0) setImmediate(() => this.askMembers());
    this.unseen.add(groupId);
  }

  /** One query for every group changed since the last turn: whose open home must show one now. */
  private askMembers(): void {
    const groups = [...this.unseen];
    this.unseen = new Set();
    const asked = [...this.streams];
    const users = [...new Set(asked.map((s) => s.userId))];
    currentMembersAmong(this.db, groups, users).then(
      (members) => {
        for (const stream of asked) if (members.has(stream.userId) && this.streams.has(stream)) stream.refresh();
      },
      (error: unknown) => {
        this.log.warn({ err: error, groups: groups.length }, 'reading changed groups’ members for the home streams failed; refreshing every home stream');
        for (const stream of asked) if (this.streams.has(stream)) stream.refresh();
      },
    );
  }
}

export const meLiveRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const homeStreams = new HomeStreams(deps.db, deps.changes, app.log);
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
        const release = takeStreamPlace(deps, request, reply);

        let open = false;
        let ended = false;
        let changedEarly = false;
        let shownGroups = new Set<string>();
        let lastText: string | undefined;
        let sent = 0;
        let reading = false;
        let again = false;
        const write = (body: Awaited<ReturnType<typeof readMe>>) => {
          shownGroups = new Set(body.groups.map((g) => g.groupId));
          const text = JSON.stringify(body);
          if (text === lastText) return;
          lastText = text;
          sent += 1;
          stream?.res.write(`event: me\nid: ${sent}\ndata: ${text}\n\n`);
        };
        const refresh = () => {
          if (ended) return;
          if (reading) {
            again = true;
            return;
          }
          reading = true;
          void (async () => {
            try {
              do {
                again = false;
                const body = await readMe(deps.db, user).catch((error: unknown) => {
                  request.log.warn({ err: error }, 'reading /me for a home stream failed; the stream ends and the client reconnects');
                  return undefined;
                });
                if (!body) return stream?.close();
                if (!ended) write(body);
              } while (again && !ended);
            } finally {
              // In the same step as the last look at `again`, so no refresh falls between.
              reading = false;
            }
          })();
        };
        // Subscribe before the first read, so no change can fall between the two.
        const subscription = homeStreams.add({
          userId: user.userId,
          shows: (groupId) => !open || shownGroups.has(groupId),
          refresh: () => {
            if (open) refresh();
            else changedEarly = true;
          },
        });
        const unsubscribe = () => {
          subscription();
          release();
        };
        const first = await readMe(deps.db, user).catch((error: unknown) => {
          unsubscribe();
          throw error;
        });

        const stream = openEventStream(deps, request, reply, () => {
          ended = true;
          unsubscribe();
        });
        if (!stream) return;
        open = true;
        write(first);
        // A change between subscribing and the first read may be missing from it: read again.
        if (changedEarly) refresh();
      },
    );
  };
