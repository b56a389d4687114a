import t from 'tap';
import { useTestApp } from './helpers/app.js';

// Invite links over HTTP (issue #13 §2): made by a member, shown once, stored as a hash,
// 7 days by default, revocable, good for several people; opening one shows the group and
// who invited you; accepting it appends MemberAdded with invitedBy.

const ctx = useTestApp(t);

t.test('a link made by a member lets several people join, each once, recorded with who invited them', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'in-ann');
  const bob = await ctx.api.signUp('Bob', 'in-bob');
  const cy = await ctx.api.signUp('Cy', 'in-cy');
  await ann.api.post('/groups', { groupId: 'in-trip', name: 'Lisbon', currency: 'EUR' });

  const made = await ann.api.post('/groups/in-trip/invites', {});
  t.equal(made.status, 201);
  t.match(made.body, { token: /^fsi_[A-Za-z0-9_-]{43}$/, createdBy: { userId: 'in-ann', name: 'Ann' } });
  const days = (Date.parse(made.body.expiresAt) - Date.parse(made.body.createdAt)) / 86_400_000;
  t.ok(Math.abs(days - 7) < 0.01, `expires in 7 days (${days.toFixed(3)})`);
  const stored = await ctx.env.database.query<{ token_hash: Buffer }>(`select token_hash from invites where invite_id = $1`, [made.body.inviteId]);
  t.equal(stored.rows[0]?.token_hash.length, 32, 'only a SHA-256 of the token is stored');
  t.notOk(JSON.stringify(stored.rows).includes(made.body.token), 'never the token');

  const token = made.body.token as string;
  const shown = await ctx.api.get(`/invites/${token}`);
  t.equal(shown.status, 200, 'opening the link needs no account');
  t.same(shown.body, {
    groupId: 'in-trip',
    groupName: 'Lisbon',
    archived: false,
    invitedBy: { userId: 'in-ann', name: 'Ann' },
    expiresAt: made.body.expiresAt,
    place: null,
  });

  const joined = await bob.api.post(`/invites/${token}/accept`);
  t.equal(joined.status, 201);
  t.same(
    joined.body.members.map((m: { userId: string }) => m.userId),
    ['in-ann', 'in-bob'],
  );
  t.equal((await bob.api.post(`/invites/${token}/accept`)).status, 200, 'accepting again: already a member, nothing appended');
  t.equal((await cy.api.post(`/invites/${token}/accept`)).status, 201, 'the same link works for a second person');
  const events = await ctx.env.eventsOf('in-trip');
  t.same(
    events.filter((e) => e.type === 'MemberAdded').map((e) => e.data),
    [
      { userId: 'in-bob', name: 'Bob', invitedBy: 'in-ann' },
      { userId: 'in-cy', name: 'Cy', invitedBy: 'in-ann' },
    ],
  );
  t.match(events.at(-1)?.metadata, { actorUserId: 'in-cy' });
  t.equal((await cy.api.get('/groups/in-trip/balances')).status, 200, 'members now');

  const listed = await bob.api.get('/groups/in-trip/invites');
  t.same(
    listed.body.items.map((i: { inviteId: string }) => i.inviteId),
    [made.body.inviteId],
  );
  t.notOk('token' in listed.body.items[0], 'the list never shows a token again');
  t.equal((await ann.api.post('/groups/in-trip/invites')).status, 201, 'a link can be made without a body: the defaults');
  t.same((await ctx.env.verify({ groupId: 'in-trip' })).mismatches, []);
});

t.test('revoked or expired links stop working at once; strangers and bad tokens get nothing', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'rv-ann');
  const eve = await ctx.api.signUp('Eve', 'rv-eve');
  const dan = await ctx.api.signUp('Dan', 'rv-dan');
  await ann.api.post('/groups', { groupId: 'rv-g', name: 'Secret', currency: 'EUR' });
  const link = (await ann.api.post('/groups/rv-g/invites', { expiresInDays: 1 })).body;

  t.equal((await eve.api.post('/groups/rv-g/invites', {})).status, 404, 'a stranger cannot make a link');
  t.equal((await eve.api.get('/groups/rv-g/invites')).status, 404, 'nor list them');
  t.equal((await eve.api.delete(`/groups/rv-g/invites/${link.inviteId}`)).status, 404, 'nor revoke one');
  t.equal((await ctx.api.post('/groups/rv-g/invites', {})).status, 401);
  t.equal((await ctx.api.post(`/invites/${link.token}/accept`)).status, 401, 'joining needs an account');
  t.equal((await ctx.api.get('/invites/fsi_short')).status, 400, 'a malformed token');
  t.equal((await ctx.api.get(`/invites/fsi_${'A'.repeat(43)}`)).body.code, 'INVITE_NOT_FOUND', 'a made-up token');
  t.equal((await ann.api.post('/groups/rv-g/invites', { expiresInDays: 31 })).status, 400, 'at most 30 days');

  t.equal((await ann.api.delete(`/groups/rv-g/invites/${link.inviteId}`)).status, 204);
  t.equal((await ann.api.delete(`/groups/rv-g/invites/${link.inviteId}`)).status, 204, 'revoking again is fine');
  t.equal((await ctx.api.get(`/invites/${link.token}`)).status, 404, 'a revoked link shows nothing');
  const refused = await dan.api.post(`/invites/${link.token}/accept`);
  t.equal(refused.status, 404);
  t.equal(refused.body.code, 'INVITE_NOT_FOUND');
  t.same((await ann.api.get('/groups/rv-g/invites')).body.items, [], 'gone from the list');

  const expiring = (await ann.api.post('/groups/rv-g/invites', {})).body;
  await ctx.env.database.query(`update invites set expires_at = now() - interval '1 second', created_at = now() - interval '8 days' where invite_id = $1`, [
    expiring.inviteId,
  ]);
  t.equal((await dan.api.post(`/invites/${expiring.token}/accept`)).status, 404, 'an expired link');
  t.equal((await ctx.env.eventsOf('rv-g')).length, 1, 'nobody joined');

  // A link dies with its maker's membership, and an archived group takes nobody in.
  await ann.api.post('/groups/rv-g/members', { userId: 'rv-dan' });
  const annsLink = (await ann.api.post('/groups/rv-g/invites', {})).body;
  await ann.api.delete('/groups/rv-g/members/rv-ann');
  t.equal((await eve.api.post(`/invites/${annsLink.token}/accept`)).status, 404, 'a link of someone who left stops working');
  await dan.api.patch('/groups/rv-g', { archived: true });
  t.equal((await dan.api.post('/groups/rv-g/invites', {})).body.code, 'GROUP_ARCHIVED');
});

t.test('GET /users/:id: the name behind an id, for someone signed in', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'lu-ann');
  await ctx.api.signUp('Bob', 'lu-bob');
  t.same((await ann.api.get('/users/lu-bob')).body, { userId: 'lu-bob', name: 'Bob' });
  t.equal((await ann.api.get('/users/lu-nobody')).body.code, 'USER_NOT_FOUND');
  t.equal((await ctx.api.get('/users/lu-bob')).status, 401, 'not without a token');
});

t.test('a member who leaves takes their links along; someone who was a member comes back only when added; tokens stay out of the logs', async (t) => {
  const lines: string[] = [];
  const { startTestApp } = await import('./helpers/app.js');
  const pino = (await import('pino')).default;
  const env = await startTestApp({ logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
  t.teardown(() => env.close());
  const { Api } = await import('./helpers/app.js');
  const api = new Api(env.app);
  const ann = await api.signUp('Ann', 'lv-ann');
  const bob = await api.signUp('Bob', 'lv-bob');
  const cy = await api.signUp('Cy', 'lv-cy');
  await ann.api.post('/groups', { groupId: 'lv-g', name: 'Leaving', currency: 'EUR', members: ['lv-bob'] });
  const bobsLink = (await bob.api.post('/groups/lv-g/invites', {})).body;
  const annsLink = (await ann.api.post('/groups/lv-g/invites', {})).body;
  t.equal((await bob.api.delete('/groups/lv-g/members/lv-bob')).status, 200, 'Bob leaves');
  t.same(
    (await ann.api.get('/groups/lv-g/invites')).body.items.map((i: { inviteId: string }) => i.inviteId),
    [annsLink.inviteId],
    "Bob's link went with him",
  );
  t.equal((await cy.api.post(`/invites/${bobsLink.token}/accept`)).status, 404, 'it no longer works');
  await ann.api.post('/groups/lv-g/members', { userId: 'lv-bob' });
  t.equal((await cy.api.post(`/invites/${bobsLink.token}/accept`)).status, 404, 'nor once Bob is back');
  await bob.api.delete('/groups/lv-g/members/lv-bob');
  const back = await bob.api.post(`/invites/${annsLink.token}/accept`);
  t.equal(back.status, 409, "a former member cannot let himself back in with someone else's link");
  t.equal(back.body.code, 'FORMER_MEMBER');
  t.equal((await cy.api.post(`/invites/${annsLink.token}/accept`)).status, 201, 'a newcomer can');
  const logged = lines.join('');
  t.ok(logged.includes('/invites/fsi_'), 'the requests are logged');
  t.notOk(logged.includes(annsLink.token) || logged.includes(bobsLink.token), 'but never a whole invite token');
  t.same((await env.verify({ groupId: 'lv-g' })).mismatches, []);
});
