import fc from 'fast-check';
import t from 'tap';
import { useTestApp } from './helpers/app.js';

// Hostile input across every route of the OpenAPI document: malformed bodies, ids,
// query strings, headers and tokens. Seeded, so a failure replays. Every answer must be
// a 4xx problem+json (a read with a valid token may answer 200), never a 5xx or a hang,
// and the event log and the projection must be byte-for-byte what they were.

const ctx = useTestApp(t);

const RUNS = 2_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

/** Text that has broken servers: NUL, lone surrogates, invisible and control characters, huge numbers, paths, markup. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u200b\u200d',
  '\u0301',
  '\u0007',
  '../../etc/passwd',
  '%00',
  '%zz',
  "'; drop table events; --",
  '<script>alert(1)</script>',
  '9'.repeat(400),
  '-1',
  '1e309',
  'NaN',
  '0x10',
  '2147483648',
  '99999999999999999999',
  '__proto__',
  'constructor',
  '{"a":',
  'é'.repeat(300),
  '😀'.repeat(80),
);
const text = fc.oneof(nasty, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }));
const json: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  text,
  fc.dictionary(
    fc.constantFrom(
      'description',
      'amount',
      'paidBy',
      'split',
      'payers',
      'name',
      'currency',
      'members',
      'userId',
      'expenseId',
      'kind',
      'occurredAt',
      '__proto__',
      'extra',
    ),
    fc.oneof(text, fc.jsonValue({ maxDepth: 2 })),
    { maxKeys: 6 },
  ),
);

/** Percent-encodes a path segment; an unpaired surrogate (which encodeURIComponent refuses) as its raw WTF-8 bytes, as a hostile client may send it. */
function encodeSegment(segment: string): string {
  let out = '';
  for (const ch of segment) {
    const unit = ch.charCodeAt(0);
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

t.test(`${RUNS} hostile requests over every route: never a 5xx, never a change`, async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Target', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const added = await ann.api.post(`/groups/${g}/expenses`, {
    expenseId: 'e1',
    description: 'Real',
    amount: '9.00',
    paidBy: ann.userId,
    split: { mode: 'equal' },
  });
  t.equal(added.status, 201);
  const doc = (await ctx.api.get('/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ path, method: method.toUpperCase() })));
  t.ok(routes.length >= 15, `${routes.length} routes in the OpenAPI document`);

  const asText = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const dump = async () =>
    asText(
      await Promise.all(
        [
          ...[
            'events',
            'groups',
            'group_members',
            'user_balances',
            'expenses',
            'idempotency_keys',
            'projection_changes',
            'users',
            'invites',
            'sign_in_codes',
          ].map((table) => `select * from ${table} order by 1, 2`),
          // When a device was last used may move (once a minute): everything else about it may not.
          'select device_id, user_id, token_hash, kind, name, created_at from devices order by 1',
        ].map(async (query) => (await ctx.env.database.query(query)).rows),
      ),
    ) + asText(await ctx.env.eventsOf(g));
  const before = await dump();

  const request = fc.record({
    route: fc.constantFrom(...routes),
    params: fc.array(fc.oneof(fc.constant(g), fc.constant('e1'), fc.constant(ann.userId), text), { minLength: 3, maxLength: 3 }),
    query: fc.option(fc.dictionary(fc.constantFrom('limit', 'cursor', 'after', 'includeDeleted', 'zz'), text, { maxKeys: 3 }), { nil: undefined }),
    body: fc.option(json, { nil: undefined }),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined),
    token: fc.constantFrom(ann.token, bob.token, 'fs_forged', `${ann.token}x`, undefined),
    scheme: fc.constantFrom('Bearer', 'bearer', 'Basic', 'Bearer  '),
    ifMatch: fc.option(fc.oneof(text, fc.constantFrom('*', 'W/"2"', '"2", "x"', '"99"')), { nil: undefined }),
    idempotencyKey: fc.option(text, { nil: undefined }),
  });

  let sent = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      let i = 0;
      const path = r.route.path.replace(/\{[^}]+\}/g, () => encodeSegment(String(r.params[i++] ?? 'x')));
      const query = r.query ? `?${new URLSearchParams(r.query as Record<string, string>).toString()}` : '';
      const isWrite = !['GET', 'HEAD'].includes(r.route.method);
      // A write always carries something wrong: a body that is not a valid command, or no
      // valid token. Sign-up needs no token and takes one short field, and a new invite link,
      // sign-in code or sign-in key takes an empty body (or none), so a random body can be a
      // valid one: it gets a field no schema takes.
      const openBody = r.route.method === 'POST' && (r.route.path === '/users' || r.route.path.endsWith('/invites') || r.route.path.startsWith('/me/sign-in-'));
      const isObject = r.body !== null && typeof r.body === 'object' && !Array.isArray(r.body);
      const spoiled = openBody && isObject ? { ...(r.body as object), extra: true } : openBody && r.body === null ? { extra: true } : r.body;
      const body = isWrite && spoiled === undefined ? { extra: true } : spoiled;
      const headers: Record<string, string> = {};
      if (r.token) headers.authorization = `${r.scheme} ${r.token}`;
      if (r.contentType && body !== undefined) headers['content-type'] = r.contentType;
      if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch.replace(/[^\x20-\x7e]/g, '?');
      // A delete has no body to spoil, and a group's change may be as small as a valid
      // name: they name a version the group is not at.
      if (r.route.method === 'DELETE' || r.route.method === 'PATCH') headers['if-match'] = '"0"';
      if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey.replace(/[^\x20-\x7e]/g, '?');
      // A live stream that opens never ends: ask it with HEAD, which answers at once.
      const method = r.route.path.endsWith('/live') && r.route.method === 'GET' ? 'HEAD' : r.route.method;
      const res = await ctx.env.app.inject({
        method: method as 'GET',
        url: `${path}${query}`,
        headers,
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      sent += 1;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) throw new Error(`${r.route.method} ${path}${query} → ${res.statusCode} ${res.body}`);
      if (isWrite && res.statusCode < 400)
        throw new Error(`a hostile write was accepted: ${r.route.method} ${path} ${JSON.stringify(body)} → ${res.statusCode}`);
      if (res.statusCode >= 400 && !String(res.headers['content-type']).startsWith('application/problem+json')) {
        throw new Error(`${res.statusCode} without problem+json: ${r.route.method} ${path}${query}`);
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.equal(sent, RUNS, `${sent} requests (seed ${SEED}); answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  t.notOk(
    [...statuses.keys()].some((s) => s >= 500),
    'no 5xx',
  );
  t.equal(await dump(), before, 'the event log and the projection are byte-for-byte unchanged');
});
