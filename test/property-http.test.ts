import fc from 'fast-check';
import t from 'tap';
import { Api, startTestApp, type TestApp } from './helpers/app.js';
import { toMinor } from './helpers/fold.js';

// Random command sequences over real HTTP against a real database. After every write
// the response's balances must equal an independent model kept here; after every
// sequence `replay verify` must find nothing, and the served balances must equal the
// model. The model shares no code with the server: its own split arithmetic, its own
// bookkeeping of versions and expenses.

let env: TestApp;
let baseUrl: string;
const people: { userId: string; token: string }[] = [];
t.before(async () => {
  env = await startTestApp();
  baseUrl = await env.app.listen({ port: 0, host: '127.0.0.1' });
  const api = new Api(env.app);
  for (const name of ['Ann', 'Bob', 'Cat', 'Dan']) people.push(await api.signUp(name));
});
t.teardown(() => env.close());

async function http(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

const DIGITS: Record<string, number> = { USD: 2, JPY: 0, KWD: 3 };

// ---- the model ------------------------------------------------------------------

/** Largest remainder, written out independently: floor each exact share, then hand the
 *  leftover units to the largest fractional parts, earlier participants first on ties. */
function modelSplit(total: bigint, weights: bigint[]): bigint[] {
  const sum = weights.reduce((a, b) => a + b, 0n);
  const floors = weights.map((w) => (total * w) / sum);
  let left = total - floors.reduce((a, b) => a + b, 0n);
  const order = weights
    .map((w, i) => i)
    .sort((i, j) => {
      const ri = (total * (weights[i] as bigint)) % sum;
      const rj = (total * (weights[j] as bigint)) % sum;
      return ri === rj ? i - j : ri < rj ? 1 : -1;
    });
  for (const i of order) if (left-- > 0n) floors[i] = (floors[i] as bigint) + 1n;
  return floors;
}

const decimal = (minor: bigint, digits: number): string => {
  const sign = minor < 0n ? '-' : '';
  const abs = (minor < 0n ? -minor : minor).toString().padStart(digits + 1, '0');
  return digits === 0 ? `${sign}${abs}` : `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
};

interface ModelExpense {
  body: any;
  moves: Map<string, bigint>;
  deleted: boolean;
}

class Model {
  version = 1;
  balances = new Map<string, bigint>();
  expenses = new Map<string, ModelExpense>();
  constructor(
    readonly groupId: string,
    readonly currency: string,
    readonly members: string[],
  ) {
    for (const m of members) this.balances.set(m, 0n);
  }
  apply(moves: Map<string, bigint>, sign: bigint) {
    for (const [u, m] of moves) this.balances.set(u, (this.balances.get(u) ?? 0n) + sign * m);
  }
}

// ---- generated commands ---------------------------------------------------------

const member = fc.nat({ max: 3 });
const members = fc.uniqueArray(member, { minLength: 1, maxLength: 4 });
const weights = (n: number) => fc.array(fc.integer({ min: 1, max: 50 }), { minLength: n, maxLength: n });
const amount = fc.oneof(fc.bigInt({ min: 1n, max: 100n }), fc.bigInt({ min: 1n, max: 10_000_000n }));

const expenseSpec = fc.record({
  amount,
  mode: fc.constantFrom('equal', 'equal-all', 'exact', 'percent', 'shares'),
  among: members,
  weights: weights(4),
  payers: members,
  payerWeights: weights(4),
});
type ExpenseSpec = typeof expenseSpec extends fc.Arbitrary<infer T> ? T : never;

const command = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constant('add' as const), spec: expenseSpec }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('edit' as const), pick: fc.nat(), spec: expenseSpec }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('pay' as const), from: member, to: member, amount }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('retry' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('invalid' as const),
      what: fc.constantFrom('decimals', 'sum', 'stranger', 'self-payment', 'negative', 'percent', 'no-payer', 'number'),
      spec: expenseSpec,
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('batch' as const), specs: fc.array(expenseSpec, { minLength: 2, maxLength: 6 }) }) },
);
type Command = typeof command extends fc.Arbitrary<infer T> ? T : never;

/** A concrete request body for a spec, and the balance moves the model expects from it. */
function concrete(model: Model, spec: ExpenseSpec, description: string): { body: any; moves: Map<string, bigint> } {
  const digits = DIGITS[model.currency] as number;
  const total = spec.amount;
  const ids = (idx: number[]) => idx.map((i) => model.members[i] as string);
  const moves = new Map<string, bigint>();
  const move = (u: string, m: bigint) => moves.set(u, (moves.get(u) ?? 0n) + m);

  const payerIds = ids(spec.payers);
  let payerPart: any;
  if (payerIds.length === 1) {
    payerPart = { paidBy: payerIds[0] };
    move(payerIds[0] as string, total);
  } else {
    // Every payer must have paid something (a zero payer is refused), so small
    // amounts may leave fewer payers than were drawn.
    const paid = modelSplit(total, spec.payerWeights.slice(0, payerIds.length).map(BigInt));
    const payers = payerIds.map((u, i) => [u, paid[i] as bigint] as const).filter(([, m]) => m > 0n);
    payerPart = { payers: payers.map(([u, m]) => ({ userId: u, amount: decimal(m, digits) })) };
    for (const [u, m] of payers) move(u, m);
  }

  const among = ids(spec.among);
  let split: any;
  let owed: bigint[];
  let who = among;
  switch (spec.mode) {
    case 'equal-all':
      who = model.members;
      owed = modelSplit(
        total,
        who.map(() => 1n),
      );
      split = { mode: 'equal' };
      break;
    case 'equal':
      owed = modelSplit(
        total,
        among.map(() => 1n),
      );
      split = { mode: 'equal', among };
      break;
    case 'exact':
      owed = modelSplit(total, spec.weights.slice(0, among.length).map(BigInt));
      split = { mode: 'exact', shares: among.map((u, i) => ({ userId: u, amount: decimal(owed[i] as bigint, digits) })) };
      break;
    case 'percent': {
      const basisPoints = modelSplit(10_000n, spec.weights.slice(0, among.length).map(BigInt));
      owed = modelSplit(total, basisPoints);
      split = { mode: 'percent', shares: among.map((u, i) => ({ userId: u, percent: decimal(basisPoints[i] as bigint, 2) })) };
      break;
    }
    case 'shares': {
      const w = spec.weights.slice(0, among.length);
      owed = modelSplit(total, w.map(BigInt));
      split = { mode: 'shares', shares: among.map((u, i) => ({ userId: u, weight: w[i] })) };
      break;
    }
  }
  who.forEach((u, i) => move(u, -(owed[i] as bigint)));
  return { body: { description, amount: decimal(total, digits), ...payerPart, split }, moves };
}

/** Bodies the server must refuse with 400, changing nothing. */
function invalidBody(model: Model, what: string, spec: ExpenseSpec): any {
  const { body } = concrete(model, spec, 'bad');
  const digits = DIGITS[model.currency] as number;
  const [a = '', b = ''] = model.members;
  switch (what) {
    case 'decimals':
      return { ...body, amount: `${decimal(spec.amount, digits)}${digits === 0 ? '.5' : '1'}` };
    case 'sum':
      return { ...body, split: { mode: 'exact', shares: [{ userId: a, amount: decimal(spec.amount + 1n, digits) }] } };
    case 'stranger':
      return { ...body, paidBy: 'nobody-here', payers: undefined };
    case 'self-payment':
      return { kind: 'payment', description: 'self', amount: body.amount, paidBy: a, split: { mode: 'equal', among: [a] } };
    case 'negative':
      return { ...body, amount: `-${body.amount}` };
    case 'percent':
      return {
        ...body,
        split: {
          mode: 'percent',
          shares: [
            { userId: a, percent: '50' },
            { userId: b, percent: '49.99' },
          ],
        },
      };
    case 'no-payer':
      return { ...body, paidBy: undefined, payers: undefined };
    default:
      return { ...body, amount: Number(spec.amount) };
  }
}

async function run(model: Model, owner: string, cmd: Command, n: number): Promise<void> {
  const base = `/groups/${model.groupId}`;
  const live = () => [...model.expenses].filter(([, e]) => !e.deleted);
  const expectBalances = (res: { body: any }, what: string) => {
    const got = new Map<string, bigint>(res.body.balances.map((b: any) => [b.userId, toMinor(b.balance, DIGITS[model.currency] as number)]));
    if (res.body.version !== model.version) throw new Error(`${what}: version ${res.body.version}, model ${model.version}`);
    for (const [u, m] of model.balances) {
      if (got.get(u) !== m) throw new Error(`${what}: ${u} has ${got.get(u)}, model ${m}`);
    }
  };
  switch (cmd.type) {
    case 'add': {
      const id = `x${n}`;
      const { body, moves } = concrete(model, cmd.spec, `add ${n}`);
      const res = await http('POST', `${base}/expenses`, owner, { expenseId: id, ...body });
      if (res.status !== 201) throw new Error(`add: ${res.status} ${JSON.stringify(res.body)}`);
      model.expenses.set(id, { body, moves, deleted: false });
      model.apply(moves, 1n);
      model.version += 1;
      return expectBalances(res, 'add');
    }
    case 'edit': {
      const target = live()[cmd.pick % Math.max(1, live().length)];
      if (!target) return;
      const [id, old] = target;
      const { body, moves } = concrete(model, cmd.spec, `edit ${n}`);
      const res = await http('PUT', `${base}/expenses/${id}`, owner, body);
      if (res.status !== 200) throw new Error(`edit: ${res.status} ${JSON.stringify(res.body)}`);
      model.apply(old.moves, -1n);
      model.apply(moves, 1n);
      model.expenses.set(id, { body, moves, deleted: false });
      model.version += 2;
      return expectBalances(res, 'edit');
    }
    case 'delete': {
      const all = [...model.expenses];
      const target = all[cmd.pick % Math.max(1, all.length)];
      if (!target) return;
      const [id, e] = target;
      const res = await http('DELETE', `${base}/expenses/${id}`, owner);
      if (e.deleted) {
        if (res.status !== 409) throw new Error(`delete of a deleted expense: ${res.status}`);
        return;
      }
      if (res.status !== 200) throw new Error(`delete: ${res.status} ${JSON.stringify(res.body)}`);
      e.deleted = true;
      model.apply(e.moves, -1n);
      model.version += 1;
      return expectBalances(res, 'delete');
    }
    case 'pay': {
      if (cmd.from === cmd.to) return;
      const [from, to] = [model.members[cmd.from] as string, model.members[cmd.to] as string];
      const body = {
        kind: 'payment',
        description: `pay ${n}`,
        amount: decimal(cmd.amount, DIGITS[model.currency] as number),
        paidBy: from,
        split: { mode: 'equal', among: [to] },
      };
      const res = await http('POST', `${base}/expenses`, owner, { expenseId: `p${n}`, ...body });
      if (res.status !== 201) throw new Error(`pay: ${res.status} ${JSON.stringify(res.body)}`);
      const moves = new Map([
        [from, cmd.amount],
        [to, -cmd.amount],
      ]);
      model.expenses.set(`p${n}`, { body, moves, deleted: false });
      model.apply(moves, 1n);
      model.version += 1;
      return expectBalances(res, 'pay');
    }
    case 'retry': {
      const target = live()[cmd.pick % Math.max(1, live().length)];
      if (!target) return;
      const res = await http('POST', `${base}/expenses`, owner, { expenseId: target[0], ...target[1].body });
      if (res.status !== 200) throw new Error(`retry: ${res.status} ${JSON.stringify(res.body)}`);
      return expectBalances(res, 'retry (nothing appended)');
    }
    case 'invalid': {
      const res = await http('POST', `${base}/expenses`, owner, invalidBody(model, cmd.what, cmd.spec));
      if (res.status !== 400) throw new Error(`invalid ${cmd.what}: ${res.status} ${JSON.stringify(res.body)}`);
      return;
    }
    case 'batch': {
      const made = cmd.specs.map((spec, i) => ({ id: `b${n}-${i}`, ...concrete(model, spec, `batch ${n}.${i}`) }));
      const results = await Promise.all(made.map((m) => http('POST', `${base}/expenses`, owner, { expenseId: m.id, ...m.body })));
      for (const res of results) if (res.status !== 201) throw new Error(`batch: ${res.status} ${JSON.stringify(res.body)}`);
      const versions = results.map((r) => r.body.version).sort((a, b) => a - b);
      const expected = made.map((_, i) => model.version + 1 + i);
      if (JSON.stringify(versions) !== JSON.stringify(expected)) throw new Error(`batch versions ${versions}, expected ${expected}`);
      for (const m of made) {
        model.expenses.set(m.id, { body: m.body, moves: m.moves, deleted: false });
        model.apply(m.moves, 1n);
      }
      model.version += made.length;
      return;
    }
  }
  throw new Error(`unknown command ${JSON.stringify(cmd)}`);
}

let groupSerial = 0;

t.test('random command sequences over HTTP: the projection always equals the model and replay verify', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('USD', 'JPY', 'KWD'), fc.array(command, { minLength: 1, maxLength: 25 }), async (currency, commands) => {
      const groupId = `prop-${++groupSerial}`;
      const [owner, ...others] = people as [(typeof people)[0], ...typeof people];
      const created = await http('POST', '/groups', owner.token, { groupId, name: groupId, currency, members: others.map((p) => p.userId) });
      if (created.status !== 201) throw new Error(`create: ${created.status}`);
      const model = new Model(
        groupId,
        currency,
        people.map((p) => p.userId),
      );
      let n = 0;
      for (const cmd of commands) await run(model, owner.token, cmd, n++);

      const served = await http('GET', `/groups/${groupId}/balances`, owner.token);
      if (served.body.version !== model.version) throw new Error(`served version ${served.body.version}, model ${model.version}`);
      for (const b of served.body.balances) {
        if (toMinor(b.balance, DIGITS[currency] as number) !== model.balances.get(b.userId)) throw new Error(`served ${b.userId} ${b.balance}`);
      }
      const report = await env.verify({ groupId });
      if (report.mismatches.length > 0) throw new Error(`verify: ${JSON.stringify(report.mismatches)}`);
    }),
    { numRuns: 60, endOnFailure: true },
  );
  t.same((await env.verify()).mismatches, [], 'the whole log verifies');
  t.pass(`${groupSerial} random groups checked`);
});

t.test('after random histories, a rebuild reproduces the projection exactly', async (t) => {
  const dump = async () =>
    (
      await env.database.query(
        `select g.group_id, g.version, (select json_agg(b order by b.user_id) from user_balances b where b.group_id = g.group_id) as balances,
                (select json_agg(e order by e.expense_id) from expenses e where e.group_id = g.group_id) as expenses,
                (select json_agg(m order by m.position) from group_members m where m.group_id = g.group_id) as members
           from groups g order by g.group_id`,
      )
    ).rows;
  const before = await dump();
  t.ok(before.length >= 60);
  const report = await env.rebuild({ batchEvents: 50 });
  t.equal(report.groups, before.length);
  t.same(await dump(), before, 'every row the live projector wrote, the rebuild writes identically');
});
