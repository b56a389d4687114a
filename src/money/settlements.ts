export interface Balance {
  userId: string;
  balance: bigint;
}

export interface Transfer {
  from: string;
  to: string;
  amount: bigint;
}

/** Up to this many non-zero members the exact minimum is searched for (2^n states). */
export const EXACT_LIMIT = 12;

/**
 * Transfers that bring every balance to zero (balances must sum to zero).
 *
 * The minimum number of transfers is (non-zero members) − (the largest number of
 * disjoint zero-sum groups they can be split into): each zero-sum group of k people
 * settles in k − 1 transfers and no fewer. For up to EXACT_LIMIT members a subset DP
 * finds that split exactly; beyond it one greedy pass guarantees at most n − 1
 * transfers. Output is deterministic: members are
 * ordered by user id before anything else.
 */
export function settle(balances: readonly Balance[]): Transfer[] {
  const people = balances
    .filter((b) => b.balance !== 0n)
    .slice()
    .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  const total = people.reduce((s, p) => s + p.balance, 0n);
  if (total !== 0n) throw new RangeError(`balances sum to ${total}, not 0`);
  if (people.length === 0) return [];
  if (people.length > EXACT_LIMIT) return greedy(people);

  const transfers: Transfer[] = [];
  for (const block of zeroSumBlocks(people)) transfers.push(...greedy(block));
  return transfers;
}

/** Splits people into the largest possible number of disjoint zero-sum groups. */
function zeroSumBlocks(people: readonly Balance[]): Balance[][] {
  const n = people.length;
  const full = (1 << n) - 1;
  const sum = new Array<bigint>(full + 1).fill(0n);
  for (let mask = 1; mask <= full; mask++) {
    const low = 31 - Math.clz32(mask & -mask);
    sum[mask] = (sum[mask & (mask - 1)] as bigint) + (people[low] as Balance).balance;
  }
  // best[mask]: most zero-sum prefixes over any ordering of mask's members.
  const best = new Int8Array(full + 1);
  for (let mask = 1; mask <= full; mask++) {
    let top = 0;
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i)) top = Math.max(top, best[mask ^ (1 << i)] as number);
    }
    best[mask] = top + (sum[mask] === 0n ? 1 : 0);
  }
  // Walk back along an optimal ordering; each zero-sum prefix closes a block.
  const blocks: Balance[][] = [];
  let current: Balance[] = [];
  let mask = full;
  while (mask !== 0) {
    const closes = sum[mask] === 0n ? 1 : 0;
    if (closes && current.length > 0) {
      blocks.push(current);
      current = [];
    }
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i) && (best[mask ^ (1 << i)] as number) + closes === best[mask]) {
        current.push(people[i] as Balance);
        mask ^= 1 << i;
        break;
      }
    }
  }
  if (current.length > 0) blocks.push(current);
  return blocks;
}

/**
 * Debtors and creditors, each largest first, are matched in turn; every transfer evens
 * out at least one of the two and the last evens out both: at most n − 1 transfers.
 */
function greedy(people: readonly Balance[]): Transfer[] {
  const byAmount = (a: Balance, b: Balance) => (a.balance === b.balance ? (a.userId < b.userId ? -1 : 1) : a.balance > b.balance ? -1 : 1);
  const creditors = people
    .filter((p) => p.balance > 0n)
    .map((p) => ({ ...p }))
    .sort(byAmount);
  const debtors = people
    .filter((p) => p.balance < 0n)
    .map((p) => ({ userId: p.userId, balance: -p.balance }))
    .sort(byAmount);
  const transfers: Transfer[] = [];
  let c = 0;
  let d = 0;
  while (c < creditors.length && d < debtors.length) {
    const creditor = creditors[c] as Balance;
    const debtor = debtors[d] as Balance;
    const amount = creditor.balance < debtor.balance ? creditor.balance : debtor.balance;
    transfers.push({ from: debtor.userId, to: creditor.userId, amount });
    creditor.balance -= amount;
    debtor.balance -= amount;
    if (creditor.balance === 0n) c++;
    if (debtor.balance === 0n) d++;
  }
  return transfers;
}
