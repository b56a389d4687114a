import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import t from 'tap';
import {
  expenseAction,
  addMemberById,
  DESKTOP,
  PHONE,
  everyScreenShowsTheLog as showsTheLog,
  fillExpense,
  fromTheLog as logOf,
  launchChromium,
  signUp as signUpIn,
  waitForLogVersion as logReaches,
  type Asserts,
  type Person,
} from './helpers/browser.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { freePort, startServerProcess, type ServerProcess } from './helpers/server-process.js';

// The callbacks given to page.evaluate / waitForFunction run in the browser.
declare const document: any;
declare const window: any;
declare const localStorage: any;

// Three people in three browsers (one phone-sized) share a group through the web page.
// After every operation, every screen must show, within one second and without a
// reload, exactly the balances that replay's fold of the event log gives for the
// group's current version: read from the database, never from a page.

const SHOTS = path.resolve('artifacts/screenshots');

let database: TestDatabase;
let server: ServerProcess;
let port: number;
let browser: Browser;
t.before(async () => {
  await mkdir(SHOTS, { recursive: true });
  database = await createTestDatabase();
  port = await freePort();
  server = await startServerProcess({ DATABASE_URL: database.url }, 60_000, port);
  browser = await launchChromium();
});
t.teardown(async () => {
  await browser?.close();
  await server?.stop();
  await database?.close();
});

const fromTheLog = (groupId: string) => logOf(database, groupId);
const waitForLogVersion = (groupId: string, atLeast: number) => logReaches(database, groupId, atLeast);
const everyScreenShowsTheLog = (t: Asserts, people: Person[], groupId: string, what: string) => showsTheLog(t, database, people, groupId, what);
const signUp = (name: string, options: Parameters<Browser['newContext']>[0] = {}) => signUpIn(browser, `http://127.0.0.1:${port}`, name, options);

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

t.test('three people, three browsers: every screen shows the log-derived balances after every operation', async (t) => {
  const ann = await signUp('Ann', DESKTOP);
  const bob = await signUp('Bob', DESKTOP);
  const cat = await signUp('Cat', PHONE);
  const people = [ann, bob, cat];

  // Ann creates the group and adds Bob and Cat by the user ids their pages show.
  await shot(ann.page, '1-home');
  await ann.page.getByLabel('Name', { exact: true }).fill('Lisbon trip');
  await ann.page.getByLabel('Currency (ISO code)').fill('EUR');
  await ann.page.getByRole('button', { name: 'Create group' }).click();
  await ann.page.waitForURL(/#\/groups\//);
  const groupId = decodeURIComponent(ann.page.url().split('#/groups/')[1] ?? '');
  for (const [i, friend] of [bob, cat].entries()) {
    await addMemberById(ann.page, friend);
    await waitForLogVersion(groupId, 2 + i);
  }
  for (const friend of [bob, cat]) {
    await friend.page.reload(); // their group list was loaded before they were added
    await friend.page.getByRole('link', { name: 'Lisbon trip' }).click();
  }
  let version = (await everyScreenShowsTheLog(t, people, groupId, 'group with three members')).version;

  const step = async (who: Person, what: string, act: () => Promise<void>, appends = 1) => {
    await act();
    await waitForLogVersion(groupId, version + appends);
    version = (await everyScreenShowsTheLog(t, people, groupId, `${who.name}: ${what}`)).version;
  };

  await step(ann, 'adds Dinner 90.00 split equally', async () => {
    await fillExpense(ann.page, { description: 'Dinner', amount: '90.00', paidBy: ann, mode: 'equal' }, people);
    await ann.page.getByTestId('preview').getByText('Resolved:').waitFor();
    t.match(
      await ann.page.getByTestId('preview').textContent(),
      /Ann pays €90\.00; Ann owes €30\.00, Bob owes €30\.00, Cat owes €30\.00/,
      'the form shows the resolved split before saving',
    );
    await ann.page.getByRole('button', { name: 'Add expense' }).click();
  });

  await step(bob, 'adds Taxi 25.00 paid by two, split by exact amounts', async () => {
    await fillExpense(
      bob.page,
      {
        description: 'Taxi',
        amount: '25.00',
        payers: [
          [bob, '20.00'],
          [ann, '5.00'],
        ],
        mode: 'exact',
        values: [
          [bob, '10.00'],
          [cat, '15.00'],
        ],
      },
      people,
    );
    await bob.page.getByTestId('preview').getByText('Resolved:').waitFor();
    await bob.page.getByRole('button', { name: 'Add expense' }).click();
  });

  await step(cat, 'adds Museum 30.00 by percent, on a phone', async () => {
    await fillExpense(
      cat.page,
      {
        description: 'Museum',
        amount: '30.00',
        paidBy: cat,
        mode: 'percent',
        values: [
          [ann, '50'],
          [bob, '25'],
          [cat, '25'],
        ],
      },
      people,
    );
    await cat.page.getByTestId('preview').getByText('Resolved:').waitFor();
    await cat.page.getByRole('button', { name: 'Add expense' }).click();
  });
  t.ok(await cat.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing overflows a phone-sized screen');
  await shot(cat.page, '3-group-phone');

  await step(ann, 'adds Groceries 10.00 by shares 1:2', async () => {
    await fillExpense(
      ann.page,
      {
        description: 'Groceries',
        amount: '10.00',
        paidBy: ann,
        mode: 'shares',
        values: [
          [ann, '1'],
          [bob, '2'],
        ],
      },
      people,
    );
    await ann.page.getByTestId('preview').getByText('Bob owes €6.67').waitFor();
    await ann.page.getByRole('button', { name: 'Add expense' }).click();
  });

  await step(
    bob,
    'edits Dinner to 120.00',
    async () => {
      await expenseAction(bob.page.locator('ol.expenses li', { hasText: 'Dinner' }), 'Edit');
      await bob.page.getByLabel(/^Amount/).fill('120.00');
      await bob.page.getByTestId('preview').getByText('Bob owes €40.00').waitFor();
      await bob.page.getByRole('button', { name: 'Save changes' }).click();
    },
    2,
  );

  await step(cat, 'deletes Groceries', async () => {
    await expenseAction(cat.page.locator('ol.expenses li', { hasText: 'Groceries' }), 'Delete');
    await cat.page
      .locator('ol.expenses li', { hasText: 'Groceries' })
      .getByRole('button', { name: /^Confirm delete/ })
      .click();
  });
  await ann.page.locator('ol.expenses li.deleted', { hasText: 'Groceries' }).waitFor({ timeout: 1_000 });

  // A split that does not add up: the server's error is shown next to the split, and
  // nothing changes on any screen.
  const before = await fromTheLog(groupId);
  await fillExpense(
    ann.page,
    {
      description: 'Wine',
      amount: '50.00',
      paidBy: ann,
      mode: 'exact',
      values: [
        [ann, '20.00'],
        [bob, '20.00'],
      ],
    },
    people,
  );
  const splitError = ann.page.locator('fieldset', { hasText: 'Split' }).getByRole('alert');
  await splitError.waitFor();
  t.match(await splitError.textContent(), /must add up to the amount/);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await new Promise((r) => setTimeout(r, 1_000));
  t.equal(await splitError.isVisible(), true, 'the error stays next to the field after trying to save');
  await shot(ann.page, '4-invalid-expense');
  t.same(await fromTheLog(groupId), before, 'the refused expense appended nothing');
  await everyScreenShowsTheLog(t, people, groupId, 'after a refused expense');
  await step(ann, 'corrects the split and saves', async () => {
    await ann.page.locator(`#share-${bob.userId}`).fill('30.00');
    await ann.page.getByTestId('preview').getByText('Resolved:').waitFor();
    await ann.page.getByRole('button', { name: 'Add expense' }).click();
  });

  await step(bob, 'records a suggested payment from the settlements list', async () => {
    await bob.page
      .getByTestId('settlements')
      .getByRole('button', { name: /^Record payment/ })
      .first()
      .click();
    await bob.page.getByRole('button', { name: 'Confirm payment' }).click();
  });
  await shot(ann.page, '2-group-desktop');

  await step(ann, 'adds Snacks 7.00 using only the keyboard', async () => {
    const page = ann.page;
    await page.locator('body').click({ position: { x: 1, y: 1 } });
    const tabTo = async (selector: string) => {
      for (let i = 0; i < 120; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await tabTo('#exp-description');
    await page.keyboard.type('Snacks');
    await tabTo('#exp-amount');
    await page.keyboard.type('7.00');
    await tabTo('#exp-mode');
    await page.keyboard.press('Home'); // "Equally"
    await page.getByTestId('preview').getByText('Resolved:').waitFor();
    await tabTo('.expense-form button[type="submit"]');
    await page.keyboard.press('Enter');
  });

  // The server goes away while every page is open, and comes back.
  await server.stop();
  await Promise.all(people.map((p) => p.page.getByTestId('live-status').getByText('Reconnecting').waitFor({ timeout: 10_000 })));
  await shot(bob.page, '5-reconnecting');
  server = await startServerProcess({ DATABASE_URL: database.url }, 60_000, port);
  await Promise.all(people.map((p) => p.page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 15_000 })));
  await everyScreenShowsTheLog(t, people, groupId, 'after the server restarted');
  await step(cat, 'adds an expense through the API right after the restart', async () => {
    const token = await cat.page.evaluate(() => localStorage.getItem('fairshare.token'));
    const res = await fetch(`http://127.0.0.1:${port}/groups/${groupId}/expenses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'Coffee', amount: '4.50', paidBy: cat.userId, split: { mode: 'equal' } }),
    });
    t.equal(res.status, 201);
  });

  // A dropped connection: Bob's browser goes offline while Ann writes twice. His page
  // says it is reconnecting (the balances it shows are marked as not live), and once
  // back online it catches up with the versions it missed, without a reload.
  await bob.page.context().setOffline(true);
  await bob.page.getByTestId('live-status').getByText('Reconnecting').waitFor({ timeout: 10_000 });
  const others = [ann, cat];
  for (const amount of ['3.00', '6.00']) {
    await fillExpense(ann.page, { description: `Tram ${amount}`, amount, paidBy: ann, mode: 'equal' }, people);
    await ann.page.getByTestId('preview').getByText('Resolved:').waitFor();
    await ann.page.getByRole('button', { name: 'Add expense' }).click();
    await waitForLogVersion(groupId, version + 1);
    version = (await everyScreenShowsTheLog(t, others, groupId, `Ann adds a tram ticket while Bob is offline`)).version;
  }
  t.not(await bob.page.getByTestId('version').textContent(), `Version ${version}`, 'offline, Bob cannot have the new version');
  await shot(bob.page, '6-offline');
  await bob.page.context().setOffline(false);
  await bob.page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 15_000 });
  await everyScreenShowsTheLog(t, people, groupId, 'Bob is back online and caught up');

  await step(bob, 'deletes a tram ticket', async () => {
    await expenseAction(bob.page.locator('ol.expenses li', { hasText: 'Tram 3.00' }), 'Delete');
    await bob.page
      .locator('ol.expenses li', { hasText: 'Tram 3.00' })
      .getByRole('button', { name: /^Confirm delete/ })
      .click();
  });
  await step(ann, 'deletes the other', async () => {
    await expenseAction(ann.page.locator('ol.expenses li', { hasText: 'Tram 6.00' }), 'Delete');
    await ann.page
      .locator('ol.expenses li', { hasText: 'Tram 6.00' })
      .getByRole('button', { name: /^Confirm delete/ })
      .click();
  });

  // A connection that dies silently (the server frozen, no error, no close): the pages
  // notice the missing heartbeats, stop claiming to be live, and recover when it thaws.
  server.child.kill('SIGSTOP');
  try {
    await Promise.all(people.map((p) => p.page.getByTestId('live-status').getByText('Reconnecting').waitFor({ timeout: 50_000 })));
    t.pass('a silent connection is given up after missed heartbeats');
  } finally {
    server.child.kill('SIGCONT');
  }
  await Promise.all(people.map((p) => p.page.getByTestId('live-status').getByText('Live').waitFor({ timeout: 15_000 })));
  await everyScreenShowsTheLog(t, people, groupId, 'after a frozen server thawed');

  // Signing out and back in: this browser is Cat's only way in, so the page warns first;
  // she saves a sign-in key, signs out, and signs in with it: the same person, the same groups.
  await cat.page.getByRole('button', { name: 'Sign out' }).click();
  await cat.page.getByRole('button', { name: 'Save a sign-in key first' }).click();
  const key = await cat.page.getByTestId('sign-in-key').inputValue();
  await cat.page.getByRole('button', { name: 'I saved it' }).click();
  await cat.page.getByLabel('Your saved sign-in key').fill(key);
  await cat.page.getByRole('button', { name: 'Sign in with the key' }).click();
  t.equal(await cat.page.getByTestId('my-user-id').textContent(), cat.userId);
  await cat.page.getByRole('link', { name: 'Lisbon trip' }).waitFor();
  t.match(await cat.page.locator(`li[data-group-id="${groupId}"]`).textContent(), /owes|is owed|settled up/, 'her balance in the group is on the list');
  await cat.page
    .getByLabel('Your saved sign-in key')
    .count()
    .then((n) => t.equal(n, 0, 'no sign-in form once signed in'));

  const text = await bob.page.locator('ol.expenses').textContent();
  t.match(text, /Payment: Bob paid|Payment: .* paid/, 'the payment is listed');
  t.match(text, /Groceries.*\(deleted\)/, 'the deleted expense is struck through');
});

t.test('the API docs page renders in Chromium under its CSP, with nothing blocked', async (t) => {
  const context = await browser.newContext(DESKTOP);
  t.teardown(() => context.close());
  const page = await context.newPage();
  const blocked: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') blocked.push(message.text());
  });
  await page.goto(`http://127.0.0.1:${port}/docs/`);
  await page.waitForSelector('.swagger-ui .info .title');
  t.match(await page.textContent('.swagger-ui .info .title'), /FairShare/);
  await page.waitForSelector('.opblock-tag');
  t.ok((await page.$$('.opblock')).length > 10, 'the operations are listed');
  t.same(blocked, [], 'no console errors (a CSP violation would be one)');
});
