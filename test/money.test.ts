import t from 'tap';
import fc from 'fast-check';
import { allocate } from '../src/money/allocate.js';
import { isSupportedCurrency, minorDigits } from '../src/money/currency.js';
import type { AmountFormatError } from '../src/money/decimal.js';
import { formatMinor, parseDecimal } from '../src/money/decimal.js';
import { settle, type Balance } from '../src/money/settlements.js';

t.test('minor-unit digits come from ICU', async (t) => {
  t.equal(minorDigits('USD'), 2);
  t.equal(minorDigits('EUR'), 2);
  t.equal(minorDigits('JPY'), 0);
  t.equal(minorDigits('KWD'), 3);
  t.ok(isSupportedCurrency('CHF'));
  t.notOk(isSupportedCurrency('ABC'));
  t.notOk(isSupportedCurrency('usd'));
});

t.test('decimal strings parse exactly or are refused', async (t) => {
  t.equal(parseDecimal('12.34', 2), 1234n);
  t.equal(parseDecimal('12.3', 2), 1230n);
  t.equal(parseDecimal('12', 2), 1200n);
  t.equal(parseDecimal('12.340', 2), 1234n, 'trailing zeros are not extra precision');
  t.equal(parseDecimal('500', 0), 500n);
  t.equal(parseDecimal('1.234', 3), 1234n);
  t.equal(parseDecimal('0.00', 2, { allowZero: true }), 0n);
  t.equal(parseDecimal('10000000000.00', 2, { max: 10n ** 12n }), 10n ** 12n);
  const reason = (text: string, digits: number, options = {}) => {
    try {
      parseDecimal(text, digits, options);
      return 'accepted';
    } catch (error) {
      return (error as AmountFormatError).reason;
    }
  };
  t.equal(reason('12.345', 2), 'TOO_MANY_DECIMALS');
  t.equal(reason('1.5', 0), 'TOO_MANY_DECIMALS');
  for (const bad of ['', '-1', '+1', '1e3', '1.', '.5', ' 1', '1,00', '01', 'NaN', 'Infinity', '0x10', '1.2.3']) {
    t.equal(reason(bad, 2), 'FORMAT', `"${bad}" is not a decimal string`);
  }
  t.equal(reason('0', 2), 'OUT_OF_RANGE');
  t.equal(reason('10000000000.01', 2, { max: 10n ** 12n }), 'OUT_OF_RANGE');
});

t.test('formatMinor renders exactly the currency digits', async (t) => {
  t.equal(formatMinor(1234n, 2), '12.34');
  t.equal(formatMinor(5n, 2), '0.05');
  t.equal(formatMinor(-5n, 2), '-0.05');
  t.equal(formatMinor(-1234n, 3), '-1.234');
  t.equal(formatMinor(700n, 0), '700');
  t.equal(formatMinor(0n, 2), '0.00');
  t.equal(formatMinor(10n ** 18n, 2), '10000000000000000.00', 'beyond 2^53 stays exact');
});

t.test('largest remainder: leftover units to the largest fractions, ties in given order', async (t) => {
  t.same(allocate(1000n, [1n, 1n, 1n]), [334n, 333n, 333n], '10.00 / 3 → 3.34, 3.33, 3.33');
  t.same(allocate(1001n, [1n, 1n, 1n]), [334n, 334n, 333n]);
  t.same(allocate(100n, [1n, 1n, 1n]), [34n, 33n, 33n]);
  t.same(allocate(1000n, [1n, 2n]), [333n, 667n], 'remainders 1/3 vs 2/3: the larger fraction wins');
  t.same(allocate(1000n, [3333n, 3333n, 3334n]), [333n, 333n, 334n], 'percent 33.33/33.33/33.34');
  t.same(allocate(2n, [1n, 1n, 1n]), [1n, 1n, 0n]);
  t.same(allocate(7n, [0n, 1n]), [0n, 7n]);
  t.throws(() => allocate(5n, []));
  t.throws(() => allocate(5n, [0n, 0n]));
});

t.test('allocate always sums to the total and never strays a unit from the exact share', async () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.array(fc.bigInt({ min: 0n, max: 1_000_000n }), { minLength: 1, maxLength: 40 }).filter((w) => w.some((x) => x > 0n)),
      (total, weights) => {
        const parts = allocate(total, weights);
        const sum = weights.reduce((a, b) => a + b, 0n);
        if (parts.reduce((a, b) => a + b, 0n) !== total) return false;
        return parts.every((p, i) => {
          const exactFloor = (total * (weights[i] as bigint)) / sum;
          return p === exactFloor || p === exactFloor + 1n;
        });
      },
    ),
  );
});

/** Exhaustive minimum for tiny groups: n − max number of disjoint zero-sum subsets. */
function bruteForceMinimum(values: bigint[]): number {
  const nonZero = values.filter((v) => v !== 0n);
  const best = (rest: bigint[]): number => {
    if (rest.length === 0) return 0;
    const [first, ...others] = rest as [bigint, ...bigint[]];
    let top = 0;
    for (let mask = 0; mask < 1 << others.length; mask++) {
      let sum = first;
      const inside: bigint[] = [];
      const outside: bigint[] = [];
      others.forEach((v, i) => (mask & (1 << i) ? (inside.push(v), (sum += v)) : outside.push(v)));
      if (sum === 0n) top = Math.max(top, 1 + best(outside));
    }
    return top;
  };
  return nonZero.length - best(nonZero);
}

const applyTransfers = (balances: Balance[], transfers: ReturnType<typeof settle>) => {
  const after = new Map(balances.map((b) => [b.userId, b.balance]));
  for (const tr of transfers) {
    after.set(tr.from, (after.get(tr.from) ?? 0n) + tr.amount);
    after.set(tr.to, (after.get(tr.to) ?? 0n) - tr.amount);
  }
  return after;
};

const balancesArb = (maxMembers: number, maxAmount: bigint) =>
  fc.array(fc.bigInt({ min: -maxAmount, max: maxAmount }), { minLength: 1, maxLength: maxMembers - 1 }).map((values) => {
    const last = -values.reduce((a, b) => a + b, 0n);
    return [...values, last].map((balance, i) => ({ userId: `u${String(i).padStart(2, '0')}`, balance }));
  });

t.test('settlements zero every balance with the exact minimum number of transfers', async () => {
  fc.assert(
    fc.property(balancesArb(8, 30n), (balances) => {
      const transfers = settle(balances);
      const after = applyTransfers(balances, transfers);
      const nonZero = balances.filter((b) => b.balance !== 0n).length;
      return (
        [...after.values()].every((v) => v === 0n) &&
        transfers.every((tr) => tr.amount > 0n && tr.from !== tr.to) &&
        transfers.length === bruteForceMinimum(balances.map((b) => b.balance)) &&
        transfers.length <= Math.max(0, nonZero - 1)
      );
    }),
    { numRuns: 300 },
  );
});

t.test('settlements: a known case where greedy is not minimal', async (t) => {
  // Greedy pairs 6 with -5 first and needs 4 transfers; {6,-3,-3} and {5,-5} need 3.
  const balances = [6n, 5n, -5n, -3n, -3n].map((balance, i) => ({ userId: `m${i}`, balance }));
  const transfers = settle(balances);
  t.equal(transfers.length, 3);
  t.ok([...applyTransfers(balances, transfers).values()].every((v) => v === 0n));
});

t.test('settlements with 12 members stay exact; larger groups stay within n − 1', async (t) => {
  fc.assert(
    fc.property(balancesArb(12, 5n), (balances) => {
      const transfers = settle(balances);
      return [...applyTransfers(balances, transfers).values()].every((v) => v === 0n);
    }),
    { numRuns: 50 },
  );
  const many = Array.from({ length: 500 }, (_, i) => ({ userId: `u${String(i).padStart(3, '0')}`, balance: BigInt((i % 7) - 3) }));
  const rest = -many.reduce((a, b) => a + b.balance, 0n);
  many.push({ userId: 'zz', balance: rest });
  const transfers = settle(many);
  t.ok([...applyTransfers(many, transfers).values()].every((v) => v === 0n));
  t.ok(transfers.length <= many.filter((b) => b.balance !== 0n).length - 1);
  t.throws(() => settle([{ userId: 'a', balance: 1n }]), /sum/);
  t.same(settle([]), []);
});
