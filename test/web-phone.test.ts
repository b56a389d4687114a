import path from 'node:path';
import t from 'tap';
import { DESKTOP, PHONE, SHOTS, groupOnThePage, signUp, useBrowserWorld, waitForLogVersion, type Person } from './helpers/browser.js';
import { call } from './helpers/server-process.js';

// Phone first (issue #14 §7), two people: Ann on a desktop, Bob on a 390×844 phone. On
// the phone the top bar is short, balances and settling up are on the first screen, Edit
// brings the form into view with the cursor in it, and the page can be installed (a web
// app manifest with its icons).

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
  await page.locator('ol.expenses li', { hasText: 'Taxi' }).getByRole('button', { name: /^Edit/ }).click();
  await page.waitForFunction(() => document.activeElement?.id === 'exp-description');
  const box = await page.locator('#exp-description').boundingBox();
  t.ok(box && box.y >= 0 && box.y + box.height <= 844, `the description field is on screen (at ${Math.round(box?.y ?? -1)} px)`);
  t.equal(await page.locator('#exp-description').inputValue(), 'Taxi');
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
