import t from 'tap';
import { expenseAction, DESKTOP, PHONE, eventsOf, groupOnThePage, signUp, useBrowserWorld, waitForLogVersion, type Person } from './helpers/browser.js';

// A date on every expense (issue #14 §4), two people: Ann on a desktop in Berlin records
// what happened on other days; Bob's phone in Los Angeles shows the same days, in date
// order. A day is a calendar day (sent as noon UTC, shown in UTC): the day Ann chose is
// the day everyone sees, whatever their time zone.

declare const document: any;

const world = useBrowserWorld(t);
let ann: Person;
let bob: Person;
let groupId: string;

t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', { ...DESKTOP, timezoneId: 'Europe/Berlin' });
  bob = await signUp(world.browser, world.server.url, 'Bob', { ...PHONE, timezoneId: 'America/Los_Angeles' });
  groupId = await groupOnThePage(world, ann, 'Trip', [bob]);
});

const add = async (description: string, amount: string, date?: string) => {
  await ann.page.getByLabel('Description').fill(description);
  await ann.page.getByLabel(/^Amount/).fill(amount);
  if (date) await ann.page.getByLabel('Date').fill(date);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  // Saved: the form starts afresh.
  await ann.page.waitForFunction(() => document.getElementById('exp-description')?.value === '');
};
const listed = (page: Person['page']) =>
  page.evaluate(() =>
    [...document.querySelectorAll('ol.expenses li')].map((li: any) => [
      li.querySelector('strong, .description')?.textContent?.trim(),
      li.querySelector('time')?.getAttribute('datetime'),
    ]),
  );

t.test('the form has a date, today by default; each day is recorded as noon UTC of it', async (t) => {
  const today = await ann.page.getByLabel('Date').inputValue();
  t.match(today, /^\d{4}-\d{2}-\d{2}$/, 'today');
  await add('Museum', '20.00');
  await waitForLogVersion(world.database, groupId, 3);
  t.equal((await eventsOf(world.database, groupId)).at(-1)?.data.occurredAt, `${today}T12:00:00.000Z`, 'today, as a day');

  await add('Hotel', '300.00', '2026-10-15');
  await waitForLogVersion(world.database, groupId, 4);
  t.equal((await eventsOf(world.database, groupId)).at(-1)?.data.occurredAt, '2026-10-15T12:00:00.000Z', 'the chosen day');
  await add('Train', '45.50', '2026-11-01');
  await waitForLogVersion(world.database, groupId, 5);
  t.equal((await eventsOf(world.database, groupId)).at(-1)?.data.occurredAt, '2026-11-01T12:00:00.000Z', 'another day');
  t.equal(await ann.page.getByLabel('Date').inputValue(), today, 'the next expense starts at today again');
});

t.test('both lists are in date order, and show the day Ann chose, in Berlin and in Los Angeles', async (t) => {
  const order = ['Museum', 'Train', 'Hotel'];
  for (const person of [ann, bob]) {
    await person.page.waitForFunction((n: number) => document.querySelectorAll('ol.expenses li').length === n, 3);
    t.same(
      (await listed(person.page)).map(([d]) => d),
      order,
      `${person.name}: newest day first`,
    );
  }
  const bobHotel = bob.page.locator('ol.expenses li', { hasText: 'Hotel' }).locator('time');
  t.equal(await bobHotel.textContent(), ' · 10/15/2026', 'Bob, nine hours behind UTC, sees October 15 too');
});

t.test('editing shows the day, and a new day moves the expense', async (t) => {
  await expenseAction(ann.page.locator('ol.expenses li', { hasText: 'Hotel' }), 'Edit');
  t.equal(await ann.page.getByLabel('Date').inputValue(), '2026-10-15');
  await ann.page.getByLabel('Description').fill('Hotel (3 nights)');
  await ann.page.getByRole('button', { name: 'Save changes' }).click();
  await waitForLogVersion(world.database, groupId, 7);
  t.equal((await eventsOf(world.database, groupId)).at(-1)?.data.occurredAt, '2026-10-15T12:00:00.000Z', 'an edit that keeps the day keeps the instant');

  await expenseAction(ann.page.locator('ol.expenses li', { hasText: 'Hotel (3 nights)' }), 'Edit');
  await ann.page.getByLabel('Date').fill('2026-11-20');
  await ann.page.getByRole('button', { name: 'Save changes' }).click();
  await waitForLogVersion(world.database, groupId, 9);
  await bob.page.waitForFunction(() => document.querySelector('ol.expenses li')?.textContent?.includes('Museum') === true);
  await bob.page.waitForFunction(() => document.querySelectorAll('ol.expenses li')[1]?.textContent?.includes('Hotel') === true);
  t.same(
    (await listed(bob.page)).map(([d]) => d),
    ['Museum', 'Hotel (3 nights)', 'Train'],
    "Bob's list follows: the hotel moved between today and November 1",
  );
});
