// People using the web page in real Chromium (Debian's package, driven by playwright-core),
// and what the event log says the page must show.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { formatMinor } from '../../src/money/decimal.js';
import { balancesOf, foldEvent, newFold } from '../../src/replay/fold-group.js';
import { readLogInStreamOrder } from '../../src/store/read-log.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { streamIdOf } from '../../src/events/index.js';

// The callbacks given to page.evaluate / waitForFunction run in the browser.
declare const document: any;

export interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  pass(message: string): unknown;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 } };
export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface Person {
  name: string;
  page: Page;
  userId: string;
}

/** Adds a member by user id as a person does: find the id, check the name it belongs to, add. */
/**
 * Chooses Edit or Delete in an expense's actions menu (its row, or the page when only one
 * expense matches). Delete then asks in the row: `Confirm delete` or `Keep it`.
 */
export async function expenseAction(row: Locator, action: 'Edit' | 'Delete'): Promise<void> {
  await row.getByRole('button', { name: /^Actions for/ }).click();
  await row.getByRole('menuitem', { name: new RegExp(`^${action}`) }).click();
  // Each choice shows at once, so a click that went astray fails here, by name, and not
  // in a later step: the form in edit mode, or the question in the row.
  if (action === 'Edit')
    await row
      .page()
      .getByRole('heading', { name: /^Edit “/ })
      .waitFor({ timeout: 5_000 });
  else await row.getByRole('button', { name: /^Confirm delete/ }).waitFor({ timeout: 5_000 });
}

export async function addMemberById(page: Page, member: { userId: string; name: string }) {
  await page.getByLabel('Add a member by user id').fill(member.userId);
  await page.getByRole('button', { name: 'Find' }).click();
  await page
    .getByTestId('add-member-confirm')
    .getByRole('button', { name: `Add ${member.name}` })
    .click();
}

/** A new person signs up on the page in a browser context of their own. */
export async function signUp(browser: Browser, baseUrl: string, name: string, options: BrowserContextOptions = {}): Promise<Person> {
  const context = await browser.newContext({ locale: 'en-US', ...options });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign up' }).click();
  const userId = (await page.getByTestId('my-user-id').textContent()) ?? '';
  // The page offers to save a sign-in key first (test/web-devices.test.ts saves one).
  await page.getByRole('button', { name: 'Not now' }).click();
  await page.getByRole('heading', { name: 'Your groups' }).waitFor();
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
  return { name, page, userId };
}

const euros = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' });

/** A EUR group's version and balances as replay's independent fold of the log gives them. */
export async function fromTheLog(database: TestDatabase, groupId: string) {
  const fold = newFold(groupId);
  for await (const event of readLogInStreamOrder(database.db, { streamId: streamIdOf(groupId) })) foldEvent(fold, event.version, event);
  const balances: Record<string, { decimal: string; text: string }> = {};
  for (const [userId, minor] of balancesOf(fold)) {
    const decimal = formatMinor(minor, 2);
    const abs = decimal.replace(/^-/, '');
    const text = minor === 0n ? 'settled up' : `${minor > 0n ? 'is owed' : 'owes'} ${euros.format(abs as `${number}`)}`;
    balances[userId] = { decimal, text };
  }
  return { version: fold.version, balances };
}

/** The events of a group's stream, in order, as stored. */
export async function eventsOf(database: TestDatabase, groupId: string) {
  const { rows } = await database.query<{ version: number; type: string; data: any; metadata: any }>(
    'select version, type, data, metadata from events where stream_id = $1 order by version',
    [streamIdOf(groupId)],
  );
  return rows;
}

export async function waitForLogVersion(database: TestDatabase, groupId: string, atLeast: number) {
  for (let i = 0; i < 200; i++) {
    const { rows } = await database.query<{ v: number }>('select coalesce(max(version), 0) as v from events where stream_id = $1', [streamIdOf(groupId)]);
    if ((rows[0]?.v ?? 0) >= atLeast) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the log never reached version ${atLeast}`);
}

/** Every screen shows the log's current version and balances within one second. */
export async function everyScreenShowsTheLog(t: Asserts, database: TestDatabase, people: Person[], groupId: string, what: string) {
  const expected = await fromTheLog(database, groupId);
  const started = Date.now();
  await Promise.all(
    people.map(async (p) => {
      try {
        await p.page.waitForFunction(
          ({ version, balances }) => {
            const list = document.querySelector('[data-testid="balances"]');
            if (!list || list.getAttribute('data-version') !== String(version)) return false;
            const items = [...list.querySelectorAll('li[data-user-id]')];
            return (
              items.length === Object.keys(balances).length &&
              items.every((li) => {
                const want = balances[li.getAttribute('data-user-id') ?? ''];
                const amount = li.querySelector('[data-balance]');
                return want && amount?.getAttribute('data-balance') === want.decimal && amount.textContent?.replace(/\s+/g, ' ').trim() === want.text;
              })
            );
          },
          expected,
          { timeout: 1_000 },
        );
      } catch {
        const shown = await p.page
          .locator('[data-testid="balances"]')
          .evaluate((el) => el.outerHTML)
          .catch(() => '(no balances on screen)');
        throw new Error(
          `${what}: ${p.name}'s screen did not show version ${expected.version} ${JSON.stringify(expected.balances)} within 1 s; it shows ${shown}`,
        );
      }
      t.equal(await p.page.getByTestId('version').textContent(), `Version ${expected.version}`, `${p.name} sees the version`);
      // The rest of the page (expense list, settlements) follows; wait so the next action
      // does not click into a list that is about to re-render, or read an older suggestion.
      await p.page.locator(`[data-testid="expenses"][data-version="${expected.version}"]`).waitFor({ state: 'attached', timeout: 5_000 });
      await p.page.locator(`[data-testid="settle-up"][data-version="${expected.version}"]`).waitFor({ state: 'attached', timeout: 5_000 });
    }),
  );
  t.pass(`${what}: all ${people.length} screens show version ${expected.version} from the log (${Date.now() - started} ms)`);
  return expected;
}

export interface ExpenseEntry {
  description: string;
  amount: string;
  paidBy?: Person;
  payers?: [Person, string][];
  mode: 'equal' | 'exact' | 'percent' | 'shares';
  among?: Person[];
  values?: [Person, string][];
}

/** Fills the expense form the way a person would. */
export async function fillExpense(page: Page, e: ExpenseEntry, everyone: Person[]) {
  await page.getByLabel('Description').fill(e.description);
  await page.getByLabel(/^Amount/).fill(e.amount);
  const several = page.getByLabel('Several people paid');
  if (e.payers) {
    await several.check();
    for (const [who, amount] of e.payers) await page.locator(`#payer-${who.userId}`).fill(amount);
  } else {
    await several.uncheck();
    await page.getByLabel('Who paid').selectOption({ label: (e.paidBy ?? everyone[0])!.name });
  }
  await page.getByLabel('How').selectOption(e.mode);
  if (e.mode === 'equal') {
    for (const p of everyone) await page.locator(`#among-${p.userId}`).setChecked(!e.among || e.among.includes(p));
  } else {
    for (const [who, value] of e.values ?? []) await page.locator(`#share-${who.userId}`).fill(value);
  }
}

export const SHOTS = path.resolve('artifacts/screenshots');

export interface BrowserWorld {
  database: TestDatabase;
  server: ServerProcess;
  browser: Browser;
}

/**
 * For one test file: a database of its own, a real server process on it and Chromium,
 * made before its tests and closed after them. Read the fields inside tests.
 */
export function useBrowserWorld(t: { before(fn: () => Promise<void>): unknown; teardown(fn: () => Promise<void>): unknown }): BrowserWorld {
  const world = {} as BrowserWorld;
  t.before(async () => {
    await mkdir(SHOTS, { recursive: true });
    world.database = await createTestDatabase();
    world.server = await startServerProcess({ DATABASE_URL: world.database.url });
    world.browser = await launchChromium();
  });
  t.teardown(async () => {
    await world.browser?.close();
    await world.server?.stop();
    await world.database?.close();
  });
  return world;
}

/** `owner` creates a group on the page; each of `others` is added by id, in turn, and opens it. Its id. */
export async function groupOnThePage(world: BrowserWorld, owner: Person, name: string, others: Person[] = []): Promise<string> {
  await owner.page.getByLabel('Name', { exact: true }).fill(name);
  await owner.page.getByRole('button', { name: 'Create group' }).click();
  await owner.page.waitForURL(/#\/groups\//);
  const groupId = decodeURIComponent(owner.page.url().split('#/groups/')[1] ?? '');
  for (const [n, other] of others.entries()) {
    await addMemberById(owner.page, other);
    await waitForLogVersion(world.database, groupId, 2 + n);
  }
  for (const other of others) await other.page.goto(`${world.server.url}/#/groups/${encodeURIComponent(groupId)}`);
  return groupId;
}
