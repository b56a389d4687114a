import t from 'tap';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { useTestApp } from './helpers/app.js';

// Announcements from the log: a change committed by another process (here: the unit of
// work called without this process's announce hook, as another server would) reaches
// every open live stream of the group, and the group is read once for all of them.

const ctx = useTestApp(t);

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
