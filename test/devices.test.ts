import { createHash } from 'node:crypto';
import { Migrator } from 'kysely';
import pino from 'pino';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { migrationProvider, migrations } from '../migrations/index.js';
import { findUserByToken } from '../src/users/users.js';
import { createSignInKey } from '../src/users/devices.js';
import { Api, quietLogger, startTestApp, useTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';

// Devices instead of one fragile token (issue #13 §5): every signed-in device has a
// token of its own, listed, renamed and revoked; another device signs in with a
// one-time code or a saved sign-in key. A revoked device is refused at once everywhere,
// its open live streams end, and the codes it made die with it.

const ctx = useTestApp(t, { deviceCheckMs: 200 });

const CODE = /^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ann on her desktop (signed up there), with a group to read. */
async function annWithAGroup(name = 'Ann') {
  const signUp = await ctx.api.post('/users', { name, deviceName: 'Firefox on Linux' });
  const desktop = { api: ctx.api.as(signUp.body.token), token: signUp.body.token as string, deviceId: signUp.body.deviceId as string };
  const group = await desktop.api.post('/groups', { name: 'Flat', currency: 'EUR' });
  return { userId: signUp.body.userId as string, desktop, groupId: group.body.groupId as string };
}

/** Signs another device in with a code the `from` device shows. */
async function signInWithCode(from: Api, deviceName: string) {
  const code = await from.post('/me/sign-in-codes');
  const res = await ctx.api.post('/sign-in', { code: code.body.code, deviceName });
  if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { api: ctx.api.as(res.body.token), token: res.body.token as string, deviceId: res.body.deviceId as string };
}

const deviceCount = async (userId: string) =>
  Number((await ctx.env.database.query('select count(*) as n from devices where user_id = $1', [userId])).rows[0]?.n);

/** An open live stream over real HTTP: `ended` resolves when the server ends it. */
async function openLive(groupId: string, token: string) {
  const base = await ctx.env.app
    .listen({ port: 0, host: '127.0.0.1' })
    .catch(() => `http://127.0.0.1:${(ctx.env.app.server.address() as { port: number }).port}`);
  const controller = new AbortController();
  const res = await fetch(`${base}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  if (res.status !== 200 || !res.body) throw new Error(`live stream answered ${res.status}`);
  let heard = '';
  const ended = (async () => {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) heard += Buffer.from(chunk).toString();
    return 'ended' as const;
  })().catch(() => 'aborted' as const);
  return { ended, heard: () => heard, abort: () => controller.abort(), base };
}

t.test('sign-up makes the first device: named, listed as this device, its token shown once', async (t) => {
  const res = await ctx.api.post('/users', { name: 'Dora', deviceName: 'Chrome on Android' });
  t.equal(res.status, 201);
  t.equal(res.headers['cache-control'], 'no-store', 'the token is not cached anywhere');
  t.match(res.body, { userId: String, name: 'Dora', token: /^fs_[A-Za-z0-9_-]{43}$/, deviceId: /^[0-9a-f-]{36}$/ });
  const list = await ctx.api.as(res.body.token).get('/me/devices');
  t.equal(list.status, 200);
  t.same(
    list.body.devices.map((d: { name: string; kind: string; current: boolean; deviceId: string }) => [d.deviceId, d.name, d.kind, d.current]),
    [[res.body.deviceId, 'Chrome on Android', 'device', true]],
  );
  const stored = await ctx.env.database.query('select * from devices where device_id = $1', [res.body.deviceId]);
  t.same(stored.rows[0]?.token_hash, createHash('sha256').update(res.body.token).digest(), 'only its SHA-256 is stored');

  const unnamed = await ctx.api.post('/users', { name: 'Eve' });
  t.equal((await ctx.api.as(unnamed.body.token).get('/me/devices')).body.devices[0].name, 'Device used to sign up', 'a device without a name gets one');
});

t.test('a sign-in code signs a second device in: once, as the same person, with a token of its own', async (t) => {
  const { userId, desktop, groupId } = await annWithAGroup();
  const made = await desktop.api.post('/me/sign-in-codes');
  t.equal(made.status, 201);
  t.equal(made.headers['cache-control'], 'no-store');
  t.match(made.body.code, CODE, '12 characters of an unambiguous alphabet, 3 groups of 4');
  const minutes = (Date.parse(made.body.expiresAt) - Date.now()) / 60_000;
  t.ok(minutes > 9.5 && minutes <= 10.05, `it works for 10 minutes (${minutes.toFixed(2)})`);
  const stored = await ctx.env.database.query<Record<string, unknown>>('select * from sign_in_codes where user_id = $1', [userId]);
  t.equal(stored.rows.length, 1);
  t.notOk(
    Object.values(stored.rows[0] as object).some((v) => String(v).includes(made.body.code.replaceAll('-', ''))),
    'the code itself is in no column',
  );

  // Typed on a phone: lower case, spaces instead of dashes.
  const typed = made.body.code.toLowerCase().replaceAll('-', ' ');
  const phone = await ctx.api.post('/sign-in', { code: typed, deviceName: 'Ann’s phone' });
  t.equal(phone.status, 201);
  t.equal(phone.headers['cache-control'], 'no-store');
  t.match(phone.body, { userId, name: 'Ann', token: /^fs_/, deviceId: String });
  t.not(phone.body.token, desktop.token, 'a token of its own');
  const onPhone = ctx.api.as(phone.body.token);
  t.equal((await onPhone.get('/me')).body.userId, userId, 'the phone is Ann');
  t.equal((await onPhone.get(`/groups/${groupId}/balances`)).status, 200, "and reads Ann's group (the token resolved inside the read)");

  const fromDesktop = (await desktop.api.get('/me/devices')).body.devices;
  const fromPhone = (await onPhone.get('/me/devices')).body.devices;
  t.same(
    fromDesktop.map((d: { name: string; current: boolean }) => [d.name, d.current]),
    [
      ['Firefox on Linux', true],
      ['Ann’s phone', false],
    ],
  );
  t.same(
    fromPhone.map((d: { name: string; current: boolean }) => [d.name, d.current]),
    [
      ['Firefox on Linux', false],
      ['Ann’s phone', true],
    ],
  );

  const again = await ctx.api.post('/sign-in', { code: made.body.code });
  t.equal(again.status, 400, 'a used code is refused');
  t.equal(again.body.code, 'SIGN_IN_CODE_INVALID');
  t.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8');
  const unknown = await ctx.api.post('/sign-in', { code: 'ABCD-EFGH-JKMN' });
  const malformed = await ctx.api.post('/sign-in', { code: 'not a code at all' });
  t.same([unknown.status, unknown.body.detail], [400, again.body.detail], 'an unknown code gets the very same answer');
  t.same([malformed.status, malformed.body.detail], [400, again.body.detail], 'and so does something that cannot be a code');
  t.equal(await deviceCount(userId), 2, 'one device made, no more');
});

t.test('an expired code is refused like an unknown one, and makes nothing', async (t) => {
  const { userId, desktop } = await annWithAGroup('Ann (expiry)');
  const made = await desktop.api.post('/me/sign-in-codes');
  // Ten minutes and a second later.
  await ctx.env.database.query(
    `update sign_in_codes set created_at = now() - interval '10 minutes 1 second', expires_at = now() - interval '1 second' where user_id = $1`,
    [userId],
  );
  const late = await ctx.api.post('/sign-in', { code: made.body.code });
  t.equal(late.status, 400);
  t.equal(late.body.code, 'SIGN_IN_CODE_INVALID');
  t.match(late.body.detail, /used already or expired/, 'the answer does not say which');
  t.equal(await deviceCount(userId), 1);
  // A new code from the same device works, and clears the expired one away.
  const fresh = await desktop.api.post('/me/sign-in-codes');
  t.equal(Number((await ctx.env.database.query('select count(*) as n from sign_in_codes where user_id = $1', [userId])).rows[0]?.n), 1);
  t.equal((await ctx.api.post('/sign-in', { code: fresh.body.code })).status, 201);
});

t.test('two concurrent redemptions of one code: exactly one device is signed in', async (t) => {
  const { userId, desktop } = await annWithAGroup('Ann (race)');
  for (let round = 0; round < 5; round++) {
    const made = await desktop.api.post('/me/sign-in-codes');
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ctx.api.post('/sign-in', { code: made.body.code, deviceName: `Racer ${round}.${i}` })),
    );
    t.same(answers.map((a) => a.status).sort(), [201, 400, 400, 400, 400, 400], `round ${round}: one wins, five are refused`);
  }
  t.equal(await deviceCount(userId), 6, 'the desktop and the five winners');
});

t.test("a device's new code replaces its previous one", async (t) => {
  const { desktop } = await annWithAGroup('Ann (replace)');
  const first = await desktop.api.post('/me/sign-in-codes');
  const second = await desktop.api.post('/me/sign-in-codes');
  t.not(first.body.code, second.body.code);
  t.equal((await ctx.api.post('/sign-in', { code: first.body.code })).status, 400, 'the first no longer works');
  t.equal((await ctx.api.post('/sign-in', { code: second.body.code })).status, 201, 'the second does');
});

t.test('revoking a device: 401 at once on every kind of route, and its open live stream ends', async (t) => {
  const { userId, desktop, groupId } = await annWithAGroup('Ann (revoke)');
  const phone = await signInWithCode(desktop.api, 'Phone');
  const stream = await openLive(groupId, phone.token);
  t.teardown(stream.abort);
  const desktopStream = await openLive(groupId, desktop.token);
  t.teardown(desktopStream.abort);
  await sleep(100);
  t.match(stream.heard(), /event: balances/, "the phone's stream is open");

  const revoked = await desktop.api.delete(`/me/devices/${phone.deviceId}`);
  t.equal(revoked.status, 204);
  const ended = await Promise.race([stream.ended, sleep(1_000).then(() => 'still open')]);
  t.equal(ended, 'ended', "the phone's open stream ended at once");

  t.equal((await phone.api.get('/me')).status, 401, 'a route that looks the token up: 401');
  t.equal((await phone.api.get(`/groups/${groupId}/balances`)).status, 401, 'a route whose read resolves the token: 401');
  t.equal((await phone.api.get(`/groups/${groupId}`)).status, 401);
  t.equal((await phone.api.get(`/groups/${groupId}/expenses`)).status, 401);
  const live = await fetch(`${stream.base}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${phone.token}` } });
  t.equal(live.status, 401, 'a new live stream: 401');
  await live.body?.cancel();
  t.equal(
    (await phone.api.post(`/groups/${groupId}/expenses`, { description: 'x', amount: '1.00', paidBy: userId, split: { mode: 'equal' } })).status,
    401,
    'a write: 401',
  );
  t.equal((await phone.api.post('/me/sign-in-codes')).status, 401, 'no new codes from it');

  t.equal(await Promise.race([desktopStream.ended, sleep(300).then(() => 'still open')]), 'still open', "the desktop's stream stays open");
  t.equal((await desktop.api.get('/me')).status, 200, 'the desktop is unaffected');
  t.same(
    (await desktop.api.get('/me/devices')).body.devices.map((d: { deviceId: string }) => d.deviceId),
    [desktop.deviceId],
  );
});

t.test('a device revoked by another server process: its open stream here ends within the check interval', async (t) => {
  const { desktop, groupId } = await annWithAGroup('Ann (elsewhere)');
  const phone = await signInWithCode(desktop.api, 'Phone');
  const stream = await openLive(groupId, phone.token);
  t.teardown(stream.abort);
  const started = Date.now();
  // Another process revokes it: this process hears nothing of it.
  await ctx.env.database.query('delete from devices where device_id = $1', [phone.deviceId]);
  const ended = await Promise.race([stream.ended, sleep(3_000).then(() => 'still open')]);
  t.equal(ended, 'ended', `the stream ended ${Date.now() - started} ms later (checked every 200 ms here; 5 s by default)`);
});

t.test('the sign-in codes a device made die when it is revoked', async (t) => {
  const { userId, desktop } = await annWithAGroup('Ann (stolen phone)');
  const phone = await signInWithCode(desktop.api, 'Phone');
  // Whoever holds the phone makes a code, then Ann revokes the phone.
  const code = await phone.api.post('/me/sign-in-codes');
  t.equal(code.status, 201);
  t.equal((await desktop.api.delete(`/me/devices/${phone.deviceId}`)).status, 204);
  const redeemed = await ctx.api.post('/sign-in', { code: code.body.code });
  t.equal(redeemed.status, 400, 'the code no longer signs anyone in');
  t.equal(await deviceCount(userId), 1);
});

t.test("nobody reaches another person's devices: 404 for rename and revoke, nothing changes", async (t) => {
  const ann = await annWithAGroup('Ann (others)');
  const bob = await annWithAGroup('Bob');
  const before = (await bob.desktop.api.get('/me/devices')).body;
  const rename = await ann.desktop.api.patch(`/me/devices/${bob.desktop.deviceId}`, { name: 'Mine now' });
  const revoke = await ann.desktop.api.delete(`/me/devices/${bob.desktop.deviceId}`);
  t.same([rename.status, rename.body.code], [404, 'DEVICE_NOT_FOUND']);
  t.same([revoke.status, revoke.body.code], [404, 'DEVICE_NOT_FOUND']);
  t.same((await ctx.api.as(bob.desktop.token).get('/me/devices')).body, before, "Bob's devices are as they were");
  const missing = await ann.desktop.api.delete('/me/devices/00000000-0000-4000-8000-000000000000');
  t.same([missing.status, missing.body.code], [404, 'DEVICE_NOT_FOUND'], 'the same answer as for a device that does not exist');
  t.equal((await ann.desktop.api.get('/me/devices')).body.devices.length, 1, "Ann's own list shows only hers");
});

t.test('rename, and revoking the device one is on signs it out', async (t) => {
  const { desktop } = await annWithAGroup('Ann (rename)');
  const renamed = await desktop.api.patch(`/me/devices/${desktop.deviceId}`, { name: '  Work laptop  ' });
  t.equal(renamed.status, 200);
  t.match(renamed.body, { deviceId: desktop.deviceId, name: 'Work laptop', current: true });
  const out = await desktop.api.delete(`/me/devices/${desktop.deviceId}`);
  t.equal(out.status, 204);
  t.equal((await desktop.api.get('/me')).status, 401, 'signed out');
});

t.test('a saved sign-in key signs new devices in, stays listed, and is no bearer token', async (t) => {
  const { userId, desktop, groupId } = await annWithAGroup('Ann (key)');
  const made = await desktop.api.post('/me/sign-in-keys', { name: 'Key in my password manager' });
  t.equal(made.status, 201);
  t.equal(made.headers['cache-control'], 'no-store');
  t.match(made.body, { deviceId: String, kind: 'key', name: 'Key in my password manager', key: /^fsk_[A-Za-z0-9_-]{43}$/ });
  const key = made.body.key as string;

  const asBearer = await ctx.api.as(key).get('/me');
  t.equal(asBearer.status, 401, 'a key is not a bearer token');
  t.match(asBearer.body.detail, /sign-in key is not a bearer token/);
  t.equal((await ctx.api.as(key).get(`/groups/${groupId}/balances`)).status, 401, 'not on a read that resolves the token either');

  await ctx.env.database.query(`update devices set last_used_at = now() - interval '1 day' where device_id = $1`, [made.body.deviceId]);
  const laptop = await ctx.api.post('/sign-in', { key, deviceName: 'New laptop' });
  t.equal(laptop.status, 201);
  t.equal(laptop.headers['cache-control'], 'no-store');
  t.match(laptop.body, { userId, name: 'Ann (key)', token: /^fs_/, deviceId: String });
  t.not(laptop.body.token, key, 'the new device has a token of its own');
  t.equal((await ctx.api.as(laptop.body.token).get('/me')).body.userId, userId);
  const second = await ctx.api.post('/sign-in', { key: ` ${key}` });
  t.equal(second.status, 400, 'the key exactly as given, or nothing');
  t.equal((await ctx.api.post('/sign-in', { key })).status, 201, 'a key works again and again');

  const list = (await desktop.api.get('/me/devices')).body.devices as { deviceId: string; kind: string; name: string; lastUsedAt: string }[];
  t.same(
    list.map((d) => [d.kind, d.name]),
    [
      ['device', 'Firefox on Linux'],
      ['key', 'Key in my password manager'],
      ['device', 'New laptop'],
      ['device', 'Device signed in with a saved key'],
    ],
  );
  const keyRow = list.find((d) => d.kind === 'key');
  t.ok(Date.now() - Date.parse(keyRow?.lastUsedAt ?? '') < 60_000, "the key's last use is recorded");

  t.equal((await desktop.api.delete(`/me/devices/${made.body.deviceId}`)).status, 204, 'a key is revoked like a device');
  const revoked = await ctx.api.post('/sign-in', { key });
  t.same([revoked.status, revoked.body.code], [400, 'SIGN_IN_KEY_INVALID']);
  t.equal((await ctx.api.as(laptop.body.token).get('/me')).status, 200, 'devices it signed in stay signed in');

  // A token saved before devices existed (now a device) also signs a new device in.
  const other = await ctx.api.post('/sign-in', { key: desktop.token, deviceName: 'Tablet' });
  t.equal(other.status, 201);
  t.equal((await desktop.api.get('/me')).status, 200, 'and keeps working itself');
});

t.test("a device's last use: recorded at most once a minute, on both kinds of route", async (t) => {
  const { desktop, groupId } = await annWithAGroup('Ann (last used)');
  const lastUsed = async () =>
    (await ctx.env.database.query<{ t: Date }>('select last_used_at as t from devices where device_id = $1', [desktop.deviceId])).rows[0]?.t as Date;
  const waitFor = async (check: (at: Date) => boolean) => {
    for (let i = 0; i < 100; i++) {
      if (check(await lastUsed())) return true;
      await sleep(20);
    }
    return false;
  };

  await ctx.env.database.query(`update devices set last_used_at = now() - interval '2 minutes' where device_id = $1`, [desktop.deviceId]);
  t.equal((await desktop.api.get('/me')).status, 200);
  t.ok(await waitFor((at) => Date.now() - at.getTime() < 10_000), 'two minutes old: moved to now');

  await ctx.env.database.query(`update devices set last_used_at = now() - interval '2 minutes' where device_id = $1`, [desktop.deviceId]);
  t.equal((await desktop.api.get(`/groups/${groupId}/balances`)).status, 200);
  t.ok(await waitFor((at) => Date.now() - at.getTime() < 10_000), 'the same on a route whose read resolves the token');

  await ctx.env.database.query(`update devices set last_used_at = now() - interval '30 seconds' where device_id = $1`, [desktop.deviceId]);
  const before = await lastUsed();
  for (let i = 0; i < 5; i++) {
    await desktop.api.get('/me');
    await desktop.api.get(`/groups/${groupId}/balances`);
  }
  await sleep(200);
  t.same(await lastUsed(), before, 'thirty seconds old: left alone (reads do not become writes)');
});

t.test('every new route that needs a device refuses a missing or unknown token with 401', async (t) => {
  const { desktop } = await annWithAGroup('Ann (401)');
  const routes: [string, string, unknown?][] = [
    ['GET', '/me/devices'],
    ['PATCH', `/me/devices/${desktop.deviceId}`, { name: 'x' }],
    ['DELETE', `/me/devices/${desktop.deviceId}`],
    ['POST', '/me/sign-in-codes'],
    ['POST', '/me/sign-in-keys'],
  ];
  for (const [method, url, body] of routes) {
    for (const [who, api] of [
      ['no token', ctx.api],
      ['an unknown token', ctx.api.as('fs_not-a-real-token')],
    ] as const) {
      const res = await api.request(method as 'GET', url, body);
      t.equal(res.status, 401, `${method} ${url} with ${who}`);
      t.equal(res.body.code, 'UNAUTHENTICATED');
    }
  }
  t.equal((await desktop.api.get('/me/devices')).body.devices.length, 1, 'nothing changed');
});

t.test('bad input: a 400 problem, and nothing changes', async (t) => {
  const { userId, desktop } = await annWithAGroup('Ann (bad input)');
  const code = (await desktop.api.post('/me/sign-in-codes')).body.code as string;
  const cases: [string, string, unknown, number][] = [
    ['POST', '/sign-in', {}, 400],
    ['POST', '/sign-in', { code, key: desktop.token }, 400],
    ['POST', '/sign-in', { code, deviceName: '' }, 400],
    ['POST', '/sign-in', { code, deviceName: 'a\u0000b' }, 400],
    ['POST', '/sign-in', { code, deviceName: 'x'.repeat(101) }, 400],
    ['POST', '/sign-in', { code, extra: true }, 400],
    ['POST', '/sign-in', { code: 42 }, 400],
    ['POST', '/sign-in', { key: 'x'.repeat(201) }, 400],
    ['POST', '/users', { name: 'Zed', deviceName: '\u200b' }, 400],
    ['PATCH', `/me/devices/${desktop.deviceId}`, { name: '   ' }, 400],
    ['PATCH', `/me/devices/${desktop.deviceId}`, {}, 400],
    ['PATCH', '/me/devices/not-a-uuid', { name: 'x' }, 400],
    ['DELETE', '/me/devices/not-a-uuid', undefined, 400],
    ['POST', '/me/sign-in-keys', { name: 'k', extra: 1 }, 400],
    ['POST', '/me/sign-in-codes', { extra: 1 }, 400],
  ];
  const users = Number((await ctx.env.database.query('select count(*) as n from users')).rows[0]?.n);
  for (const [method, url, body, status] of cases) {
    const res = await desktop.api.request(method as 'GET', url, body);
    t.equal(res.status, status, `${method} ${url} ${JSON.stringify(body)}`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
  }
  t.equal(Number((await ctx.env.database.query('select count(*) as n from users')).rows[0]?.n), users, 'no user made');
  t.equal(await deviceCount(userId), 1, 'no device made or lost');
  t.equal((await ctx.api.post('/sign-in', { code })).status, 201, 'the code still works: nothing above used it');
});

t.test('sign-in attempts count against the address: the fourth is 429 and makes nothing, even with a good code', async (t) => {
  const app = await buildApp({
    db: ctx.env.database.db,
    changes: ctx.env.changes,
    logger: quietLogger(),
    rateLimits: { signupsPerMinute: 3, writesPerMinute: 100 },
  });
  t.teardown(() => app.close());
  const { userId, desktop } = await annWithAGroup('Ann (limit)');
  const code = (await desktop.api.post('/me/sign-in-codes')).body.code as string;
  const attempt = (payload: unknown, remoteAddress = '10.0.0.9') => app.inject({ method: 'POST', url: '/sign-in', payload: payload as object, remoteAddress });
  const guesses = [];
  for (const guess of ['AAAA-AAAA-AAAA', 'BBBB-BBBB-BBBB', 'CCCC-CCCC-CCCC']) guesses.push((await attempt({ code: guess })).statusCode);
  t.same(guesses, [400, 400, 400]);
  const limited = await attempt({ code });
  t.equal(limited.statusCode, 429);
  t.ok(Number(limited.headers['retry-after']) > 0, 'with Retry-After');
  t.equal(JSON.parse(limited.body).code, 'RATE_LIMITED');
  t.equal(await deviceCount(userId), 1, 'the good code made nothing');
  t.equal((await attempt({ code }, '10.0.0.10')).statusCode, 201, 'another address still signs in with it');
});

t.test('the migration keeps every token from before devices working, as a device of its own', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const migrator = new Migrator({ db: database.db, provider: migrationProvider });
  const names = Object.keys(migrations).sort();
  const before = names[names.indexOf('20261126T0300_devices') - 1] as string;
  t.notOk((await migrator.migrateTo(before)).error, `down to ${before}`);
  const token = 'fs_a-token-from-before-devices-0000000000000';
  await database.query(`insert into users (user_id, name, token_hash, created_at) values ('old', 'Olga', $1, '2026-11-20T10:00:00Z')`, [
    createHash('sha256').update(token).digest(),
  ]);
  t.notOk((await migrator.migrateTo('20261126T0300_devices')).error, 'up again');
  t.match(await findUserByToken(database.db, token), { userId: 'old', name: 'Olga', deviceId: String, stale: true }, 'the old token still signs Olga in');
  const rows = (await database.query('select name, kind, created_at, last_used_at from devices where user_id = $1', ['old'])).rows;
  t.same(
    rows.map((r) => [r.name, r.kind, r.created_at.toISOString(), r.last_used_at.toISOString()]),
    [['Device from before device names', 'device', '2026-11-20T10:00:00.000Z', '2026-11-20T10:00:00.000Z']],
  );
  t.notOk((await migrator.migrateTo(before)).error, 'and the migration can be undone');
  const back = await database.query('select token_hash from users where user_id = $1', ['old']);
  t.same(back.rows[0]?.token_hash, createHash('sha256').update(token).digest(), 'with the token back on the user');
});

t.test('the log says what happened to devices, and never holds a token, a key or a code', async (t) => {
  const lines: string[] = [];
  const env = await startTestApp({ logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
  t.teardown(() => env.close());
  const api = new Api(env.app);
  const made = await api.post('/users', { name: 'Lou', deviceName: 'Laptop' });
  const lou = api.as(made.body.token);
  const code = (await lou.post('/me/sign-in-codes')).body.code as string;
  const phone = await api.post('/sign-in', { code, deviceName: 'Phone' });
  const key = (await lou.post('/me/sign-in-keys')).body.key as string;
  const tablet = await api.post('/sign-in', { key, deviceName: 'Tablet' });
  t.equal((await lou.delete(`/me/devices/${phone.body.deviceId}`)).status, 204);
  t.equal((await lou.delete(`/me/devices/${made.body.deviceId}`)).status, 204);

  const said = lines.map((l) => JSON.parse(l) as { msg: string; reqId?: string });
  t.match(
    said.filter((l) => l.reqId !== undefined && l.msg !== 'request completed'),
    [
      { msg: 'user created', userId: made.body.userId, deviceId: made.body.deviceId },
      { msg: 'sign-in code issued', byDeviceId: made.body.deviceId, expiresAt: String },
      { msg: 'sign-in code redeemed: device signed in', userId: made.body.userId, deviceId: phone.body.deviceId },
      { msg: 'sign-in key made', byDeviceId: made.body.deviceId },
      { msg: 'signed in with a key: device signed in', deviceId: tablet.body.deviceId, keyId: String },
      { msg: 'device revoked', deviceId: phone.body.deviceId, kind: 'device', byDeviceId: made.body.deviceId },
      { msg: 'device signed out', deviceId: made.body.deviceId },
    ],
  );
  const secrets = [made.body.token, phone.body.token, tablet.body.token, key, code, code.replaceAll('-', '')].map((s: string) => s.replace(/^fsk?_/, ''));
  t.notOk(
    lines.some((l) => secrets.some((secret) => l.includes(secret))),
    'no token, key or code in any line',
  );
});

t.test('the OpenAPI document describes the new routes: which need a device token, and which do not', async (t) => {
  const doc = (await ctx.api.get('/openapi.json')).body as { paths: Record<string, Record<string, { tags?: string[]; security?: unknown[] }>> };
  const routes: [string, string, boolean][] = [
    ['/me/devices', 'get', true],
    ['/me/devices/{deviceId}', 'patch', true],
    ['/me/devices/{deviceId}', 'delete', true],
    ['/me/sign-in-codes', 'post', true],
    ['/me/sign-in-keys', 'post', true],
    ['/sign-in', 'post', false],
  ];
  for (const [path, method, secured] of routes) {
    const operation = doc.paths[path]?.[method];
    t.ok(operation, `${method.toUpperCase()} ${path} is documented`);
    t.same(operation?.tags, ['devices']);
    t.same(operation?.security, secured ? [{ bearer: [] }] : undefined, secured ? 'with the bearer scheme' : 'open (a code or key in the body)');
  }
});

// Found by review: races between a revoke and a request already past its token check.

t.test('a device revoked while its key request runs gets no key (the request waits for the revoke, then finds no device)', async (t) => {
  const signUp = await ctx.api.post('/users', { name: 'Rita' });
  const tx = await ctx.env.database.pool.connect();
  try {
    await tx.query('begin');
    await tx.query('delete from devices where device_id = $1', [signUp.body.deviceId]); // the revoke, not committed yet
    const making = createSignInKey(ctx.env.database.db, signUp.body.userId, signUp.body.deviceId); // the request, past its auth hook
    await new Promise((resolve) => setTimeout(resolve, 200));
    await tx.query('commit');
    t.equal(await making, undefined, 'no key');
  } finally {
    tx.release();
  }
  t.same((await ctx.env.database.query('select kind from devices where user_id = $1', [signUp.body.userId])).rows, [], 'nothing left of the account');
});

t.test('a stream whose device is revoked during its first read ends as it opens, sending nothing', async (t) => {
  const signUp = await ctx.api.post('/users', { name: 'Sam' });
  const api = ctx.api.as(signUp.body.token);
  const groupId = (await api.post('/groups', { name: 'G', currency: 'EUR' })).body.groupId as string;
  const base = await ctx.env.app
    .listen({ port: 0, host: '127.0.0.1' })
    .catch(() => `http://127.0.0.1:${(ctx.env.app.server.address() as { port: number }).port}`);
  const lock = await ctx.env.database.pool.connect();
  await lock.query('begin');
  await lock.query('lock table user_balances in access exclusive mode');
  const opening = fetch(`${base}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${signUp.body.token}` } });
  await new Promise((resolve) => setTimeout(resolve, 300)); // past its token check, waiting in the first read
  t.equal((await api.delete(`/me/devices/${signUp.body.deviceId}`)).status, 204);
  await lock.query('commit');
  lock.release();
  const res = await opening;
  let heard = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) heard += Buffer.from(chunk).toString();
  t.notMatch(heard, /event: balances/, `no balances read after the revoke (status ${res.status})`);
});

t.test('two code requests from one device at once: one live code, the later', async (t) => {
  const signUp = await ctx.api.post('/users', { name: 'Cora' });
  const api = ctx.api.as(signUp.body.token);
  const codes = await Promise.all([0, 1, 2, 3].map(() => api.post('/me/sign-in-codes')));
  t.same(
    codes.map((c) => c.status),
    [201, 201, 201, 201],
  );
  const { rows } = await ctx.env.database.query('select count(*)::int as n from sign_in_codes where device_id = $1', [signUp.body.deviceId]);
  t.equal(rows[0]?.n, 1, 'a device has one live code');
  const works = await Promise.all(codes.map((c) => ctx.api.post('/sign-in', { code: c.body.code })));
  t.equal(works.filter((r) => r.status === 201).length, 1, 'exactly one of them signs in');
});

t.test('a key row is never a bearer token, whatever its secret looks like', async (t) => {
  const signUp = await ctx.api.post('/users', { name: 'Kim' });
  const api = ctx.api.as(signUp.body.token);
  const groupId = (await api.post('/groups', { name: 'G', currency: 'EUR' })).body.groupId as string;
  const secret = 'fs_looks-like-a-device-token-but-is-a-key-000000';
  await ctx.env.database.query(`insert into devices (user_id, token_hash, kind, name) values ($1, $2, 'key', 'odd key')`, [
    signUp.body.userId,
    createHash('sha256').update(secret).digest(),
  ]);
  const asKey = ctx.api.as(secret);
  t.equal((await asKey.get('/me')).status, 401, 'the lookup route');
  t.equal((await asKey.get(`/groups/${groupId}/balances`)).status, 401, 'a read that resolves the token itself');
  t.equal((await asKey.get(`/groups/${groupId}`)).status, 401);
});
