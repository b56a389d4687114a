import path from 'node:path';
import t from 'tap';
import {
  expenseAction,
  DESKTOP,
  PHONE,
  SHOTS,
  eventsOf,
  everyScreenShowsTheLog,
  groupOnThePage,
  signUp,
  useBrowserWorld,
  waitForLogVersion,
  type Person,
} from './helpers/browser.js';

// Amounts in people's own format (issue #14 §1), two people: Ann on a desktop in German
// (decimal comma, dot grouping), Bob on a phone in American English. Each types amounts
// the way their locale writes them; the API gets its canonical decimal strings; the log
// holds the exact minor units. A JPY group (no minor digits) too.

const world = useBrowserWorld(t);
let ann: Person;
let bob: Person;
let groupId: string;
const added = async (n: number) => {
  await waitForLogVersion(world.database, groupId, n);
  return (await eventsOf(world.database, groupId)).at(-1);
};

t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', { ...DESKTOP, locale: 'de-DE' });
  bob = await signUp(world.browser, world.server.url, 'Bob', { ...PHONE, locale: 'en-US' });
  groupId = await groupOnThePage(world, ann, 'Wohnung', [bob]);
});

t.test('Ann types German amounts: decimal comma, dot grouping, the euro sign', async (t) => {
  const page = ann.page;
  await page.getByLabel('Description').fill('Brot');
  await page.getByLabel(/^Amount/).fill('12,50');
  await page
    .getByTestId('preview')
    .getByText(/Resolved/)
    .waitFor();
  await page.getByRole('button', { name: 'Add expense' }).click();
  t.match(await added(3), { type: 'ExpenseAdded', data: { description: 'Brot', amountMinor: 1250 } }, '12,50 is 12.50');

  await page.getByLabel('Description').fill('Miete');
  await page.getByLabel(/^Amount/).fill('1.234,56 €');
  await page.getByLabel('How').selectOption('exact');
  await page.locator(`#share-${ann.userId}`).fill('1.000');
  await page.locator(`#share-${bob.userId}`).fill('234,56');
  await page.getByRole('button', { name: 'Add expense' }).click();
  t.match(
    await added(4),
    {
      data: {
        amountMinor: 123456,
        shares: [
          { userId: ann.userId, amountMinor: 100000 },
          { userId: bob.userId, amountMinor: 23456 },
        ],
      },
    },
    '1.234,56 € split as 1.000 and 234,56',
  );
  await everyScreenShowsTheLog(t, world.database, [bob], groupId, 'after German amounts');
  await page.screenshot({ path: path.join(SHOTS, 'locale-de-desktop.png'), fullPage: true });
});

t.test('what is no amount is said next to the field, and nothing is sent', async (t) => {
  const page = ann.page;
  await page.getByLabel('Description').fill('Kaffee');
  await page.getByLabel(/^Amount/).fill('12,5,0');
  const error = page.locator('#err-amount');
  await error.waitFor();
  t.match(await error.textContent(), /not an amount|separators after its decimal mark/);
  await page.getByRole('button', { name: 'Add expense' }).click();
  await page.getByLabel(/^Amount/).fill('5 $');
  await page.locator('#err-amount', { hasText: 'Amounts in this group are in EUR' }).waitFor();
  t.pass('another currency is refused, not read as euros');
  await page.getByRole('button', { name: 'Add expense' }).click();
  t.equal((await eventsOf(world.database, groupId)).length, 4, 'nothing was appended');
  await page.getByLabel(/^Amount/).fill('');
  await page.getByLabel('Description').fill('');
});

t.test('Bob types American amounts on his phone; editing shows each amount in the locale of who edits', async (t) => {
  await bob.page.getByLabel('Description').fill('Taxi');
  await bob.page.getByLabel(/^Amount/).fill('$1,007.5');
  await bob.page.getByRole('button', { name: 'Add expense' }).click();
  await bob.page.locator('#err-amount', { hasText: 'Amounts in this group are in EUR' }).waitFor();
  await bob.page.getByLabel(/^Amount/).fill('€1,007.5');
  await bob.page.getByRole('button', { name: 'Add expense' }).click();
  t.match(await added(5), { data: { description: 'Taxi', amountMinor: 100750 } }, '€1,007.5 is 1007.50');

  await expenseAction(ann.page.locator('ol.expenses li', { hasText: 'Taxi' }), 'Edit');
  t.equal(await ann.page.getByLabel(/^Amount/).inputValue(), '1007,50', 'Ann edits it in German');
  await ann.page.getByLabel(/^Amount/).fill('1007,40');
  await ann.page.getByRole('button', { name: 'Save changes' }).click();
  t.match(await added(7), { type: 'ExpenseAdded', data: { description: 'Taxi', amountMinor: 100740 } });
  await everyScreenShowsTheLog(t, world.database, [bob], groupId, 'after the edit');
});

t.test('a group in yen: no minor digits, dots group thousands in German', async (t) => {
  await ann.page.goto(`${world.server.url}/#/`);
  await ann.page.getByLabel('Name', { exact: true }).fill('Tokio');
  await ann.page.getByLabel('Currency (ISO code)').fill('JPY');
  await ann.page.getByRole('button', { name: 'Create group' }).click();
  await ann.page.waitForURL(/#\/groups\//);
  const yen = decodeURIComponent(ann.page.url().split('#/groups/')[1] ?? '');
  await ann.page.getByLabel('Description').fill('Sushi');
  await ann.page.getByLabel(/^Amount/).fill('1.500,5');
  await ann.page.locator('#err-amount').waitFor();
  t.match(await ann.page.locator('#err-amount').textContent(), /whole number/, 'yen have no decimals: the server says so next to the field');
  await ann.page.getByLabel(/^Amount/).fill('1.500 ¥');
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  // Ann is alone in this group: the expense moves no balance, and is saved on a second press.
  await ann.page.getByRole('button', { name: 'Add anyway' }).click();
  await waitForLogVersion(world.database, yen, 2);
  t.match((await eventsOf(world.database, yen)).at(-1), { data: { description: 'Sushi', currency: 'JPY', amountMinor: 1500 } }, '1.500 ¥ is 1500 yen');
});
