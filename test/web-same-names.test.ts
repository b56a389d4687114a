import path from 'node:path';
import type { Browser } from 'playwright-core';
import t from 'tap';
import {
  DESKTOP,
  PHONE,
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
import type { ServerProcess } from './helpers/server-process.js';

// Two members called Bob (issue #13 §6) once read as "Bob pays Bob". Wherever the page
// names members, two who share a name are told apart by the start of their user ids.
// Ann on a desktop, one Bob on a desktop and the other on a phone.

declare const document: any;
declare const window: any;

let database: TestDatabase;
let server: ServerProcess;
let browser: Browser;
let ann: Person;
let bob1: Person;
let bob2: Person;
let groupId: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ({ database, server, browser } = world);
  ann = await signUp(browser, server.url, 'Ann', DESKTOP);
  bob1 = await signUp(browser, server.url, 'Bob', DESKTOP);
  bob2 = await signUp(browser, server.url, 'bob ', PHONE);
  groupId = await groupOnThePage(world, ann, 'Two Bobs', [bob1, bob2]);
});

const tag = (p: Person) => p.userId.slice(0, 4);

t.test('balances, settle-up lines, the payer list and the split tell the two Bobs apart', async (t) => {
  t.not(tag(bob1), tag(bob2), 'the two ids start differently (server-made UUIDs)');
  await fillExpense(ann.page, { description: 'Pizza', amount: '9.00', paidBy: ann, mode: 'equal' }, [ann, bob1, bob2]);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(database, groupId, 4);
  await everyScreenShowsTheLog(t, database, [ann, bob1, bob2], groupId, 'after the pizza');

  const names = await ann.page.getByTestId('balances').locator('.name').allTextContents();
  t.same(names, ['Ann (you)', `Bob ·${tag(bob1)}`, `bob ·${tag(bob2)}`], 'balances: Ann as she is, each Bob with his own tag');
  const lines = await ann.page.getByTestId('settlements').locator('li > span').allTextContents();
  t.same(lines.sort(), [`Bob ·${tag(bob1)} pays Ann €3.00`, `bob ·${tag(bob2)} pays Ann €3.00`].sort(), 'settle up says which Bob pays');
  const payers = await ann.page.getByLabel('Who paid').locator('option').allTextContents();
  t.same(payers, ['Ann', `Bob ·${tag(bob1)}`, `bob ·${tag(bob2)}`], 'the payer list');
  t.same(
    (await ann.page.locator('.per-member label').allTextContents()).map((text) => text.trim()),
    ['Ann', `Bob ·${tag(bob1)}`, `bob ·${tag(bob2)}`],
    'the split checkboxes',
  );
  t.match(
    await ann.page.getByTestId('expenses').locator('li', { hasText: 'Pizza' }).textContent(),
    new RegExp(`Bob ·${tag(bob1)} €3\\.00, bob ·${tag(bob2)} €3\\.00`),
    'the expense line',
  );
  await ann.page.screenshot({ path: path.join(SHOTS, 'same-names-desktop.png'), fullPage: true });

  const mine = await bob2.page.getByTestId('balances').locator(`li[data-user-id="${bob2.userId}"] .name`).textContent();
  t.equal(mine, `bob ·${tag(bob2)} (you)`, 'on the phone, too, and "(you)" on his own line');
  t.match(await bob2.page.getByTestId('members').textContent(), new RegExp(`Bob ·${tag(bob1)}`), 'and in the members list');
  t.ok(await bob2.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the tags fit a phone screen');
  await bob2.page.screenshot({ path: path.join(SHOTS, 'same-names-phone.png'), fullPage: true });
});
