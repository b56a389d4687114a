import t from 'tap';
import { useTestApp } from './helpers/app.js';

// CSV export and import in Splitwise's format (issue #14 item 6): a Splitwise export
// imports to exactly the balances its Total balance row states, importing it again adds
// nothing, and a FairShare export imports into another group with the same balances.

const ctx = useTestApp(t);

const SPLITWISE = [
  'Date,Description,Category,Cost,Currency,Ann,Bob,Cy',
  '',
  '2026-10-01,Dinner,Food and drink,90.00,USD,60.00,-30.00,-30.00',
  '2026-10-02,Taxi,Transportation,30.00,USD,-10.00,20.00,-10.00',
  '2026-10-02,Taxi,Transportation,30.00,USD,-10.00,20.00,-10.00',
  '2026-10-03,Groceries,General,40.00,USD,10.00,10.00,-20.00',
  '2026-10-04,"Tickets, ""museum""",Entertainment,25.50,USD,-12.75,0.00,12.75',
  '2026-10-05,Bob paid Ann,Payment,10.00,USD,-10.00,10.00,0.00',
  '',
  ',Total balance, , ,USD,27.25,30.00,-57.25',
  '',
].join('\n');

const balancesOf = (body: { balances: { name: string; balance: string }[] }) => Object.fromEntries(body.balances.map((b) => [b.name, b.balance]));

async function threeOf(prefix: string, currency = 'USD') {
  const ann = await ctx.api.signUp('Ann', `${prefix}-ann`);
  const bob = await ctx.api.signUp('Bob', `${prefix}-bob`);
  const cy = await ctx.api.signUp('Cy', `${prefix}-cy`);
  const groupId = `${prefix}-g`;
  const made = await ann.api.post('/groups', { groupId, name: 'Trip', currency, members: [bob.userId, cy.userId] });
  if (made.status !== 201) throw new Error(JSON.stringify(made.body));
  return { ann, bob, cy, groupId };
}

t.test('a Splitwise export imports to exactly its Total balance row, after a preview that writes nothing; again: nothing added', async (t) => {
  const { ann, bob, cy, groupId } = await threeOf('sw');
  const preview = await ann.api.post(`/groups/${groupId}/import/preview`, { csv: SPLITWISE });
  t.equal(preview.status, 200, JSON.stringify(preview.body));
  t.same(preview.body.columns, [
    { column: 5, name: 'Ann', userId: ann.userId },
    { column: 6, name: 'Bob', userId: bob.userId },
    { column: 7, name: 'Cy', userId: cy.userId },
  ]);
  t.equal(preview.body.toImport, 6, 'both identical Taxi rows count');
  t.equal(preview.body.problems, 0);
  t.equal(preview.body.totalsAgree, true);
  t.match(preview.body.rows[0], {
    line: 3,
    kind: 'expense',
    amount: '90.00',
    payers: [{ userId: ann.userId, amount: '90.00' }],
    shares: [
      { userId: bob.userId, amount: '30.00' },
      { userId: cy.userId, amount: '30.00' },
      { userId: ann.userId, amount: '30.00' },
    ],
    status: 'new',
  });
  t.match(preview.body.rows[3], { description: 'Groceries', amount: '20.00', payers: [{ amount: '10.00' }, { amount: '10.00' }] }, 'two payers: the nets only');
  t.match(preview.body.rows[4], { description: 'Tickets, "museum"', amount: '25.50' });
  t.match(preview.body.rows[5], { kind: 'payment', amount: '10.00', payers: [{ userId: bob.userId }], shares: [{ userId: ann.userId, amount: '10.00' }] });
  t.not(preview.body.rows[1].expenseId, preview.body.rows[2].expenseId, 'identical rows are different expenses');
  t.equal((await ctx.env.eventsOf(groupId)).length, 1, 'the preview wrote nothing');

  const imported = await ann.api.post(`/groups/${groupId}/import`, { csv: SPLITWISE });
  t.equal(imported.status, 200, JSON.stringify(imported.body));
  t.match(imported.body, { imported: 6, alreadyPresent: 0, skipped: 0 });
  t.same(balancesOf(imported.body), { Ann: '27.25', Bob: '30.00', Cy: '-57.25' });
  const read = await cy.api.get(`/groups/${groupId}/balances`);
  t.same(balancesOf(read.body), { Ann: '27.25', Bob: '30.00', Cy: '-57.25' });
  const events = (await ctx.env.eventsOf(groupId)).length;

  const again = await bob.api.post(`/groups/${groupId}/import`, { csv: SPLITWISE });
  t.equal(again.status, 200);
  t.match(again.body, { imported: 0, alreadyPresent: 6 });
  t.equal((await ctx.env.eventsOf(groupId)).length, events, 'nothing appended');
  const seen = await ann.api.post(`/groups/${groupId}/import/preview`, { csv: SPLITWISE });
  t.equal(seen.body.toImport, 0);
  t.same(
    seen.body.rows.map((r: { status: string }) => r.status),
    ['present', 'present', 'present', 'present', 'present', 'present'],
  );

  // Imported rows edited or deleted since are left as they are.
  const [dinner, taxi] = seen.body.rows;
  const edited = await ann.api.put(`/groups/${groupId}/expenses/${dinner.expenseId}`, {
    description: 'Dinner (fixed)',
    amount: '90.00',
    paidBy: bob.userId,
    split: { mode: 'equal' },
  });
  t.equal(edited.status, 200);
  t.equal((await ann.api.delete(`/groups/${groupId}/expenses/${taxi.expenseId}`)).status, 200);
  const changed = balancesOf((await ann.api.get(`/groups/${groupId}/balances`)).body);
  const afterEdits = (await ctx.env.eventsOf(groupId)).length;
  const third = await ann.api.post(`/groups/${groupId}/import`, { csv: SPLITWISE });
  t.equal(third.status, 200, JSON.stringify(third.body));
  t.match(third.body, { imported: 0, alreadyPresent: 6 });
  t.same(balancesOf(third.body), changed);
  t.equal((await ctx.env.eventsOf(groupId)).length, afterEdits);
  t.same((await ctx.env.verify()).mismatches, []);
});

t.test('a Total balance row with a date (the day of the export) is the totals, not an expense', async (t) => {
  const { ann, groupId } = await threeOf('dated-total');
  const csv = SPLITWISE.replace(',Total balance, , ,USD', '2026-10-06,Total balance, , ,USD');
  t.not(csv, SPLITWISE);
  const preview = await ann.api.post(`/groups/${groupId}/import/preview`, { csv });
  t.equal(preview.status, 200, JSON.stringify(preview.body));
  t.equal(preview.body.toImport, 6, 'the six rows, not the totals');
  t.equal(preview.body.totalsAgree, true, 'and the totals are read as such');
  t.notOk(
    (preview.body.rows as { description: string }[]).some((r) => r.description === 'Total balance'),
    'no row called Total balance',
  );
});

t.test('a file half imported is completed by importing it again', async (t) => {
  const { ann, groupId } = await threeOf('half');
  const lines = SPLITWISE.split('\n');
  const firstRows = lines.slice(0, 4).join('\n');
  t.match((await ann.api.post(`/groups/${groupId}/import`, { csv: firstRows })).body, { imported: 2 });
  const rest = await ann.api.post(`/groups/${groupId}/import`, { csv: SPLITWISE });
  t.match(rest.body, { imported: 4, alreadyPresent: 2 });
  t.same(balancesOf(rest.body), { Ann: '27.25', Bob: '30.00', Cy: '-57.25' });
});

t.test('export: a Splitwise file of the group (ETag = version), which imports into another group with the same balances', async (t) => {
  const { ann, bob, cy, groupId } = await threeOf('ex');
  await ann.api.post(`/groups/${groupId}/expenses`, {
    description: 'Hotel',
    amount: '100.00',
    paidBy: ann.userId,
    split: { mode: 'equal' },
    occurredAt: '2026-11-01T10:00:00Z',
  });
  await ann.api.post(`/groups/${groupId}/expenses`, {
    description: '=cmd, a formula',
    amount: '10.00',
    payers: [
      { userId: bob.userId, amount: '4.00' },
      { userId: cy.userId, amount: '6.00' },
    ],
    split: { mode: 'equal', among: [ann.userId, bob.userId] },
    occurredAt: '2026-11-02T10:00:00Z',
  });
  await ann.api.post(`/groups/${groupId}/expenses`, {
    kind: 'payment',
    description: 'Cy pays Ann',
    amount: '7.00',
    paidBy: cy.userId,
    split: { mode: 'equal', among: [ann.userId] },
  });
  const gone = await ann.api.post(`/groups/${groupId}/expenses`, { description: 'Deleted', amount: '5.00', paidBy: bob.userId, split: { mode: 'equal' } });
  await ann.api.delete(`/groups/${groupId}/expenses/${gone.body.expense.expenseId}`);
  const before = balancesOf((await ann.api.get(`/groups/${groupId}/balances`)).body);

  const response = await ctx.env.app.inject({ method: 'GET', url: `/groups/${groupId}/export.csv`, headers: { authorization: `Bearer ${ann.token}` } });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/csv/);
  t.match(response.headers['content-disposition'], /^attachment; filename="fairshare-Trip\.csv"$/);
  const version = (await ann.api.get(`/groups/${groupId}`)).body.version;
  t.equal(response.headers.etag, `"${version}"`);
  const lines = response.body.split('\r\n');
  t.equal(lines[0], 'Date,Description,Category,Cost,Currency,Ann,Bob,Cy');
  t.equal(lines[1], '2026-11-01,Hotel,General,100.00,USD,66.66,-33.33,-33.33');
  t.equal(lines[2], `2026-11-02,"'=cmd, a formula",General,10.00,USD,-5.00,-1.00,6.00`, 'a formula is written as text');
  t.match(lines[3], /^\d{4}-\d{2}-\d{2},Cy pays Ann,Payment,7.00,USD,-7.00,0.00,7.00$/);
  t.equal(lines[4], `,Total balance,,,USD,${before.Ann},${before.Bob},${before.Cy}`);
  t.equal(lines.length, 6, 'the deleted expense is not in it');
  const cached = await ctx.env.app.inject({
    method: 'GET',
    url: `/groups/${groupId}/export.csv`,
    headers: { authorization: `Bearer ${ann.token}`, 'if-none-match': `"${version}"` },
  });
  t.equal(cached.statusCode, 304);

  const other = await threeOf('ex2');
  const moved = await other.ann.api.post(`/groups/${other.groupId}/import`, { csv: response.body });
  t.equal(moved.status, 200, JSON.stringify(moved.body));
  t.same(balancesOf(moved.body), before, 'the same balances');
  const expenses = (await other.ann.api.get(`/groups/${other.groupId}/expenses`)).body.items;
  t.same(
    expenses.map((e: { description: string; amount: string; kind: string }) => [e.description, e.amount, e.kind]),
    [
      ['Cy pays Ann', '7.00', 'payment'],
      ['=cmd, a formula', '10.00', 'expense'],
      ['Hotel', '100.00', 'expense'],
    ],
  );
  t.same((await ctx.env.verify()).mismatches, []);
});

t.test('malformed files are refused with 400 naming the row and column; nothing is written', async (t) => {
  const { ann, groupId } = await threeOf('bad');
  const header = 'Date,Description,Category,Cost,Currency,Ann,Bob,Cy';
  const cases: [string, string, RegExp][] = [
    [`${header}\n2026-10-01,"Dinner,General,9.00,USD,9.00,-9.00,0.00\n`, 'row 2', /never closed/],
    [`${header}\n2026-10-01,Dinner,General,9.00,USD,9.00,-9.00\n`, 'row 2', /7 fields; the header has 8/],
    [`Date,Name,Category,Cost,Currency,Ann\n`, 'row 1/2', /must be "Description"/],
    [`Date,Description,Category,Cost,Currency\n`, 'row 1', /no member columns/],
    [`${header}\n2026-10-01,Dinner,General,9.001,USD,9.00,-9.00,0.00\n`, 'row 2/Cost', /at most 2 decimal places/],
    [`${header}\n2026-10-01,Dinner,General,9.00,USD,9.00,-9.005,0.00\n`, 'row 2/Bob', /at most 2 decimal places/],
    [`${header}\n2026-10-01,Dinner,General,9.00,USD,9.00,-nine,0.00\n`, 'row 2/Bob', /decimal string/],
    [`${header}\n2026-02-30,Dinner,General,9.00,USD,9.00,-9.00,0.00\n`, 'row 2/Date', /must be a date/],
    [`${header}\n2026-13-01,Dinner,General,9.00,USD,9.00,-9.00,0.00\n`, 'row 2/Date', /must be a date/],
    [`${header}\n2026-10-01,Din"ner,General,9.00,USD,9.00,-9.00,0.00\n`, 'row 2', /quote inside an unquoted field/],
  ];
  for (const [csv, path, message] of cases) {
    for (const route of ['import/preview', 'import']) {
      const res = await ann.api.post(`/groups/${groupId}/${route}`, { csv });
      t.equal(res.status, 400, `${route}: ${path}`);
      t.equal(res.body.code, 'MALFORMED_CSV');
      t.match(res.body.errors, [{ path, message }]);
    }
  }
  t.equal((await ann.api.post(`/groups/${groupId}/import`, { csv: 42 })).status, 400, 'not text');
  t.equal((await ctx.env.eventsOf(groupId)).length, 1);
});

t.test(
  'columns: an unknown one in the mapping is 400; a column mapped to no member that holds money is a problem of its rows, and import refuses the file',
  async (t) => {
    const { ann, bob, groupId } = await threeOf('map');
    const csv =
      'Date,Description,Category,Cost,Currency,Ann,Bob,Zed\n2026-10-01,Dinner,General,9.00,USD,6.00,-3.00,-3.00\n2026-10-02,Lunch,General,4.00,USD,2.00,-2.00,0.00\n';
    const preview = await ann.api.post(`/groups/${groupId}/import/preview`, { csv });
    t.same(
      preview.body.columns.map((c: { userId: string | null }) => c.userId),
      [ann.userId, bob.userId, null],
    );
    t.match(preview.body.rows, [{ status: 'problem', problems: [/column "Zed" is mapped to no member but holds -3.00/] }, { status: 'new' }]);
    const refused = await ann.api.post(`/groups/${groupId}/import`, { csv });
    t.equal(refused.status, 422);
    t.equal(refused.body.code, 'IMPORT_HAS_PROBLEMS');
    t.match(refused.body.errors, [{ path: 'row 2' }]);
    t.equal((await ctx.env.eventsOf(groupId)).length, 1, 'nothing imported');

    const mapped = await ann.api.post(`/groups/${groupId}/import/preview`, { csv, mapping: [{ column: 7, userId: `map-cy` }] });
    t.equal(mapped.body.toImport, 2, 'mapping Zed to Cy');
    t.equal((await ann.api.post(`/groups/${groupId}/import/preview`, { csv, mapping: [{ column: 8, userId: 'map-cy' }] })).body.code, 'UNKNOWN_COLUMN');
    t.equal((await ann.api.post(`/groups/${groupId}/import/preview`, { csv, mapping: [{ column: 7, userId: 'nobody' }] })).body.code, 'UNKNOWN_MEMBER');
    const swapped = await ann.api.post(`/groups/${groupId}/import`, {
      csv,
      mapping: [
        { column: 5, userId: bob.userId },
        { column: 6, userId: ann.userId },
        { column: 7, userId: 'map-cy' },
      ],
    });
    t.same(balancesOf(swapped.body), { Ann: '-5.00', Bob: '8.00', Cy: '-3.00' });

    const wrong =
      'Date,Description,Category,Cost,Currency,Ann,Bob\n2026-10-01,Dinner,General,9.00,EUR,6.00,-6.00\n2026-10-02,Lunch,General,9.00,USD,6.00,-5.00\n2026-10-03,Pay,Payment,9.00,USD,6.00,-6.00\n';
    const problems = await ann.api.post(`/groups/${groupId}/import/preview`, { csv: wrong });
    t.match(problems.body.rows, [{ problems: [/currency is EUR/] }, { problems: [/add up to 1.00, not 0/] }, { status: 'new', kind: 'payment' }]);
  },
);

t.test('401 without a token, 404 for someone not in the group', async (t) => {
  const { groupId } = await threeOf('auth');
  const stranger = await ctx.api.signUp('Stranger', 'auth-x');
  for (const [method, url] of [
    ['GET', `/groups/${groupId}/export.csv`],
    ['POST', `/groups/${groupId}/import/preview`],
    ['POST', `/groups/${groupId}/import`],
  ] as const) {
    const body = method === 'POST' ? { csv: SPLITWISE } : undefined;
    t.equal((await ctx.api.request(method, url, body)).status, 401, `${url} without a token`);
    const res = await stranger.api.request(method, url, body);
    t.equal(res.status, 404, `${url} to a stranger`);
    t.equal(res.body.code, 'GROUP_NOT_FOUND');
  }
});

t.test('limits: 1,000 rows import; 1,001 rows or more than 1 MiB of text are refused', async (t) => {
  const { ann, groupId } = await threeOf('lim');
  const header = 'Date,Description,Category,Cost,Currency,Ann,Bob,Cy\n';
  const rows = (n: number) => Array.from({ length: n }, (_, i) => `2026-10-01,Coffee ${i % 7},General,3.00,USD,2.00,-1.00,-1.00\n`).join('');
  const tooMany = await ann.api.post(`/groups/${groupId}/import/preview`, { csv: header + rows(1001) });
  t.equal(tooMany.status, 400);
  t.match(tooMany.body.errors, [{ path: 'row 1002', message: /at most 1000 rows/ }]);
  const huge = await ann.api.post(`/groups/${groupId}/import/preview`, { csv: header + 'x'.repeat(1024 * 1024) });
  t.equal(huge.status, 400, 'more than 1 MiB of text');
  const started = Date.now();
  const imported = await ann.api.post(`/groups/${groupId}/import`, { csv: header + rows(1000) });
  t.comment(`1,000 rows imported in ${Date.now() - started} ms`);
  t.match(imported.body, { imported: 1000 });
  t.same(balancesOf(imported.body), { Ann: '2000.00', Bob: '-1000.00', Cy: '-1000.00' });
});
