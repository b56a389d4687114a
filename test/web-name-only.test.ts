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
import { runCli, type ServerProcess } from './helpers/server-process.js';

// Name-only members in the page (issue #13 §3), two people: Ann on a desktop adds Dan,
// who has no account, by name, records the fuel he paid for, and makes a link for his
// place. Dan opens it on his phone, signs up, and has his place: the balance and the
// expense are his, on both screens, live. The link gives nothing more after that.

declare const document: any;
declare const window: any;

let database: TestDatabase;
let server: ServerProcess;
let browser: Browser;
let ann: Person;
let dan: Person;
let groupId: string;
let link: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ({ database, server, browser } = world);
  ann = await signUp(browser, server.url, 'Ann', DESKTOP);
  groupId = await groupOnThePage(world, ann, 'Algarve');
});

t.test('Ann adds Dan by name; he is in the split like anyone and marked as having no account', async (t) => {
  await ann.page.getByLabel('Add a friend who has no account yet, by name').fill('Dan');
  await ann.page.getByRole('button', { name: 'Add by name' }).click();
  await waitForLogVersion(database, groupId, 2);
  const added = (await eventsOf(database, groupId)).at(-1);
  t.match(added, { type: 'MemberAdded', data: { userId: /^guest_/, name: 'Dan', nameOnly: true, invitedBy: ann.userId } });
  dan = { name: 'Dan', page: ann.page, userId: added?.data.userId };
  const row = ann.page.getByTestId('members').locator(`li[data-user-id="${dan.userId}"]`);
  await row.getByTestId('name-only').waitFor();
  t.match(await row.textContent(), /Dan\s*no account yet/);
  // The field empties once the page has the server's answer (the log has it a moment before).
  await ann.page.waitForFunction(() => document.getElementById('member-name')?.value === '');
  t.pass('the field is cleared');

  await fillExpense(ann.page, { description: 'Fuel', amount: '30.00', paidBy: dan, mode: 'equal' }, [ann, dan]);
  await ann.page.getByRole('button', { name: 'Add expense' }).click();
  await waitForLogVersion(database, groupId, 3);
  t.match((await eventsOf(database, groupId)).at(-1), {
    type: 'ExpenseAdded',
    data: {
      payers: [{ userId: dan.userId, amountMinor: 3000 }],
      shares: [
        { userId: ann.userId, amountMinor: 1500 },
        { userId: dan.userId, amountMinor: 1500 },
      ],
    },
  });
  await everyScreenShowsTheLog(t, database, [ann], groupId, 'Dan paid the fuel');
  await ann.page.getByRole('button', { name: 'Invite Dan to take their place' }).click();
  const input = ann.page.getByLabel(/Send this link to Dan only: whoever opens it takes Dan’s place and balance/);
  await input.waitFor();
  link = await input.inputValue();
  await ann.page
    .getByTestId('invite-links')
    .getByText(/Link for Dan’s place by Ann, works until/)
    .waitFor();
  t.pass('the list says whose place the link gives');
});

t.test('Dan opens the link on his phone, says which member he is, signs up and has his place, balance and history', async (t) => {
  const context = await browser.newContext({ locale: 'en-US', ...PHONE });
  const page = await context.newPage();
  await page.goto(link);
  await page.getByTestId('invited-by').waitFor();
  t.equal(await page.getByTestId('invited-by').textContent(), 'Ann invited you to take Dan’s place in Algarve.');
  t.match(await page.getByTestId('place').textContent(), /makes Dan’s balance and expenses yours/);
  t.equal(await page.getByLabel('Your name').inputValue(), 'Dan', "his name starts as the place's");
  await page.getByLabel('Your name').fill('Daniel');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the join page fits a phone screen');
  await page.screenshot({ path: path.join(SHOTS, 'claim-phone.png'), fullPage: true });
  await page.getByRole('button', { name: 'Sign up and join as Dan' }).click();
  await page.waitForURL(new RegExp(`#/groups/${groupId}$`));
  // Like any new account, he is offered a sign-in key first.
  await page.getByRole('button', { name: 'Not now' }).click();
  await waitForLogVersion(database, groupId, 4);
  const claimed = (await eventsOf(database, groupId)).at(-1);
  t.match(claimed, { type: 'MemberClaimed', data: { nameOnlyId: dan.userId, name: 'Daniel', invitedBy: ann.userId } });
  const daniel: Person = { name: 'Daniel', page, userId: claimed?.data.userId };
  t.equal(claimed?.metadata.actorUserId, daniel.userId);

  await everyScreenShowsTheLog(t, database, [ann, daniel], groupId, 'Daniel took Dan’s place');
  t.match(
    await page.getByTestId('balances').locator(`li[data-user-id="${daniel.userId}"]`).textContent(),
    /Daniel \(you\)\s*is owed €15\.00/,
    'the balance Dan had is his',
  );
  await page.getByText('Paid by Daniel').first().waitFor();
  t.pass('and the fuel he paid is his in the history');
  const annRow = ann.page.getByTestId('members').locator(`li[data-user-id="${daniel.userId}"]`);
  await annRow.waitFor();
  t.notMatch(await annRow.textContent(), /no account yet/, "Ann's page shows he has an account now, without a reload");
  t.equal(await ann.page.getByTestId('members').locator(`li[data-user-id="${dan.userId}"]`).count(), 0);
  await page.screenshot({ path: path.join(SHOTS, 'claimed-phone.png'), fullPage: true });

  // The link has done its job: someone else opening it is told so.
  const other = await browser.newContext({ locale: 'en-US', ...DESKTOP });
  const otherPage = await other.newPage();
  await otherPage.goto(link);
  await otherPage.getByText('The place this link was for has been taken already. Ask Ann for a new link.').waitFor();
  t.equal(await otherPage.getByRole('button', { name: /join/i }).count(), 0, 'and offered no way in');
  await other.close();

  const verify = await runCli({ DATABASE_URL: database.url }, 'replay', 'verify');
  t.equal(verify.status, 0, `replay verify after the claim: ${verify.stdout}${verify.stderr}`);
  await context.close();
});
