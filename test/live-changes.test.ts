import pino from 'pino';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { useTestApp } from './helpers/app.js';

// Announcements from the log: a change committed by another process (here: the unit of
// work called without this process's announce hook, as another server would) reaches
// every open live stream of the group, and the group is read once for all of them.

// 40 streams of one person below: more than a token may hold by default.
const ctx = useTestApp(t, { liveStreamsPerToken: 40 });

async function openStream(base: string, groupId: string, token: string, signal: AbortSignal) {
  const res = await fetch(`${base}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok || !res.body) throw new Error(`live stream answered ${res.status}`);
  const versions: number[] = [];
  const decoder = new TextDecoder();
  const done = (async () => {
    let buffer = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const id = /^id: (\d+)$/m.exec(buffer.slice(0, end))?.[1];
        if (id) versions.push(Number(id));
        buffer = buffer.slice(end + 2);
      }
    }
  })().catch(() => undefined);
  return { versions, done };
}

t.test('a change from another process reaches 40 open streams of the group with one read', async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const group = await ann.api.post('/groups', { name: 'Busy', currency: 'EUR' });
  const groupId = group.body.groupId as string;
  const base = await ctx.env.app.listen({ port: 0, host: '127.0.0.1' });
  const controller = new AbortController();
  const streams = await Promise.all(Array.from({ length: 40 }, () => openStream(base, groupId, ann.token, controller.signal)));
  t.teardown(() => controller.abort());
  for (let i = 0; i < 100 && streams.some((s) => s.versions.length === 0); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(
    streams.every((s) => s.versions[0] === 1),
    'every stream opens with the current version',
  );

  const readsBefore = ctx.env.changes.stats.reads;
  // Another process's command: committed without telling this process.
  const result = await handleGroupCommand(
    ctx.env.handlerDeps(),
    { groupId, actorUserId: ann.userId, requestId: 'elsewhere' },
    {
      type: 'AddExpense',
      expenseId: 'from-elsewhere',
      now: new Date().toISOString(),
      input: { description: 'x', amount: '3.00', paidBy: ann.userId, split: { mode: 'equal' } },
    },
  );
  t.ok('outcome' in result && result.outcome.version === 2);
  for (let i = 0; i < 250 && streams.some((s) => !s.versions.includes(2)); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(
    streams.every((s) => s.versions.includes(2)),
    'every stream hears version 2 through the log tail',
  );
  t.equal(ctx.env.changes.stats.reads - readsBefore, 1, 'the group was read once for all 40 streams');

  // A write in this process is pushed at once from its outcome, without a read.
  const own = await ann.api.post(`/groups/${groupId}/expenses`, { description: 'y', amount: '1.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(own.status, 201);
  for (let i = 0; i < 100 && streams.some((s) => !s.versions.includes(3)); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(
    streams.every((s) => s.versions.includes(3)),
    'every stream hears version 3',
  );
  await new Promise((r) => setTimeout(r, 200)); // the tail sees version 3 too, and drops it
  t.equal(ctx.env.changes.stats.reads - readsBefore, 1, 'an own commit costs no read, and the tail does not read it again');
  t.ok(
    streams.every((s) => s.versions.join() === '1,2,3'),
    'each stream got each version once, in order',
  );
  controller.abort();
  await Promise.all(streams.map((s) => s.done));
});

t.test('live streams are capped per token: one more is 429 TOO_MANY_STREAMS, another token is not held back, a closed one frees its place', async (t) => {
  const capped = await buildApp({ db: ctx.env.database.db, changes: ctx.env.changes, logger: pino({ level: 'silent' }), liveStreamsPerToken: 3 });
  const base = await capped.listen({ port: 0, host: '127.0.0.1' });
  const controllers: AbortController[] = [];
  t.teardown(async () => {
    for (const c of controllers) c.abort();
    await capped.close();
  });
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const groupId = (await ann.api.post('/groups', { name: 'Capped', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const open = async (token: string) => {
    const controller = new AbortController();
    controllers.push(controller);
    const res = await fetch(`${base}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    return { res, controller };
  };
  const three = await Promise.all([open(ann.token), open(ann.token), open(ann.token)]);
  t.same(
    three.map((s) => s.res.status),
    [200, 200, 200],
  );
  const fourth = await open(ann.token);
  t.equal(fourth.res.status, 429);
  t.equal(fourth.res.headers.get('retry-after'), '5');
  t.match(await fourth.res.json(), { code: 'TOO_MANY_STREAMS', detail: /at most 3/ });
  t.equal((await open(bob.token)).res.status, 200, "another token's streams are its own");

  three[0]?.controller.abort();
  let again = await open(ann.token);
  for (let i = 0; i < 100 && again.res.status === 429; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    again = await open(ann.token);
  }
  t.equal(again.res.status, 200, 'a closed stream gives its place back');

  // Concurrent opens cannot pass the cap together.
  for (const c of controllers) c.abort();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const burst = await Promise.all(Array.from({ length: 10 }, () => open(ann.token)));
  t.equal(burst.filter((s) => s.res.status === 200).length, 3, 'ten at once: three open');
});
