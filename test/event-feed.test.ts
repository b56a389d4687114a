import pino from 'pino';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { Api, startTestApp, type TestApp } from './helpers/app.js';
import { busyGroup } from './helpers/scenarios.js';

const OPERATOR = 'op_0123456789abcdef0123456789abcdef';
let env: TestApp;
let api: Api;
let operator: Api;
t.before(async () => {
  env = await startTestApp({ operatorTokens: ['op_rotated_out_but_still_valid_000000', OPERATOR] });
  api = new Api(env.app);
  operator = api.as(OPERATOR);
});
t.teardown(() => env.close());

/** Reads the feed to its current end, page by page, from `after` (from the start when absent). */
async function drain(after?: string, limit = 3) {
  const items: any[] = [];
  for (;;) {
    const page = await operator.get(`/events?${after === undefined ? '' : `after=${after}&`}limit=${limit}`);
    if (page.status !== 200) throw new Error(`feed: ${page.status} ${JSON.stringify(page.body)}`);
    items.push(...page.body.items);
    if (page.body.items.length === 0) return { items, after };
    after = page.body.nextAfter;
  }
}

t.test('only operator tokens read the feed', async (t) => {
  const user = await api.signUp('Uma', 'feed-uma');
  t.equal((await api.get('/events')).status, 401);
  const asUser = await user.api.get('/events');
  t.equal(asUser.status, 401, 'a user token is not an operator token');
  t.equal(asUser.body.code, 'UNAUTHENTICATED');
  t.equal((await api.as('op_rotated_out_but_still_valid_000000').get('/events')).status, 200, 'every configured token works (rotation)');
  t.equal((await operator.get('/events?after=nonsense')).status, 400);
  t.equal((await operator.get('/events?limit=0')).status, 400);
  t.equal((await operator.get('/events?limit=1001')).status, 200, 'a limit above the maximum is taken as the maximum');
  t.equal((await operator.get('/events?extra=1')).status, 400);

  const closed = await buildApp({ db: env.database.db, changes: env.changes, logger: pino({ level: 'silent' }) });
  const res = await closed.inject({ method: 'GET', url: '/events', headers: { authorization: `Bearer ${OPERATOR}` } });
  t.equal(res.statusCode, 403, 'a server without operator tokens has no feed');
  t.equal(res.json().code, 'OPERATOR_ACCESS_DISABLED');
  await closed.close();
});

t.test('the feed pages through every event exactly once, in commit order', async (t) => {
  await busyGroup(api, 'fa');
  await busyGroup(api, 'fb');
  const { items, after } = await drain();
  const all = await env.database.query<{ event_id: string }>('select event_id from events order by transaction_id, global_position');
  t.same(
    items.map((e) => e.eventId),
    all.rows.map((r) => r.event_id),
  );
  t.equal(items.length, 16);
  t.equal(after, items.at(-1).checkpoint, 'nextAfter is the last checkpoint');
  t.same((await drain('0.0')).items, items, '"0.0" is the start, as before');
  t.match(items[0], { type: 'GroupCreated', streamId: 'group-fa-g', version: 1, checkpoint: /^\d+\.\d+$/ });
  const empty = await operator.get(`/events?after=${after}`);
  t.same(empty.body, { items: [], nextAfter: after }, 'at the end, nextAfter stays put');
});

t.test('a slow transaction holding an early position is not skipped', async (t) => {
  const { g: slowGroup, ann } = await busyGroup(api, 'slow');
  const { g: fastGroup, ann: fastAnn } = await busyGroup(api, 'fast');
  const newcomer = await api.signUp('Nia', 'slow-nia');
  const { after: start } = await drain();

  // A real command that has appended and projected but not yet committed.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let appended!: () => void;
  const inFlight = new Promise<void>((resolve) => (appended = resolve));
  const slow = handleGroupCommand(
    {
      db: env.database.db,
      logger: pino({ level: 'silent' }),
      beforeCommit: async () => {
        appended();
        await gate;
      },
    },
    { groupId: slowGroup, actorUserId: ann.userId, requestId: 'slow-1' },
    { type: 'AddMember', member: { userId: newcomer.userId, name: 'Nia' } },
  );
  await inFlight;

  // Meanwhile a fast write commits: a later transaction, a later global_position.
  const fast = await fastAnn.api.post(`/groups/${fastGroup}/expenses`, {
    description: 'quick',
    amount: '1.00',
    paidBy: fastAnn.userId,
    split: { mode: 'equal' },
  });
  t.equal(fast.status, 201);

  const positions = await env.database.query<{ stream_id: string }>(`select stream_id from events order by global_position desc limit 1`);
  t.equal(positions.rows[0]?.stream_id, `group-${fastGroup}`, 'a reader by global_position would already see the fast event…');
  const whileSlow = await drain(start);
  t.same(whileSlow.items, [], '…but the feed holds it back while an older transaction is still open');

  release();
  const committed = await slow;
  t.equal('outcome' in committed && committed.outcome.appended, 1);
  const { items } = await drain(start);
  t.same(
    items.map((e) => [e.streamId, e.type]),
    [
      [`group-${slowGroup}`, 'MemberAdded'],
      [`group-${fastGroup}`, 'ExpenseAdded'],
    ],
    'once it commits, the slow event comes first, then the fast one: nothing skipped',
  );
  const naive = await env.database.query<{ n: number }>(
    `select count(*)::int as n from events where global_position > (select global_position from events where stream_id = $1 and type = 'ExpenseAdded' and data->>'description' = 'quick')`,
    [`group-${fastGroup}`],
  );
  t.equal(naive.rows[0]?.n, 0, 'a reader that had moved past the fast event by global_position would have missed the slow one for good');
});
