import type { Allocation } from '../db/schema.js';

/**
 * How an expense moves balances: each payer is owed what they paid, each participant
 * owes their share. `sign` -1 undoes an expense (delete). Accumulates into `into`.
 */
export function addBalanceDeltas(
  into: Map<string, bigint>,
  payers: Allocation,
  shares: Allocation,
  sign: 1n | -1n,
): void {
  for (const p of payers) into.set(p.userId, (into.get(p.userId) ?? 0n) + sign * BigInt(p.amountMinor));
  for (const s of shares) into.set(s.userId, (into.get(s.userId) ?? 0n) - sign * BigInt(s.amountMinor));
}
