import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { DESKTOP, PHONE, SHOTS, groupOnThePage, useBrowserWorld, type Person } from './helpers/browser.js';

// Devices in the page (issue #13 §5), one person on two devices: Ann signs up on her
// desktop and saves a sign-in key, signs her phone in with a one-time code shown on the
// desktop, sees both, revokes the phone (whose open page then says it is signed out),
// is warned before signing out her last device, and gets back in with her saved key.

// The callbacks given to page.evaluate run in the browser.
declare const document: any;
declare const window: any;
declare const localStorage: any;

const world = useBrowserWorld(t);
const ANDROID_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

let desktop: Person;
let phone: Page;
let keyFile: string;
let key: string;
let groupId: string;

const devicesOf = async (userId: string) =>
  (
    await world.database.query<{ name: string; kind: string }>('select name, kind from devices where user_id = $1 order by created_at, device_id', [userId])
  ).rows.map((r) => `${r.kind}: ${r.name}`);
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const listedDevices = async (page: Page) =>
  (await page.getByTestId('devices').locator('li .device').allTextContents()).map((text) =>
    text
      .replace(/\s+/g, ' ')
      .replace(/\s*(Last used|Not used yet).*/, '')
      .trim(),
  );

t.test('at sign-up the page offers to save a sign-in key; Ann downloads it', async (t) => {
  const context = await world.browser.newContext({ locale: 'en-US', ...DESKTOP });
  const page = await context.newPage();
  await page.goto(`${world.server.url}/`);
  await page.getByLabel('Your name').fill('Ann');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Save your sign-in key' }).waitFor();
  key = await page.getByTestId('sign-in-key').inputValue();
  t.match(key, /^fsk_[A-Za-z0-9_-]{43}$/, 'the key is shown');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as a file' }).click()]);
  t.equal(download.suggestedFilename(), 'fairshare-sign-in-key.txt');
  keyFile = (await download.path()) as string;
  const text = await readFile(keyFile, 'utf8');
  t.match(text, /^FairShare sign-in key for Ann \(user id /, 'the file says whose key it is');
  t.ok(text.includes(key), 'and holds the key');
  await shot(page, 'devices-save-key-desktop');
  await page.getByRole('button', { name: 'I saved it' }).click();
  await page.getByRole('heading', { name: 'Your groups' }).waitFor();
  const userId = (await page.getByTestId('my-user-id').textContent()) ?? '';
  desktop = { name: 'Ann', page, userId };
  t.same(await devicesOf(userId), ['device: Chrome on Linux', 'key: Sign-in key saved at sign-up'], 'the browser is named for what it is; the key is listed');
});

t.test('her phone signs in with a one-time code from the desktop; both devices are listed', async (t) => {
  groupId = await groupOnThePage(world, desktop, 'Flat');
  await desktop.page.getByRole('link', { name: 'Devices' }).click();
  await desktop.page.getByRole('heading', { name: 'Your devices' }).waitFor();
  await desktop.page.getByRole('button', { name: 'Show a sign-in code' }).click();
  const code = (await desktop.page.getByTestId('sign-in-code').textContent()) ?? '';
  t.match(code, /^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/, 'a code to read out or type');
  t.match(await desktop.page.getByTestId('sign-in-code-expiry').textContent(), /works once, until .* \(10 minutes\)/);
  const link = await desktop.page.getByLabel('Or open this link on the other device').inputValue();
  t.equal(link, `${world.server.url}/#/sign-in/${code}`);
  await shot(desktop.page, 'devices-code-desktop');

  const context = await world.browser.newContext({ locale: 'en-US', ...PHONE, userAgent: ANDROID_UA });
  phone = await context.newPage();
  await phone.goto(link);
  t.equal(await phone.getByLabel('Sign-in code').inputValue(), code, 'the link fills the code in');
  await shot(phone, 'devices-sign-in-with-code-phone');
  await phone.getByRole('button', { name: 'Sign in with the code' }).click();
  t.equal(await phone.getByTestId('my-user-id').textContent(), desktop.userId, 'the phone is Ann');
  await phone.getByRole('link', { name: 'Flat' }).waitFor();
  t.pass('with her groups');

  await phone.getByRole('link', { name: 'Devices' }).click();
  await phone.getByTestId('devices').waitFor();
  t.same(await listedDevices(phone), ['Chrome on Linux', 'Sign-in key saved at sign-up sign-in key', 'Chrome on Android this device']);
  await shot(phone, 'devices-list-phone');
  // The desktop's list, opened again, shows the phone too.
  await desktop.page.getByRole('link', { name: 'FairShare' }).click();
  await desktop.page.getByRole('link', { name: 'Devices' }).click();
  await desktop.page.getByTestId('devices').locator('li', { hasText: 'Chrome on Android' }).waitFor();
  t.same(await listedDevices(desktop.page), ['Chrome on Linux this device', 'Sign-in key saved at sign-up sign-in key', 'Chrome on Android']);

  // The code worked once: a second browser gets a plain refusal.
  const other = await (await world.browser.newContext(DESKTOP)).newPage();
  await other.goto(link);
  await other.getByRole('button', { name: 'Sign in with the code' }).click();
  t.match(await other.getByRole('alert').textContent(), /That code does not work: it may be mistyped, used already, or more than 10 minutes old/);
  await other.context().close();
});

t.test('Ann renames and then revokes her phone from the desktop; the phone, open on a group, says it is signed out', async (t) => {
  const row = desktop.page.getByTestId('devices').locator('li', { hasText: 'Chrome on Android' });
  await row.getByRole('button', { name: /^Rename/ }).click();
  await row.getByLabel(/New name for/).fill('Ann’s phone');
  await row.getByRole('button', { name: 'Save' }).click();
  const renamed = desktop.page.getByTestId('devices').locator('li', { hasText: 'Ann’s phone' });
  await renamed.waitFor();

  await phone.goto(`${world.server.url}/#/groups/${encodeURIComponent(groupId)}`);
  await phone.getByTestId('live-status').getByText('Live').waitFor();
  await renamed.getByRole('button', { name: /^Revoke/ }).click();
  t.match(await renamed.textContent(), /“Ann’s phone” is signed out at once\./, 'the page asks first');
  await shot(desktop.page, 'devices-revoke-desktop');
  await renamed.getByRole('button', { name: 'Confirm: revoke Ann’s phone' }).click();
  await renamed.waitFor({ state: 'detached' });
  t.same(await devicesOf(desktop.userId), ['device: Chrome on Linux', 'key: Sign-in key saved at sign-up'], 'the phone is gone');

  const started = Date.now();
  const notice = phone.getByTestId('sign-in-notice');
  await notice.waitFor({ timeout: 10_000 });
  t.match(await notice.textContent(), /This device is signed out: its access was revoked/, `the phone says so by itself (${Date.now() - started} ms)`);
  t.equal(await phone.evaluate(() => localStorage.getItem('fairshare.token')), null, 'and forgot its token');
  await shot(phone, 'devices-revoked-phone');
});

t.test('Ann signs out (asked once whether she has her saved key) and back in with the key file', async (t) => {
  await desktop.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const ask = desktop.page.getByTestId('keys-only-warning');
  await ask.waitFor();
  t.match((await ask.textContent())?.replace(/\s+/g, ' '), /you will need your saved key \(Sign-in key saved at sign-up\)/);
  await desktop.page.getByRole('button', { name: 'I have it: sign out' }).click();
  await desktop.page.getByTestId('sign-in-notice').waitFor();
  t.equal(await desktop.page.getByTestId('sign-in-notice').textContent(), 'You are signed out on this device.');
  t.same(await devicesOf(desktop.userId), ['key: Sign-in key saved at sign-up'], "the desktop's token was revoked on the server");
  await desktop.page.getByLabel('…or open the file you saved it in').setInputFiles(keyFile);
  await desktop.page.waitForFunction(() => document.getElementById('signin-key').value !== '');
  t.equal(await desktop.page.getByLabel('Your saved sign-in key').inputValue(), key, 'the key is read from the file');
  await desktop.page.getByRole('button', { name: 'Sign in with the key' }).click();
  t.equal(await desktop.page.getByTestId('my-user-id').textContent(), desktop.userId, 'Ann again');
  await desktop.page.getByRole('link', { name: 'Flat' }).waitFor();
  t.same(await devicesOf(desktop.userId), ['key: Sign-in key saved at sign-up', 'device: Chrome on Linux'], 'a new device; the key stays');
});

t.test('signing out the last way into the account warns plainly, and offers to save a key first', async (t) => {
  const page = desktop.page;
  await page.getByRole('link', { name: 'Devices' }).click();
  const keyRow = page.getByTestId('devices').locator('li', { hasText: 'Sign-in key saved at sign-up' });
  await keyRow.getByRole('button', { name: /^Revoke/ }).click();
  await keyRow.getByRole('button', { name: /^Confirm: revoke/ }).click();
  await keyRow.waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const warning = page.getByTestId('last-device-warning');
  await warning.waitFor();
  t.match(
    (await warning.textContent())?.replace(/\s+/g, ' '),
    /This is the last way into your account.*If you sign out now, nobody — not even you — can reach this account, its groups or its balances again\./,
  );
  await shot(page, 'devices-last-device-warning-desktop');
  await page.getByRole('button', { name: 'Stay signed in' }).click();
  await page.getByRole('heading', { name: 'Your devices' }).waitFor();
  t.same(await devicesOf(desktop.userId), ['device: Chrome on Linux'], 'nothing happened');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('button', { name: 'Save a sign-in key first' }).click();
  const saved = await page.getByTestId('sign-in-key').inputValue();
  await page.getByRole('button', { name: 'I saved it' }).click();
  await page.getByTestId('sign-in-notice').waitFor();
  t.same(await devicesOf(desktop.userId), ['key: Sign-in key saved before signing out'], 'signed out, with the key kept');

  await page.getByLabel('Your saved sign-in key').fill(saved);
  await page.getByRole('button', { name: 'Sign in with the key' }).click();
  t.equal(await page.getByTestId('my-user-id').textContent(), desktop.userId);
  await page.getByRole('link', { name: 'Flat' }).waitFor();
  t.pass('Ann is back, with her group');
});

t.test('a key offered at sign-up cannot be left behind unsaved; tabs of one browser sign out together', async (t) => {
  const context = await world.browser.newContext({ locale: 'en-US', ...DESKTOP });
  const page = await context.newPage();
  await page.goto(`${world.server.url}/`);
  await page.getByLabel('Your name').fill('Ben');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Save your sign-in key' }).waitFor();
  // The heading shows before the key's request has answered: wait for the key itself.
  await page.getByTestId('sign-in-key').waitFor();
  const userId = (await page.getByTestId('my-user-id').textContent()) ?? '';
  t.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0, 'no signing out while the key is offered');
  t.equal(await page.getByRole('link', { name: 'Devices' }).count(), 0, 'nor going elsewhere');
  t.same(await devicesOf(userId), ['device: Chrome on Linux', 'key: Sign-in key saved at sign-up']);
  await page.reload();
  await page.getByRole('heading', { name: 'Your groups' }).waitFor();
  for (let i = 0; i < 50 && (await devicesOf(userId)).length > 1; i++) await page.waitForTimeout(50);
  t.same(await devicesOf(userId), ['device: Chrome on Linux'], 'a reload during the offer revokes the key nobody said they saved');

  const second = await context.newPage();
  await second.goto(`${world.server.url}/`);
  await second.getByRole('heading', { name: 'Your groups' }).waitFor();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out anyway' }).click();
  await page.getByTestId('sign-in-notice').waitFor();
  await second.getByTestId('sign-in-notice').waitFor();
  t.equal(await second.getByTestId('sign-in-notice').textContent(), 'You signed out in another tab.', 'the other tab follows at once');
  await context.close();
});

t.test('the pages fit a phone screen', async (t) => {
  const context = await world.browser.newContext({ locale: 'en-US', ...PHONE });
  const page = await context.newPage();
  await page.goto(`${world.server.url}/`);
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the welcome screen');
  await context.close();
});
