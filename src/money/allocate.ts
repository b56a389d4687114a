/**
 * Largest-remainder allocation of `total` minor units by integer `weights`.
 *
 * Each participant first gets floor(total * w / Σw). The units left over go one each
 * to the participants with the largest remainders; ties go to whoever comes first in
 * the given order. Everything is exact integer arithmetic, so the result always sums to
 * `total` and is the same on every machine.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) throw new RangeError('allocate needs at least one weight');
  if (weights.some((w) => w < 0n)) throw new RangeError('weights must not be negative');
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) throw new RangeError('weights must not all be zero');

  const base = weights.map((w) => (total * w) / sum);
  const remainders = weights.map((w, index) => ({ index, remainder: (total * w) % sum }));
  let leftover = total - base.reduce((a, b) => a + b, 0n);

  // Stable order: larger remainder first, then original position.
  remainders.sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of remainders) {
    if (leftover === 0n) break;
    base[index] = (base[index] as bigint) + 1n;
    leftover -= 1n;
  }
  return base;
}
