import path from 'node:path';
import t from 'tap';
import { expenseAction, PHONE, SHOTS, everyScreenShowsTheLog, groupOnThePage, signUp, useBrowserWorld, type Person } from './helpers/browser.js';
import { call } from './helpers/server-process.js';

// The whole history in the page (issue #14 item 3), two people: Ann on a desktop
// (1280×800), Bob on a phone (390×844). More expenses than one page holds: "Load more"
// and loading as you scroll, search by description, filter by member, a deletion by Bob
// that Ann's filtered list shows with who deleted it (live, keeping her pages and
// filters), and the activity view of the group's log.

declare const document: any;
declare const window: any;
declare const localStorage: any;

const DESKTOP_800 = { viewport: { width: 1280, height: 800 } };
const world = useBrowserWorld(t);
let ann: Person;
let bob: Person;
let groupId: string;
const tokens = new Map<Person, string>();

/** The 62 expenses made through the API, oldest first: every third a dinner, payers alternating, every fourth Ann's alone. */
const made = Array.from({ length: 62 }, (_, n) => {
  const i = n + 1;
  return { i, description: i % 3 === 0 ? `Dinner ${i}` : `Coffee ${i}`, payer: i % 2 ? 'ann' : 'bob', annAlone: i % 4 === 0 };
});
const involvesBob = (e: (typeof made)[number]) => e.payer === 'bob' || !e.annAlone;

const api = (who: Person, method: string, pathName: string, body?: unknown) => call(world.server.url, method, pathName, tokens.get(who), body);
const list = (p: Person) => p.page.getByTestId('expenses');
/** Waits until the list on `p`'s page holds `count` expenses; their descriptions. */
async function shown(p: Person, count: number) {
  await p.page.locator(`[data-testid="expenses"][data-count="${count}"]`).waitFor({ state: 'attached', timeout: 5_000 });
  return list(p).locator('li[data-expense-id] .description').allTextContents();
}
const fitsTheScreen = (p: Person) => p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', DESKTOP_800);
  bob = await signUp(world.browser, world.server.url, 'Bob', PHONE);
  for (const p of [ann, bob]) tokens.set(p, await p.page.evaluate(() => localStorage.getItem('fairshare.token') as string));
  groupId = await groupOnThePage(world, ann, 'Road trip', [bob]);
  for (const e of made) {
    const res = await api(ann, 'POST', `/groups/${groupId}/expenses`, {
      expenseId: `x${e.i}`,
      description: e.description,
      amount: '3.00',
      paidBy: e.payer === 'ann' ? ann.userId : bob.userId,
      split: { mode: 'equal', among: e.annAlone ? [ann.userId] : [ann.userId, bob.userId] },
      occurredAt: new Date(Date.UTC(2026, 9, 1) + e.i * 3_600_000).toISOString(),
    });
    if (res.status !== 201) throw new Error(`${e.description}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await everyScreenShowsTheLog(t, world.database, [ann, bob], groupId, '62 expenses');
});

t.test('the list shows a page; Load more and scrolling to its end bring the rest, newest first', async (t) => {
  const newestFirst = made.map((e) => e.description).reverse();
  t.same(await shown(ann, 50), newestFirst.slice(0, 50), 'the first 50, newest first');
  await list(ann).getByRole('button', { name: 'Load more' }).click();
  t.same(await shown(ann, 62), newestFirst, 'Load more: all 62, each once');
  t.equal(await list(ann).getByRole('button', { name: 'Load more' }).count(), 0, 'nothing more to load');

  t.equal(await list(bob).getAttribute('data-count'), '50', "Bob's phone too shows one page until he scrolls");
  await list(bob).locator('li[data-expense-id]').last().scrollIntoViewIfNeeded();
  await bob.page.mouse.wheel(0, 2_000);
  t.same(await shown(bob, 62), newestFirst, "scrolling to the end of Bob's list loads the next page");
});

t.test("a change from Bob shows in Ann's list at once, keeping her loaded pages", async (t) => {
  const res = await api(bob, 'POST', `/groups/${groupId}/expenses`, {
    expenseId: 'taxi',
    description: 'Taxi home',
    amount: '7.00',
    paidBy: bob.userId,
    split: { mode: 'equal' },
  });
  t.equal(res.status, 201);
  const all = await shown(ann, 63);
  t.equal(all[0], 'Taxi home', 'the new expense on top');
  t.equal(all.at(-1), 'Coffee 1', 'the oldest is still loaded: no page lost');
});

t.test('search by description and filter by member, then a deletion by Bob shows who deleted it, filters kept', async (t) => {
  await ann.page.getByLabel('Search').fill('DINNER');
  const dinners = made.filter((e) => e.description.startsWith('Dinner'));
  t.same(await shown(ann, dinners.length), dinners.map((e) => e.description).reverse(), 'only dinners, whatever the case typed');
  await ann.page.getByLabel('Paid or shared by').selectOption({ label: 'Bob' });
  const bobsDinners = dinners
    .filter(involvesBob)
    .map((e) => e.description)
    .reverse();
  t.same(await shown(ann, bobsDinners.length), bobsDinners, "only Bob's dinners (paid or shared)");

  await bob.page.getByLabel('Search').fill('dinner 60');
  await shown(bob, 1);
  await expenseAction(list(bob), 'Delete');
  await list(bob).getByRole('button', { name: 'Confirm delete Dinner 60' }).click();

  const row = list(ann).locator('li.deleted', { hasText: 'Dinner 60' });
  await row.getByTestId('deleted-by').waitFor({ timeout: 5_000 });
  t.equal(await row.getByTestId('deleted-by').textContent(), 'Deleted by Bob', "Ann's list says who deleted it");
  t.same(
    await shown(ann, bobsDinners.length),
    bobsDinners.map((d) => (d === 'Dinner 60' ? 'Dinner 60 (deleted)' : d)),
    'the same filtered list, the deleted one marked in place',
  );
  t.equal(await ann.page.getByLabel('Search').inputValue(), 'DINNER', 'the search is kept');
  await ann.page.locator('section.history').screenshot({ path: path.join(SHOTS, 'history-search-desktop.png') });

  await ann.page.getByLabel('Search').fill('no such thing');
  await ann.page.getByTestId('no-expenses').waitFor();
  t.equal(await ann.page.getByTestId('no-expenses').textContent(), 'No expenses match.');
  await ann.page.getByLabel('Search').fill('');
  await ann.page.getByLabel('Paid or shared by').selectOption({ label: 'Everyone' });
  await shown(ann, 50);
  t.pass('clearing both starts again from the first page of everything');
});

t.test('the activity view tells who did what, an edit as one line, newest first, on both screens', async (t) => {
  const res = await api(ann, 'PUT', `/groups/${groupId}/expenses/taxi`, {
    description: 'Taxi to the station',
    amount: '8.00',
    paidBy: bob.userId,
    split: { mode: 'equal' },
  });
  t.equal(res.status, 200);
  const pay = await api(bob, 'POST', `/groups/${groupId}/expenses`, {
    kind: 'payment',
    description: 'Bob paid Ann',
    amount: '5.00',
    paidBy: bob.userId,
    split: { mode: 'equal', among: [ann.userId] },
  });
  t.equal(pay.status, 201);
  const { version } = await everyScreenShowsTheLog(t, world.database, [ann, bob], groupId, 'after the edit and the payment');

  for (const p of [ann, bob]) {
    await p.page.getByRole('tab', { name: 'Activity' }).click();
    await p.page.locator(`[data-testid="activity"][data-version="${version}"]`).waitFor({ timeout: 5_000 });
    const lines = (await p.page.getByTestId('activity').locator('li .what').allTextContents()).map((s) => s.trim());
    t.same(
      lines.slice(0, 4),
      ['Bob paid Ann €5.00', 'Ann edited Taxi to the station (€8.00)', 'Bob deleted Dinner 60', 'Bob added Taxi home (€7.00)'],
      `${p.name}: the newest first, the edit as one line`,
    );
    t.ok(lines.includes('Ann added Coffee 1 (€3.00)'), `${p.name}: the first expense`);
    t.equal(lines.at(-2), `Bob joined (invited by Ann)`, `${p.name}: who joined and who brought them`);
    t.equal(lines.at(-1), 'Ann created the group Road trip', `${p.name}: the start`);
    t.equal(await p.page.getByTestId('activity').locator('li time').count(), lines.length, 'every line has its date');
  }
  t.ok(await fitsTheScreen(bob), 'the activity fits a phone screen');
  await bob.page.screenshot({ path: path.join(SHOTS, 'history-activity-phone.png'), fullPage: true });
  await ann.page.locator('section.history').screenshot({ path: path.join(SHOTS, 'history-activity-desktop.png') });

  // A change while the activity is open shows at once.
  t.equal((await api(bob, 'PATCH', `/groups/${groupId}`, { name: 'Road trip 2026' })).status, 200);
  await ann.page.getByTestId('activity').locator('li .what', { hasText: 'Bob renamed the group to Road trip 2026' }).waitFor({ timeout: 5_000 });
  t.pass("Bob's rename is on top of Ann's activity without a reload");

  // More than the activity's first read (100 events), then a deletion of the very first expense.
  for (let i = 0; i < 40; i++) {
    const res = await api(ann, 'POST', `/groups/${groupId}/expenses`, {
      description: `Snack ${i}`,
      amount: '1.00',
      paidBy: ann.userId,
      split: { mode: 'equal' },
    });
    if (res.status !== 201) throw new Error(`snack ${i}: ${res.status}`);
  }
  t.equal((await api(bob, 'DELETE', `/groups/${groupId}/expenses/x1`)).status, 200);
  // Ann opens the activity afresh: it reads the newest 100 events.
  await ann.page.getByRole('tab', { name: 'Expenses' }).click();
  await ann.page.getByRole('tab', { name: 'Activity' }).click();
  const activity = ann.page.getByTestId('activity');
  await activity.locator('li .what', { hasText: 'Bob deleted Coffee 1' }).first().waitFor({ timeout: 5_000 });
  t.pass('a deletion of an expense added before the events shown still names it');
  t.equal(await activity.locator('li .what', { hasText: 'Ann created the group' }).count(), 0, 'the oldest events are not read yet');
  await ann.page.getByRole('button', { name: 'Show older activity' }).click();
  await activity.locator('li .what', { hasText: 'Ann created the group Road trip' }).waitFor({ timeout: 5_000 });
  t.equal(await ann.page.getByRole('button', { name: 'Show older activity' }).count(), 0, 'Show older activity: back to the start of the group');
  await bob.page.getByRole('tab', { name: 'Expenses' }).click();
  await shown(bob, 50);
  t.ok(await fitsTheScreen(bob), 'the expense list fits a phone screen');
  await bob.page.screenshot({ path: path.join(SHOTS, 'history-expenses-phone.png'), fullPage: true });
});
