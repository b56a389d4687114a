import t from 'tap';
import { useTestApp, type Api } from './helpers/app.js';

// The whole history over HTTP (issue #14 item 3): the expense list searched by
// description (`q`) and filtered by member (`member`), its cursor bound to the search it
// came from, and page sizes above the maximum taken as the maximum on every paged read.

const ctx = useTestApp(t);

/** Ann and Bob's group `g` with the given expenses (description, who paid, who shares), one a minute apart, oldest first. */
async function groupWith(g: string, expenses: [string, 'ann' | 'bob', ('ann' | 'bob')[]][]) {
  const ann = await ctx.api.signUp('Ann', `${g}-ann`);
  const bob = await ctx.api.signUp('Bob', `${g}-bob`);
  await ann.api.post('/groups', { groupId: g, name: 'Trip', currency: 'EUR', members: [`${g}-bob`] });
  const id = (who: 'ann' | 'bob') => `${g}-${who}`;
  for (const [i, [description, payer, among]] of expenses.entries()) {
    const added = await ann.api.post(`/groups/${g}/expenses`, {
      expenseId: `e${i}`,
      description,
      amount: '10.00',
      paidBy: id(payer),
      split: { mode: 'equal', among: among.map(id) },
      occurredAt: new Date(Date.UTC(2026, 10, 1, 12, i)).toISOString(),
    });
    if (added.status !== 201) throw new Error(`${description}: ${added.status} ${JSON.stringify(added.body)}`);
  }
  return { ann, bob };
}

/** Every page of a listing, following nextCursor. */
async function allPages(api: Api, url: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const sep: string = url.includes('?') ? '&' : '?';
    const res: any = await api.get(cursor ? `${url}${sep}cursor=${encodeURIComponent(cursor)}` : url);
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(res.body)}`);
    pages.push(res.body.items.map((e: { description: string }) => e.description));
    cursor = res.body.nextCursor;
  } while (cursor);
  return pages;
}

t.test('q keeps descriptions containing the text, case-insensitively, with LIKE wildcards taken literally', async (t) => {
  const { ann } = await groupWith('hq', [
    ['Dinner at Rita', 'ann', ['ann', 'bob']],
    ['Taxi', 'bob', ['ann', 'bob']],
    ['dinner again', 'bob', ['ann']],
    ['100% juice', 'ann', ['bob']],
    ['snake_case', 'ann', ['bob']],
    ['back\\slash', 'ann', ['bob']],
  ]);
  const list = async (q: string) => (await ann.api.get(`/groups/hq/expenses?q=${encodeURIComponent(q)}`)).body.items.map((e: any) => e.description);
  t.same(await list('DINNER'), ['dinner again', 'Dinner at Rita'], 'newest first, any case');
  t.same(await list('%'), ['100% juice'], '% matches only a percent sign');
  t.same(await list('_'), ['snake_case'], '_ matches only an underscore');
  t.same(await list('\\'), ['back\\slash'], 'a backslash matches itself');
  t.same(await list('  taxi '), ['Taxi'], 'trimmed like any text');
  t.same(await list('nothing like it'), []);
});

t.test('member keeps what a user paid or has a share in; filters combine and deleted ones stay out unless asked', async (t) => {
  const { ann, bob } = await groupWith('hm', [
    ['Bob pays for Ann', 'bob', ['ann']],
    ['Ann alone', 'ann', ['ann']],
    ['Shared', 'ann', ['ann', 'bob']],
    ['Ann pays for Bob', 'ann', ['bob']],
  ]);
  const list = async (query: string, api = ann.api) => (await api.get(`/groups/hm/expenses?${query}`)).body.items.map((e: any) => e.description);
  t.same(await list('member=hm-bob'), ['Ann pays for Bob', 'Shared', 'Bob pays for Ann'], 'as payer or sharer');
  t.same(await list('member=hm-ann', bob.api), ['Ann pays for Bob', 'Shared', 'Ann alone', 'Bob pays for Ann']);
  t.same(await list('member=hm-bob&q=pays'), ['Ann pays for Bob', 'Bob pays for Ann'], 'q and member together');
  t.same(await list('member=nobody'), [], 'someone who is in nothing: an empty list');
  t.equal((await bob.api.delete('/groups/hm/expenses/e2')).status, 200);
  t.same(await list('member=hm-bob'), ['Ann pays for Bob', 'Bob pays for Ann']);
  t.same(await list('member=hm-bob&includeDeleted=true'), ['Ann pays for Bob', 'Shared', 'Bob pays for Ann']);
  const outsider = await ctx.api.signUp('Eve', 'hm-eve');
  t.equal((await outsider.api.get('/groups/hm/expenses?member=hm-bob')).status, 404, 'a filter opens nothing to a non-member');
});

t.test('the cursor pages through a filtered list and is refused under other filters', async (t) => {
  const expenses: [string, 'ann' | 'bob', ('ann' | 'bob')[]][] = [];
  for (let i = 0; i < 25; i++) expenses.push([i % 2 ? `Coffee ${i}` : `Tea ${i}`, i % 3 ? 'ann' : 'bob', i % 5 ? ['ann', 'bob'] : ['ann']]);
  const { ann } = await groupWith('hc', expenses);
  const coffees = expenses.filter(([d]) => d.startsWith('Coffee')).map(([d]) => d);
  const pages = await allPages(ann.api, '/groups/hc/expenses?q=coffee&limit=5');
  t.same(
    pages.map((p) => p.length),
    [5, 5, 2, 0].slice(0, pages.length),
  );
  t.same(pages.flat(), [...coffees].reverse(), 'every match once, newest first, across pages');
  const bobs = expenses.filter(([, payer, among]) => payer === 'bob' || among.includes('bob')).map(([d]) => d);
  t.same((await allPages(ann.api, '/groups/hc/expenses?member=hc-bob&q=t&limit=4')).flat(), bobs.filter((d) => /t/i.test(d)).reverse());

  const first = await ann.api.get('/groups/hc/expenses?q=coffee&limit=5');
  const cursor = encodeURIComponent(first.body.nextCursor);
  for (const other of ['q=tea', '', 'q=coffee&member=hc-bob', 'q=coffee&includeDeleted=true']) {
    const res = await ann.api.get(`/groups/hc/expenses?${other}&limit=5&cursor=${cursor}`);
    t.equal(res.status, 400, `a cursor of q=coffee under "${other}": 400`);
    t.equal(res.body.code, 'INVALID_CURSOR');
  }
  t.equal((await ann.api.get(`/groups/hc/expenses?q=coffee&limit=7&cursor=${cursor}`)).status, 200, 'another page size continues the same search');
  const oldStyle = Buffer.from(JSON.stringify(['2026-11-01T12:20:00.000Z', 21])).toString('base64url');
  t.equal((await ann.api.get(`/groups/hc/expenses?cursor=${oldStyle}`)).status, 200, 'a cursor from before filters continues the unfiltered list');
  t.equal((await ann.api.get(`/groups/hc/expenses?q=tea&cursor=${oldStyle}`)).body.code, 'INVALID_CURSOR', '…and nothing else');
});

t.test('a limit above the maximum is taken as the maximum; below 1 or not a whole number is a 400', async (t) => {
  const expenses: [string, 'ann' | 'bob', ('ann' | 'bob')[]][] = [];
  for (let i = 0; i < 3; i++) expenses.push([`Item ${i}`, 'ann', ['ann', 'bob']]);
  const { ann } = await groupWith('hl', expenses);
  const listed = await ann.api.get('/groups/hl/expenses?limit=100000000000');
  t.equal(listed.status, 200);
  t.equal(listed.body.items.length, 3);
  const events = await ann.api.get('/groups/hl/events?limit=5000');
  t.equal(events.status, 200, 'the group log too');
  t.equal(events.body.items.length, 4, 'GroupCreated and three expenses');
  for (const url of ['/groups/hl/expenses', '/groups/hl/events']) {
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3', '+5', ' 5', '0x10']) {
      const res = await ann.api.get(`${url}?limit=${encodeURIComponent(bad)}`);
      t.equal(res.status, 400, `${url} limit="${bad}": 400`);
      t.match(res.headers['content-type'], /^application\/problem\+json/);
      t.equal(res.body.errors?.[0]?.path, 'query/limit', 'names the parameter');
    }
  }
});

t.test('bad search and filter input is a 400 problem+json', async (t) => {
  const { ann } = await groupWith('hb', [['Lunch', 'ann', ['ann', 'bob']]]);
  const cases: [string, string][] = [
    ['q=', 'q'],
    ['q=%20%20', 'q'],
    ['q=a%00b', 'q'],
    [`q=${'x'.repeat(201)}`, 'q'],
    ['member=', 'member'],
    [`member=${'x'.repeat(101)}`, 'member'],
    ['member=a%01b', 'member'],
    ['q=a&q=b', 'q'],
    ['search=lunch', ''],
  ];
  for (const [query, path] of cases) {
    const res = await ann.api.get(`/groups/hb/expenses?${query}`);
    t.equal(res.status, 400, `${query.slice(0, 30)}: 400`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    if (path) t.equal(res.body.errors?.[0]?.path, `query/${path}`, `${query.slice(0, 30)}: names ${path}`);
  }
});

t.test('one expense by id, deleted or not, only for members', async (t) => {
  const { ann, bob } = await groupWith('h1', [
    ['Lunch', 'ann', ['ann', 'bob']],
    ['Taxi', 'bob', ['ann', 'bob']],
  ]);
  const lunch = await bob.api.get('/groups/h1/expenses/e0');
  t.equal(lunch.status, 200);
  t.match(lunch.body, { expenseId: 'e0', description: 'Lunch', amount: '10.00', deleted: false, version: 2 });
  t.equal((await ann.api.delete('/groups/h1/expenses/e0')).status, 200);
  t.match((await bob.api.get('/groups/h1/expenses/e0')).body, { description: 'Lunch', deleted: true, version: 4 }, 'its version is the deletion');
  const missing = await bob.api.get('/groups/h1/expenses/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.code, 'EXPENSE_NOT_FOUND');
  const eve = await ctx.api.signUp('Eve', 'h1-eve');
  t.equal((await eve.api.get('/groups/h1/expenses/e0')).body.code, 'GROUP_NOT_FOUND', 'to a non-member the group does not exist');
  t.equal((await ctx.api.get('/groups/h1/expenses/e0')).status, 401);
});
