import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import t from 'tap';
import { DESKTOP, PHONE, SHOTS, signUp, groupOnThePage, useBrowserWorld, waitForLogVersion, type Person } from './helpers/browser.js';
import type { ServerProcess } from './helpers/server-process.js';
import type { TestDatabase } from './helpers/database.js';

// CSV in the page (issue #14 item 6): Ann imports her Splitwise file on a desktop,
// mapping the column Splitwise calls "Robert" to Bob after seeing the preview; Bob sees
// the balances change live on his phone; the export downloads a Splitwise-format file.

let database: TestDatabase;
let server: ServerProcess;
let browser: Browser;
let ann: Person;
let bob: Person;
let groupId: string;
const world = useBrowserWorld(t);
t.before(async () => {
  ({ database, server, browser } = world);
  ann = await signUp(browser, server.url, 'Ann', { ...DESKTOP, viewport: { width: 1280, height: 800 } });
  bob = await signUp(browser, server.url, 'Bob', PHONE);
  groupId = await groupOnThePage(world, ann, 'Flat', [bob]);
});

const FILE = [
  'Date,Description,Category,Cost,Currency,Ann,Robert',
  '2026-10-01,Rent,Rent,800.00,EUR,400.00,-400.00',
  '2026-10-05,Robert paid Ann,Payment,100.00,EUR,-100.00,100.00',
  ',Total balance,,,EUR,300.00,-300.00',
  '',
].join('\n');

const balanceOf = (person: Person, userId: string, amount: string) =>
  person.page.locator(`[data-testid="balances"] li[data-user-id="${userId}"] [data-balance="${amount}"]`).waitFor();

t.test('Ann previews her Splitwise file, maps a column, imports; Bob sees the balances live on his phone', async (t) => {
  const page = ann.page;
  await page.getByTestId('csv-file').setInputFiles({ name: 'splitwise.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE) });
  const preview = page.getByTestId('csv-preview');
  await preview.waitFor();
  t.equal(await page.getByLabel('Column “Ann”').inputValue(), ann.userId, 'suggested by name');
  t.equal(await page.getByLabel('Column “Robert”').inputValue(), '', 'no member is called Robert');
  t.match(await page.getByTestId('csv-summary').textContent(), /0 to import, 2 with problems/);
  t.ok(await page.getByRole('button', { name: /^Import \d+ expenses?$/ }).isDisabled(), 'nothing to import while rows have problems');

  await page.getByLabel('Column “Robert”').selectOption(bob.userId);
  await page.getByRole('button', { name: 'Import 2 expenses' }).waitFor();
  t.match(await preview.locator('tr[data-line="2"]').textContent(), /Rent.*€800\.00.*Ann €800\.00.*Bob €400\.00, Ann €400\.00.*to import/);
  t.match(await preview.locator('tr[data-line="3"]').textContent(), /Robert paid Ann \(payment\).*€100\.00.*Bob €100\.00.*Ann €100\.00/);
  await page.screenshot({ path: path.join(SHOTS, 'csv-import-desktop.png'), fullPage: true });
  t.equal(
    (await database.query(`select count(*)::int as n from events where stream_id = $1`, [`group-${groupId}`])).rows[0]?.n,
    2,
    'the preview wrote nothing',
  );

  await page.getByRole('button', { name: 'Import 2 expenses' }).click();
  await page.getByTestId('csv-notice').filter({ hasText: 'Imported 2 expenses.' }).waitFor();
  await waitForLogVersion(database, groupId, 4);
  await balanceOf(bob, bob.userId, '-300.00');
  await balanceOf(bob, ann.userId, '300.00');
  await balanceOf(ann, bob.userId, '-300.00');
  await bob.page.getByTestId('expenses').locator('.description', { hasText: 'Robert paid Ann' }).waitFor();
  t.match(await bob.page.getByTestId('expenses').textContent(), /Rent.*€800\.00.*Paid by Ann/s, 'the imported expenses are listed');
  await bob.page.screenshot({ path: path.join(SHOTS, 'csv-imported-phone.png'), fullPage: true });

  // The same file again: both rows are there already, nothing to import. The file box was
  // emptied once the file was read, so choosing the same file again is a change.
  t.equal(await page.getByTestId('csv-file').inputValue(), '', 'the file box is ready for the same file again');
  await page.getByTestId('csv-file').setInputFiles({ name: 'splitwise.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE) });
  await page.getByLabel('Column “Robert”').selectOption(bob.userId);
  await page
    .getByTestId('csv-summary')
    .filter({ hasText: /^\s*0 to import\./ })
    .waitFor();
  t.ok(await page.getByRole('button', { name: 'Import 0 expenses' }).isDisabled());
  t.ok(true, 'Bob saw the imported balances live');
});

t.test('Export CSV downloads a Splitwise-format file of the group', async (t) => {
  for (const person of [ann, bob]) {
    const page = person.page;
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await download;
    t.equal(file.suggestedFilename(), 'fairshare-Flat.csv');
    const text = await readFile((await file.path()) as string, 'utf8');
    const lines = text.split('\r\n');
    t.equal(lines[0], 'Date,Description,Category,Cost,Currency,Ann,Bob', `${person.name}: the header`);
    t.equal(lines[1], '2026-10-01,Rent,General,800.00,EUR,400.00,-400.00');
    t.equal(lines[2], '2026-10-05,Robert paid Ann,Payment,100.00,EUR,-100.00,100.00');
    t.equal(lines[3], ',Total balance,,,EUR,300.00,-300.00');
  }
});
