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
} from './helpers/browser.js';
import type { TestDatabase } from './helpers/database.js';
import { call, type ServerProcess } from './helpers/server-process.js';

// The page's two money bugs, as people hit them: a member who joins while the expense
// form is open was left out of the default equal split, and a double click on "Record
// payment" recorded the payment twice. Two people, a desktop and a phone; what counts is
// what the event log holds afterwards.

declare const localStorage: any;
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
});

const tokenOf = (p: Person): Promise<string> => p.page.evaluate(() => localStorage.getItem('fairshare.token'));
const lastEvent = async () => (await eventsOf(database, groupId)).at(-1);

t.test('a member who joins while the expense form is open shares the default equal split', async (t) => {
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'Ann and Bob in the group');
  await ann.page.getByLabel('Description').fill('Groceries');
  await ann.page.getByLabel(/^Amount/).fill('30.00');

  // While Ann's form is open, Bob adds Cat through the API.
  const cat = await call(server.url, 'POST', '/users', undefined, { name: 'Cat' });
  t.equal((await call(server.url, 'POST', `/groups/${groupId}/members`, await tokenOf(bob), { userId: cat.body.userId })).status, 201);
  const catBox = ann.page.locator(`#among-${cat.body.userId}`);
  await catBox.waitFor({ timeout: 5_000 });
  t.equal(await catBox.isChecked(), true, 'the new member shows in the open form, ticked like everyone else');
  await ann.page.getByTestId('preview').getByText('Cat owes €10.00').waitFor();

  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(database, groupId, 4);
  const added = await lastEvent();
  t.equal(added?.type, 'ExpenseAdded');
  t.same(
    added?.data.shares.map((s: { userId: string; amountMinor: number }) => [s.userId, s.amountMinor]),
    [
      [ann.userId, 1000],
      [bob.userId, 1000],
      [cat.body.userId, 1000],
    ],
    'the expense is shared by all three members',
  );
  t.ok(added?.metadata.idempotencyKey, 'the page sent an Idempotency-Key');
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the expense with Cat');
});

t.test('an expense that moves no balance is flagged before it is saved', async (t) => {
  const before = (await eventsOf(database, groupId)).length;
  await fillExpense(bob.page, { description: 'My own lunch', amount: '12.00', paidBy: bob, mode: 'equal', among: [bob] }, [ann, bob]);
  const cat = (await call(server.url, 'GET', `/groups/${groupId}`, await tokenOf(bob))).body.members.at(-1).userId as string;
  await bob.page.locator(`#among-${cat}`).uncheck();
  const warning = bob.page.getByTestId('no-effect');
  await warning.waitFor();
  t.match(await warning.textContent(), /Bob paid and is the only one sharing it, so this moves no balance/);
  await bob.page.getByRole('button', { name: 'Add expense' }).click();
  await bob.page.getByRole('button', { name: 'Add anyway' }).waitFor();
  t.equal((await eventsOf(database, groupId)).length, before, 'the first press saves nothing: it asks');

  await bob.page.locator(`#among-${ann.userId}`).check();
  await warning.waitFor({ state: 'detached' });
  await bob.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(database, groupId, before + 1);
  t.same(
    (await lastEvent())?.data.shares.map((s: { userId: string }) => s.userId),
    [ann.userId, bob.userId],
    'saved once it is shared',
  );
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the corrected expense');
});

t.test('a double click on Record payment records one payment, of the amount the person confirmed', async (t) => {
  const before = (await eventsOf(database, groupId)).length;
  const line = bob.page.getByTestId('settlements').locator('li', { hasText: 'Bob pays Ann' });
  const suggestion = (await line.textContent()) ?? '';
  await line.getByRole('button', { name: /^Record payment/ }).dblclick();
  const amount = bob.page.getByLabel(/How much did Bob pay Ann/);
  await amount.waitFor();
  t.equal(await amount.inputValue(), /€([0-9.]+)/.exec(suggestion)?.[1], 'the amount is prefilled with the suggestion');
  t.ok(await bob.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the payment form fits a phone screen');
  await line.screenshot({ path: path.join(SHOTS, 'record-payment-phone.png') });
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await eventsOf(database, groupId)).length, before, 'opening the payment records nothing');

  await amount.fill('3.00');
  await bob.page.getByRole('button', { name: 'Confirm payment' }).dblclick();
  await waitForLogVersion(database, groupId, before + 1);
  await new Promise((r) => setTimeout(r, 1_000));
  const events = await eventsOf(database, groupId);
  t.equal(events.length, before + 1, 'a double click records the payment once');
  const payment = events.at(-1)?.data;
  t.same(
    { kind: payment?.kind, amountMinor: payment?.amountMinor, payers: payment?.payers, shares: payment?.shares },
    { kind: 'payment', amountMinor: 300, payers: [{ userId: bob.userId, amountMinor: 300 }], shares: [{ userId: ann.userId, amountMinor: 300 }] },
    'a partial payment of 3.00 from Bob to Ann',
  );
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the payment');
});

t.test(
  'a payment above the suggestion is asked about once (5000 typed for 50.00); another amount is asked about afresh; Record anyway records it',
  async (t) => {
    const before = (await eventsOf(database, groupId)).length;
    const line = bob.page.getByTestId('settlements').locator('li', { hasText: 'Bob pays Ann' });
    await line.getByRole('button', { name: /^Record payment/ }).click();
    const amount = bob.page.getByLabel(/How much did Bob pay Ann/);
    const suggested = await amount.inputValue();
    await amount.fill('5000');
    await bob.page.getByRole('button', { name: 'Confirm payment' }).click();
    const question = bob.page.getByTestId('overpayment');
    await question.waitFor();
    t.match(
      await question.textContent(),
      new RegExp(`€5,000\\.00 is more than the €${suggested.replace('.', '\\.')} that settles Bob with Ann\\. If it is right, press Record anyway\\.$`),
      'it says how much settles the two',
    );
    t.ok(await bob.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the question fits the phone');
    await new Promise((r) => setTimeout(r, 300));
    t.equal((await eventsOf(database, groupId)).length, before, 'the first press records nothing');

    await amount.fill('60');
    t.equal(await question.count(), 0, 'another amount: the question goes');
    await bob.page.getByRole('button', { name: 'Confirm payment' }).click();
    await question.waitFor();
    t.match(await question.textContent(), /€60\.00 is more than/, 'and is asked afresh');
    await bob.page.getByRole('button', { name: 'Record anyway' }).click();
    await waitForLogVersion(database, groupId, before + 1);
    const payment = (await eventsOf(database, groupId)).at(-1)?.data;
    t.same(
      { kind: payment?.kind, amountMinor: payment?.amountMinor, payers: payment?.payers },
      { kind: 'payment', amountMinor: 6000, payers: [{ userId: bob.userId, amountMinor: 6000 }] },
      'Record anyway records the amount asked about',
    );
    await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the payment above the suggestion');
  },
);

t.test('a write whose response is lost is recorded once when the person tries again', async (t) => {
  const before = (await eventsOf(database, groupId)).length;
  // The request reaches the server and commits; the browser never sees the answer.
  let dropped = 0;
  await ann.page.route('**/groups/*/expenses', async (route) => {
    if (route.request().method() !== 'POST' || dropped > 0) return route.continue();
    dropped += 1;
    await route.fetch();
    await route.abort('connectionreset');
  });
  await fillExpense(ann.page, { description: 'Cleaning', amount: '9.00', paidBy: ann, mode: 'equal' }, [ann, bob]);
  await ann.page.getByTestId('preview').getByText('Resolved:').waitFor();
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await ann.page.getByText('The server cannot be reached').waitFor();
  await waitForLogVersion(database, groupId, before + 1);
  t.equal(await ann.page.getByLabel('Description').inputValue(), 'Cleaning', 'the form keeps what was typed');

  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await ann.page.waitForFunction(() => document.getElementById('exp-description')?.value === '', undefined, { timeout: 5_000 });
  t.equal(dropped, 1);
  const events = await eventsOf(database, groupId);
  t.equal(events.length, before + 1, 'the retry appended nothing');
  t.equal(events.filter((e) => e.data.description === 'Cleaning').length, 1, 'one Cleaning expense');
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'after the retried expense');
});
