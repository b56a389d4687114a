import path from 'node:path';
import t from 'tap';
import { expenseAction, eventsOf, DESKTOP, PHONE, SHOTS, groupOnThePage, signUp, useBrowserWorld, waitForLogVersion, type Person } from './helpers/browser.js';
import { call } from './helpers/server-process.js';

// Phone first (issue #14 §7), two people: Ann on a desktop, Bob on a 390×844 phone. On
// the phone the top bar is short, balances and settling up are on the first screen, Edit
// brings the form into view with the cursor in it, an expense's actions sit in one menu
// per row, and the page can be installed (a web app manifest with its icons).

declare const document: any;
declare const window: any;

const world = useBrowserWorld(t);
let ann: Person;
let bob: Person;
let groupId: string;

t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', DESKTOP);
  bob = await signUp(world.browser, world.server.url, 'Bob', PHONE);
  const cy = await signUp(world.browser, world.server.url, 'Cy', DESKTOP);
  groupId = await groupOnThePage(world, ann, 'Lisbon trip', [bob, cy]);
  for (const [description, amount] of [
    ['Dinner', '90.00'],
    ['Taxi', '25.00'],
    ['Museum', '30.00'],
  ]) {
    await ann.page.getByLabel('Description').fill(description as string);
    await ann.page.getByLabel(/^Amount/).fill(amount as string);
    await ann.page.getByRole('button', { name: 'Add expense' }).click();
    await ann.page.waitForFunction(() => document.getElementById('exp-description')?.value === '');
  }
  await waitForLogVersion(world.database, groupId, 6);
});

t.test('on a phone: a short top bar, then balances and settling up on the first screen', async (t) => {
  const page = bob.page;
  await page.getByTestId('balances').locator('li').nth(2).waitFor();
  await page.getByRole('heading', { name: 'Settle up' }).waitFor();
  const header = await page.locator('header.top').boundingBox();
  t.ok(header && header.height <= 844 * 0.15, `the top bar takes ${Math.round(((header?.height ?? 0) / 844) * 100)}% of the first screen`);
  const settle = await page.getByRole('heading', { name: 'Settle up' }).boundingBox();
  const lastTransfer = await page.getByRole('button', { name: 'Record payment' }).last().boundingBox();
  t.ok(
    settle && lastTransfer && lastTransfer.y + lastTransfer.height <= 844,
    `settling up ends at ${Math.round((lastTransfer?.y ?? 0) + (lastTransfer?.height ?? 0))} px, on the first screen`,
  );
  t.equal(
    await page.getByRole('region', { name: 'Balances' }).getByLabel('Add a member by user id').count(),
    0,
    'adding people lives with the members, not between the balances and settling up',
  );
  t.equal(await page.getByRole('region', { name: 'Members and group' }).getByLabel('Add a member by user id').count(), 1);
  t.equal(await page.getByTestId('my-user-id').textContent(), bob.userId, 'the whole id is still there to copy');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the phone');
  await page.screenshot({ path: path.join(SHOTS, 'phone-first-screen.png') });
});

t.test('Edit brings the form into view with the cursor in it', async (t) => {
  const page = bob.page;
  await expenseAction(page.locator('ol.expenses li', { hasText: 'Taxi' }), 'Edit');
  await page.waitForFunction(() => document.activeElement?.id === 'exp-description');
  const box = await page.locator('#exp-description').boundingBox();
  t.ok(box && box.y >= 0 && box.y + box.height <= 844, `the description field is on screen (at ${Math.round(box?.y ?? -1)} px)`);
  t.equal(await page.locator('#exp-description').inputValue(), 'Taxi');
});

t.test('an expense’s actions are one menu per row, by touch and by keyboard; Delete asks first, and the other screen follows', async (t) => {
  const page = bob.page;
  const museum = page.locator('ol.expenses li', { hasText: 'Museum' });
  const toggle = museum.getByRole('button', { name: 'Actions for Museum' });
  t.equal(
    await page
      .locator('ol.expenses')
      .getByRole('button', { name: /^(Edit|Delete)/ })
      .count(),
    0,
    'no Edit or Delete buttons in the rows',
  );
  t.equal(await page.getByRole('button', { name: /^Actions for/ }).count(), 3, 'one actions button per expense');
  const row = await museum.boundingBox();
  t.ok(row && row.height <= 110, `a row is ${Math.round(row?.height ?? 0)} px tall on the phone`);

  await toggle.click();
  t.equal(await toggle.getAttribute('aria-expanded'), 'true');
  const menu = museum.getByRole('menu', { name: 'Actions for Museum' });
  await page.waitForFunction(() => document.activeElement?.getAttribute('role') === 'menuitem' && document.activeElement.textContent.startsWith('Edit'));
  const box = await menu.boundingBox();
  t.ok(box && box.x >= 0 && box.x + box.width <= 390, 'the open menu is inside the phone’s width');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the phone with the menu open');
  await page.screenshot({ path: path.join(SHOTS, 'phone-expense-menu.png') });
  await page.keyboard.press('ArrowDown');
  t.match(await page.evaluate(() => document.activeElement?.textContent), /^Delete/, 'ArrowDown moves to Delete');
  await page.keyboard.press('ArrowDown');
  t.match(await page.evaluate(() => document.activeElement?.textContent), /^Edit/, 'and round to Edit');
  await page.keyboard.press('Escape');
  t.equal(await menu.count(), 0, 'Escape closes the menu');
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Actions for Museum', 'and gives the focus back to its button');
  await toggle.click();
  await menu.waitFor();
  await page.getByRole('heading', { name: 'Settle up' }).click();
  t.equal(await menu.count(), 0, 'a tap elsewhere closes it');

  const before = (await eventsOf(world.database, groupId)).length;
  await expenseAction(museum, 'Delete');
  await page.waitForFunction(() => document.activeElement?.textContent.startsWith('Confirm delete'));
  await museum.getByRole('button', { name: 'Keep it' }).click();
  t.equal(await museum.getByRole('button', { name: /^Confirm delete/ }).count(), 0, 'Keep it takes the question away');
  t.equal((await eventsOf(world.database, groupId)).length, before, 'and nothing was written');

  // Ann, on the desktop, with the keyboard only.
  const annMuseum = ann.page.locator('ol.expenses li', { hasText: 'Museum' });
  await annMuseum.getByRole('button', { name: 'Actions for Museum' }).focus();
  await ann.page.keyboard.press('Enter');
  await annMuseum.getByRole('menu').waitFor();
  await ann.page.waitForFunction(() => document.activeElement?.getAttribute('role') === 'menuitem');
  await ann.page.keyboard.press('End');
  await ann.page.keyboard.press('Enter');
  await ann.page.waitForFunction(() => document.activeElement?.textContent.startsWith('Confirm delete'));
  await ann.page.keyboard.press('Enter');
  await waitForLogVersion(world.database, groupId, before + 1);
  const events = await eventsOf(world.database, groupId);
  t.match(events.at(-1), { type: 'ExpenseDeleted', metadata: { actorUserId: ann.userId } }, 'Ann’s keyboard deleted the museum');
  await page.locator('ol.expenses li.deleted', { hasText: 'Museum' }).waitFor({ timeout: 5_000 });
  t.equal(await museum.getByRole('button', { name: /^Actions for/ }).count(), 0, 'Bob’s phone shows it deleted, with no actions left');
});

t.test('the page can be installed: a manifest with its icons, linked from the page', async (t) => {
  const href = await ann.page.evaluate(() => document.querySelector('link[rel="manifest"]')?.getAttribute('href'));
  t.equal(href, '/manifest.webmanifest');
  const res = await fetch(`${world.server.url}/manifest.webmanifest`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /application\/manifest\+json/);
  const manifest = (await res.json()) as { name: string; start_url: string; display: string; icons: { src: string; sizes: string; type: string }[] };
  t.match(manifest, { name: 'FairShare', start_url: '/', display: 'standalone' });
  t.ok(
    manifest.icons.some((i) => i.sizes === '512x512' && i.type === 'image/png'),
    'a 512 px PNG icon, as installing asks for',
  );
  for (const icon of manifest.icons) {
    const got = await fetch(`${world.server.url}${icon.src}`);
    t.equal(got.status, 200, icon.src);
    t.equal(got.headers.get('content-type')?.split(';')[0], icon.type, `${icon.src} is ${icon.type}`);
  }
  t.equal((await call(world.server.url, 'GET', '/health/live')).status, 200);
});
