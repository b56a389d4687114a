import { z } from 'zod';

/**
 * How an expense is divided, as the client asked for it. Events keep it for display
 * only: the resolved integer shares next to it are the facts balances come from.
 * Shape only (see group-events.ts): the limits on what a client may ask for are the
 * API's and the commands'.
 */
export const SplitSpec = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('equal'), among: z.array(z.string()).optional() }),
  z.strictObject({ mode: z.literal('exact'), shares: z.array(z.strictObject({ userId: z.string(), amount: z.string() })) }),
  z.strictObject({ mode: z.literal('percent'), shares: z.array(z.strictObject({ userId: z.string(), percent: z.string() })) }),
  z.strictObject({ mode: z.literal('shares'), shares: z.array(z.strictObject({ userId: z.string(), weight: z.number().int() })) }),
]);
export type SplitSpec = z.infer<typeof SplitSpec>;

type Allocation = { userId: string; amountMinor: number }[];

/**
 * An expense as it reads once `from` is `to` (a name-only member claimed by an account,
 * MemberClaimed): every payer, share and split entry of the one names the other.
 * `undefined` when the expense does not name `from`.
 */
export function renamedInExpense<E extends { payers: Allocation; shares: Allocation; split: unknown }>(expense: E, from: string, to: string): E | undefined {
  const names = (a: Allocation) => a.some((x) => x.userId === from);
  const split = expense.split as SplitSpec;
  const inSplit = split.mode === 'equal' ? (split.among ?? []).includes(from) : split.shares.some((s) => s.userId === from);
  if (!names(expense.payers) && !names(expense.shares) && !inSplit) return undefined;
  const id = (userId: string) => (userId === from ? to : userId);
  const renamed = (a: Allocation) => a.map((x) => ({ ...x, userId: id(x.userId) }));
  const nextSplit: SplitSpec =
    split.mode === 'equal'
      ? split.among === undefined
        ? split
        : { ...split, among: split.among.map(id) }
      : ({ ...split, shares: split.shares.map((s) => ({ ...s, userId: id(s.userId) })) } as SplitSpec);
  return { ...expense, payers: renamed(expense.payers), shares: renamed(expense.shares), split: nextSplit };
}
