import path from 'node:path';
import type { Browser } from 'playwright-core';
import t from 'tap';
import {
  DESKTOP,
  PHONE,
  eventsOf,
  everyScreenShowsTheLog,
  fillExpense,
  signUp,
  waitForLogVersion,
  type Person,
  SHOTS,
  groupOnThePage,
  useBrowserWorld,
  addMemberById,
} from './helpers/browser.js';
import type { TestDatabase } from './helpers/database.js';
import { runCli, type ServerProcess } from './helpers/server-process.js';

// The group life cycle in the page (issue #13 §4), two people: Ann on a desktop, Bob on
// a phone. Rename, a removal refused at a non-zero balance and done at zero, archive and
// open again, leave. Every step is an event in the log; the other person's page follows
// live, without a reload.

declare const document: any;
declare const window: any;

let database: TestDatabase;
let server: ServerProcess;
let browser: Browser;
let ann: Person;
let bob: Person;
let groupId: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ({ database, server, browser } = world);
  ann = await signUp(browser, server.url, 'Ann', DESKTOP);
  bob = await signUp(browser, server.url, 'Bob', PHONE);
  groupId = await groupOnThePage(world, ann, 'Flat', [bob]);
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'Bob joined');
});

const lastEvent = async () => (await eventsOf(database, groupId)).at(-1);
const fitsTheScreen = (p: Person) => p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

t.test('Ann renames the group; Bob sees the new name at once', async (t) => {
  await ann.page.getByLabel('Group name').fill('Flat 3B');
  await ann.page.getByRole('button', { name: 'Rename' }).click();
  await waitForLogVersion(database, groupId, 3);
  t.match(await lastEvent(), { type: 'GroupRenamed', data: { name: 'Flat 3B' }, metadata: { actorUserId: ann.userId } });
  await bob.page.getByRole('heading', { level: 1, name: /Flat 3B/ }).waitFor({ timeout: 5_000 });
  t.pass("the new name is on Bob's phone without a reload");
});

t.test('removing Bob while he owes is refused, naming the balance; at zero he is removed and his page says so', async (t) => {
  await fillExpense(ann.page, { description: 'Groceries', amount: '9.00', paidBy: ann, mode: 'equal' }, [ann, bob]);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(database, groupId, 4);
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the groceries');

  const before = (await eventsOf(database, groupId)).length;
  const row = ann.page.getByTestId('members').locator(`li[data-user-id="${bob.userId}"]`);
  await row.getByRole('button', { name: 'Remove Bob' }).click();
  t.match(await row.textContent(), /Bob owes €4\.50: settle up before removing Bob\./, 'the page warns before asking');
  await row.getByRole('button', { name: 'Confirm: remove Bob' }).click();
  const notice = ann.page.getByTestId('notice');
  await notice.waitFor();
  t.equal(await notice.textContent(), 'Bob cannot be removed while their balance is not zero: Bob owes 4.50 EUR; settle up first');
  t.equal((await eventsOf(database, groupId)).length, before, 'nothing appended');
  await row.getByRole('button', { name: 'Cancel' }).click();

  // Bob settles up on his phone.
  const line = bob.page.getByTestId('settlements').locator('li', { hasText: 'Bob pays Ann' });
  await line.getByRole('button', { name: /^Record payment/ }).click();
  await bob.page.getByRole('button', { name: 'Confirm payment' }).click();
  await waitForLogVersion(database, groupId, before + 1);
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after Bob paid');

  await row.getByRole('button', { name: 'Remove Bob' }).click();
  t.notMatch(await row.textContent(), /not zero/, 'no warning at a zero balance');
  await ann.page.screenshot({ path: path.join(SHOTS, 'remove-member-desktop.png'), fullPage: true });
  await row.getByRole('button', { name: 'Confirm: remove Bob' }).click();
  await waitForLogVersion(database, groupId, before + 2);
  t.match(await lastEvent(), { type: 'MemberRemoved', data: { userId: bob.userId }, metadata: { actorUserId: ann.userId } });

  await bob.page.getByText('You are no longer a member of this group').waitFor({ timeout: 10_000 });
  t.pass("Bob's page says he is no longer a member, without a reload");
  await ann.page.getByTestId('former-members').waitFor();
  t.equal(await ann.page.getByTestId('former-members').textContent(), 'Former members: Bob');
  t.equal(await ann.page.getByTestId('members').locator('li').count(), 1, 'Ann is the only member');
  t.match(
    await ann.page.getByTestId('expenses').locator('li', { hasText: 'Groceries' }).textContent(),
    /Bob €4\.50/,
    'his share of the groceries still shows his name',
  );
  const groceries = ann.page.getByTestId('expenses').locator('li', { hasText: 'Groceries' });
  t.equal(await groceries.getByRole('button', { name: /^(Edit|Delete)/ }).count(), 0, 'it can no longer be edited or deleted (that would move his balance)');
  t.match(await groceries.textContent(), /involves someone who is no longer a member: add them back to change it/);
  await bob.page.goto(`${server.url}/#/`);
  await bob.page.getByRole('heading', { name: 'Your groups' }).waitFor();
  await bob.page.locator(`[data-group-id="${groupId}"]`).waitFor({ state: 'detached', timeout: 5_000 });
  t.pass('the group is gone from his list');
});

t.test('Ann adds Bob back and archives the group: read-only on both screens; Bob opens it again', async (t) => {
  const removedAt = (await eventsOf(database, groupId)).length;
  await addMemberById(ann.page, bob);
  await waitForLogVersion(database, groupId, removedAt + 1);
  const back = removedAt + 1;
  t.match(await lastEvent(), { type: 'MemberAdded', data: { userId: bob.userId } });
  await bob.page.goto(`${server.url}/#/groups/${encodeURIComponent(groupId)}`);
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'Bob is back');

  await ann.page.getByRole('button', { name: 'Archive group' }).click();
  await waitForLogVersion(database, groupId, back + 1);
  t.match(await lastEvent(), { type: 'GroupArchived' });
  for (const p of [ann, bob]) {
    await p.page.getByTestId('archived').waitFor({ timeout: 5_000 });
    t.equal(await p.page.getByRole('button', { name: 'Add expense' }).count(), 0, `${p.name}: no expense form`);
    t.equal(await p.page.getByRole('button', { name: /^Actions for/ }).count(), 0, `${p.name}: nothing to edit or delete`);
    t.equal(await p.page.getByLabel('Add a member by user id').count(), 0, `${p.name}: no member to add`);
  }
  t.ok(await fitsTheScreen(bob), 'the archived page fits a phone screen');
  await bob.page.screenshot({ path: path.join(SHOTS, 'archived-phone.png'), fullPage: true });
  await ann.page.goto(`${server.url}/#/`);
  await ann.page.locator(`[data-group-id="${groupId}"] .tag`).waitFor();
  t.equal(await ann.page.locator(`[data-group-id="${groupId}"] .tag`).textContent(), 'archived', 'marked archived on the home page');

  await bob.page.getByRole('button', { name: 'Open it again' }).click();
  await waitForLogVersion(database, groupId, back + 2);
  t.match(await lastEvent(), { type: 'GroupUnarchived', metadata: { actorUserId: bob.userId } });
  await bob.page.getByRole('button', { name: 'Add expense' }).waitFor({ timeout: 5_000 });
  await ann.page.goto(`${server.url}/#/groups/${encodeURIComponent(groupId)}`);
  await ann.page.getByRole('button', { name: 'Add expense' }).waitFor({ timeout: 5_000 });
  t.pass('writable again on both screens');
});

t.test('Bob leaves from his phone: asked once, then back on his list of groups without it', async (t) => {
  const before = (await eventsOf(database, groupId)).length;
  const mine = bob.page.getByTestId('members').locator(`li[data-user-id="${bob.userId}"]`);
  await mine.getByRole('button', { name: 'Leave group' }).click();
  t.equal((await eventsOf(database, groupId)).length, before, 'asking first records nothing');
  t.ok(await fitsTheScreen(bob), 'the confirmation fits a phone screen');
  await mine.getByRole('button', { name: 'Confirm: leave the group' }).click();
  await bob.page.waitForURL(/#\/$/);
  await waitForLogVersion(database, groupId, before + 1);
  t.match(await lastEvent(), { type: 'MemberRemoved', data: { userId: bob.userId }, metadata: { actorUserId: bob.userId } });
  await bob.page.getByRole('heading', { name: 'Your groups' }).waitFor();
  await bob.page.locator(`[data-group-id="${groupId}"]`).waitFor({ state: 'detached', timeout: 5_000 });
  t.pass('not on his list');
  await ann.page.getByTestId('former-members').waitFor({ timeout: 5_000 });
  t.equal(await ann.page.getByTestId('former-members').textContent(), 'Former members: Bob', "Ann's page follows");

  const verify = await runCli({ DATABASE_URL: database.url }, 'replay', 'verify');
  t.equal(verify.status, 0, `replay verify after all of it: ${verify.stdout}${verify.stderr}`);
});
