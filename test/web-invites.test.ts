import path from 'node:path';
import type { Browser } from 'playwright-core';
import t from 'tap';
import {
  DESKTOP,
  PHONE,
  eventsOf,
  everyScreenShowsTheLog,
  signUp,
  waitForLogVersion,
  type Person,
  SHOTS,
  groupOnThePage,
  useBrowserWorld,
} from './helpers/browser.js';
import type { TestDatabase } from './helpers/database.js';
import { call, type ServerProcess } from './helpers/server-process.js';

// Invite links in the page (issue #13 §2): Ann makes a link on her desktop; Bob, who has
// no account, opens it on his phone, sees who invited him to what, signs up and is in
// the group; Cy, who has an account, joins with one press; a revoked link says so.

declare const document: any;
declare const window: any;
declare const localStorage: any;

let database: TestDatabase;
let server: ServerProcess;
let browser: Browser;
let ann: Person;
let groupId: string;
let link: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ({ database, server, browser } = world);
  ann = await signUp(browser, server.url, 'Ann', DESKTOP);
  groupId = await groupOnThePage(world, ann, 'Lisbon');
});

t.test('Ann makes a link; it is shown once and listed', async (t) => {
  await ann.page.getByRole('button', { name: 'Create invite link' }).click();
  const input = ann.page.getByLabel(/Send this link to the people you invite/);
  await input.waitFor();
  link = await input.inputValue();
  t.match(link, new RegExp(`^${server.url}/#/join/fsi_[A-Za-z0-9_-]{43}$`));
  await ann.page.getByTestId('invite-links').locator('li').first().waitFor();
  t.match(await ann.page.getByTestId('invite-links').textContent(), /Link by Ann, works until/);
  t.equal((await eventsOf(database, groupId)).length, 1, 'making a link appends nothing');
});

t.test('Bob, with no account, opens the link on his phone, sees who invites him, signs up and is in', async (t) => {
  const context = await browser.newContext({ locale: 'en-US', ...PHONE });
  const page = await context.newPage();
  await page.goto(link);
  await page.getByTestId('invited-by').waitFor();
  t.equal(await page.getByTestId('invited-by').textContent(), 'Ann invited you to share costs in Lisbon.');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the join page fits a phone screen');
  await page.screenshot({ path: path.join(SHOTS, 'join-phone.png'), fullPage: true });
  await page.getByLabel('Your name').fill('Bob');
  await page.getByRole('button', { name: 'Sign up and join Lisbon' }).click();
  await page.waitForURL(new RegExp(`#/groups/${groupId}$`));
  // Like any new account, he is offered a sign-in key first.
  await page.getByRole('button', { name: 'Not now' }).click();
  await waitForLogVersion(database, groupId, 2);
  const joined = (await eventsOf(database, groupId)).at(-1);
  const bob: Person = { name: 'Bob', page, userId: joined?.data.userId };
  t.match(joined, { type: 'MemberAdded', data: { name: 'Bob', invitedBy: ann.userId }, metadata: { actorUserId: bob.userId } });
  t.ok(await page.evaluate(() => localStorage.getItem('fairshare.token')), 'his account is kept in this browser');
  await everyScreenShowsTheLog(t, database, [ann, bob], groupId, 'Bob joined by link');
});

t.test('Cy, signed in already, joins with one press', async (t) => {
  const cy = await signUp(browser, server.url, 'Cy', DESKTOP);
  await cy.page.goto(link);
  await cy.page.getByRole('button', { name: 'Join Lisbon' }).click();
  await cy.page.waitForURL(new RegExp(`#/groups/${groupId}$`));
  await waitForLogVersion(database, groupId, 3);
  t.match((await eventsOf(database, groupId)).at(-1), { type: 'MemberAdded', data: { userId: cy.userId, name: 'Cy', invitedBy: ann.userId } });
  await cy.page.getByTestId('balances').locator(`li[data-user-id="${cy.userId}"]`).waitFor();
  t.pass('Cy is in the group');
});

t.test('Ann revokes the link: it stops working at once', async (t) => {
  await ann.page.getByRole('button', { name: /^Revoke/ }).click();
  await ann.page.getByTestId('invite-links').waitFor({ state: 'detached' });
  const context = await browser.newContext({ locale: 'en-US', ...DESKTOP });
  const page = await context.newPage();
  await page.goto(link);
  await page.getByRole('alert').waitFor();
  t.match(await page.getByRole('alert').textContent(), /This invite link does not work: it was revoked, it expired, or it never existed/);
  t.equal((await eventsOf(database, groupId)).length, 3, 'nobody else joined');
});

t.test('adding by user id shows whose id it is and asks first; a mistyped id adds nobody', async (t) => {
  const dan = (await call(server.url, 'POST', '/users', undefined, { name: 'Dan' })).body as { userId: string };
  const before = (await eventsOf(database, groupId)).length;
  await ann.page.getByLabel('Add a member by user id').fill(`${dan.userId.slice(0, -1)}x`);
  await ann.page.getByRole('button', { name: 'Find' }).click();
  await ann.page.getByText('No one has the user id').waitFor();
  t.pass('a mistyped id is named as unknown');
  await ann.page.getByLabel('Add a member by user id').fill(dan.userId);
  await ann.page.getByRole('button', { name: 'Find' }).click();
  const confirm = ann.page.getByTestId('add-member-confirm');
  await confirm.waitFor();
  t.match(await confirm.textContent(), /This id belongs to Dan\./);
  t.equal((await eventsOf(database, groupId)).length, before, 'finding adds nobody');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  t.equal((await eventsOf(database, groupId)).length, before, 'nor does cancelling');
  await ann.page.getByRole('button', { name: 'Find' }).click();
  await confirm.getByRole('button', { name: 'Add Dan' }).click();
  await waitForLogVersion(database, groupId, before + 1);
  t.match((await eventsOf(database, groupId)).at(-1), { type: 'MemberAdded', data: { userId: dan.userId, name: 'Dan', invitedBy: ann.userId } });
});
