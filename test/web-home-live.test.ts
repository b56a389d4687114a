import path from 'node:path';
import t from 'tap';
import { PHONE, SHOTS, addMemberById, fillExpense, signUp, useBrowserWorld, waitForLogVersion, type Person } from './helpers/browser.js';

// The live home page (issue #14 §5), two people: Ann on a desktop (1280×800), Bob on a
// phone. Bob keeps his home page open; Ann adds him to a group and adds an expense; his
// list, balance and totals change without a reload.

declare const document: any;
declare const window: any;

const DESKTOP_800 = { viewport: { width: 1280, height: 800 } };
let ann: Person;
let bob: Person;
let groupId: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', DESKTOP_800);
  bob = await signUp(world.browser, world.server.url, 'Bob', PHONE);
});

const fitsTheScreen = (p: Person) => p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

t.test("Bob's open home page shows the group Ann adds him to, live", async (t) => {
  await bob.page.getByTestId('live-status').filter({ hasText: 'Live' }).waitFor({ timeout: 5_000 });
  t.equal(await bob.page.locator('ul.groups li').count(), 0, 'Bob has no groups yet');

  await ann.page.getByLabel('Name', { exact: true }).fill('Ski trip');
  await ann.page.getByRole('button', { name: 'Create group' }).click();
  await ann.page.waitForURL(/#\/groups\//);
  groupId = decodeURIComponent(ann.page.url().split('#/groups/')[1] ?? '');
  await addMemberById(ann.page, bob);
  await waitForLogVersion(world.database, groupId, 2);

  const row = bob.page.locator(`ul.groups li[data-group-id="${groupId}"]`);
  await row.waitFor({ timeout: 5_000 });
  t.match(await row.textContent(), /Ski trip/, 'the new group is on his phone without a reload');
  t.match(await bob.page.getByTestId('totals').textContent(), /settled up/);
});

t.test("Ann's expense changes Bob's balance and totals, live; both screens fit", async (t) => {
  await fillExpense(ann.page, { description: 'Chalet', amount: '90.00', paidBy: ann, mode: 'equal' }, [ann, bob]);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(world.database, groupId, 3);
  const row = bob.page.locator(`ul.groups li[data-group-id="${groupId}"]`);
  await row.locator('[data-balance="-45.00"]').waitFor({ timeout: 5_000 });
  t.pass("Bob's balance in the group is -45.00");
  const totals = bob.page.getByTestId('totals');
  await totals.filter({ hasText: 'You owe €45.00 in total' }).waitFor({ timeout: 5_000 });
  t.equal(await totals.textContent(), 'You owe €45.00 in total');

  // Ann, back on her home page, sees her side.
  await ann.page.goto(`${world.server.url}/#/`);
  await ann.page.getByTestId('totals').filter({ hasText: 'You are owed €45.00 in total' }).waitFor({ timeout: 5_000 });
  t.pass("Ann's home page shows she is owed €45.00 in total");
  t.ok(await fitsTheScreen(bob), 'the phone page fits its width');
  t.ok(await fitsTheScreen(ann), 'the desktop page fits its width');
  await bob.page.screenshot({ path: path.join(SHOTS, 'home-live-phone.png'), fullPage: true });
  await ann.page.screenshot({ path: path.join(SHOTS, 'home-live-desktop.png'), fullPage: true });
});

t.test('Ann removes Bob (at zero) and the group leaves his home page, live', async (t) => {
  // Bob pays Ann back on the server so the removal is allowed; his page follows.
  await ann.page.goto(`${world.server.url}/#/groups/${encodeURIComponent(groupId)}`);
  await fillExpense(ann.page, { description: 'Refund', amount: '90.00', paidBy: bob, mode: 'equal' }, [ann, bob]);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(world.database, groupId, 4);
  const row = bob.page.locator(`ul.groups li[data-group-id="${groupId}"]`);
  await row.locator('[data-balance="0.00"]').waitFor({ timeout: 5_000 });
  const member = ann.page.getByTestId('members').locator(`li[data-user-id="${bob.userId}"]`);
  await member.getByRole('button', { name: 'Remove Bob' }).click();
  await member.getByRole('button', { name: 'Confirm: remove Bob' }).click();
  await waitForLogVersion(world.database, groupId, 5);
  await row.waitFor({ state: 'detached', timeout: 5_000 });
  t.pass('the group is gone from his phone');
  t.equal(await bob.page.getByTestId('live-status').textContent(), 'Live');
});
