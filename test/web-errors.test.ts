import t from 'tap';
import { DESKTOP, PHONE, eventsOf, groupOnThePage, signUp, useBrowserWorld, type Person } from './helpers/browser.js';

// Plain language (issue #14 §2), two people: Ann on a desktop, Bob on a phone. A split
// that does not add up says what is left; a validator's words never reach anyone; the
// tab names the group; problems read as sentences.

const world = useBrowserWorld(t);
let ann: Person;
let bob: Person;
let groupId: string;

t.before(async () => {
  ann = await signUp(world.browser, world.server.url, 'Ann', DESKTOP);
  bob = await signUp(world.browser, world.server.url, 'Bob', PHONE);
  groupId = await groupOnThePage(world, ann, 'Flat', [bob]);
});

t.test('a split that does not add up says what is left, or how much too much', async (t) => {
  for (const person of [ann, bob]) {
    const page = person.page;
    await page.getByLabel('Description').fill('Groceries');
    await page.getByLabel(/^Amount/).fill('30.00');
    await page.getByLabel('How').selectOption('exact');
    await page.locator(`#share-${ann.userId}`).fill('10');
    await page.locator(`#share-${bob.userId}`).fill('15');
    const left = page.getByTestId('left-to-assign');
    await left.getByText('€5.00 left to assign').waitFor();
    await page.locator(`#share-${bob.userId}`).fill('25');
    await left.getByText('€5.00 too much').waitFor();
    await page.locator(`#share-${bob.userId}`).fill('20');
    await left.waitFor({ state: 'detached' });
    await page.getByLabel('How').selectOption('percent');
    await page.locator(`#share-${ann.userId}`).fill('50');
    await page.locator(`#share-${bob.userId}`).fill('40');
    await left.getByText('10% left to assign').waitFor();
    await page.getByLabel('Several people paid').check();
    await page.locator(`#payer-${ann.userId}`).fill('12.5');
    await page.getByTestId('left-to-pay').getByText('€17.50 left to pay').waitFor();
    await page.getByLabel('Several people paid').uncheck();
    await page.getByLabel('How').selectOption('equal');
    await page.getByLabel('Description').fill('');
    await page.getByLabel(/^Amount/).fill('');
    t.pass(`${person.name}: what is left, as it is typed`);
  }
  t.equal((await eventsOf(world.database, groupId)).length, 2, 'nothing was saved');
});

t.test("no validator's words: a nameless group is refused with a sentence", async (t) => {
  await ann.page.goto(`${world.server.url}/#/`);
  await ann.page.getByLabel('Name', { exact: true }).fill('   ');
  await ann.page.getByRole('button', { name: 'Create group' }).click();
  const alert = ann.page.getByRole('alert');
  await alert.waitFor();
  t.equal(await alert.textContent(), 'Must contain a visible character', "the server's words for people, not a validator's");
});

t.test('the tab names the group; its heading never shows an id', async (t) => {
  await bob.page.goto(`${world.server.url}/#/groups/${encodeURIComponent(groupId)}`);
  await bob.page.getByRole('heading', { name: /^Flat/ }).waitFor();
  t.equal(await bob.page.title(), 'Flat · FairShare');
  t.notMatch(await bob.page.getByRole('heading', { level: 1 }).textContent(), new RegExp(groupId));
  await bob.page.goto(`${world.server.url}/#/`);
  await bob.page.getByRole('heading', { name: 'Your groups' }).waitFor();
  t.equal(await bob.page.title(), 'FairShare', 'and stops naming it when you leave the page');
});

t.test('a wrong sign-in code reads as a sentence', async (t) => {
  const context = await world.browser.newContext({ locale: 'en-US', ...PHONE });
  const page = await context.newPage();
  await page.goto(`${world.server.url}/#/sign-in/ABCD-EFGH-JKMN`);
  await page.getByRole('button', { name: /Sign in with the code/ }).click();
  await page.getByText('That code does not work: it may be mistyped, used already, or more than 10 minutes old. Show a new one.').waitFor();
  t.pass('the code problem is said plainly');
  await context.close();
});
