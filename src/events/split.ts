import { z } from 'zod';
import { Id } from './ids.js';

/**
 * How an expense is divided, as the client asked for it. Events keep it for display
 * only: the resolved integer shares next to it are the facts balances come from.
 */
const DecimalString = z.string().max(40);

export const SplitSpec = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('equal'), among: z.array(Id).min(1).max(500).optional() }),
  z.strictObject({
    mode: z.literal('exact'),
    shares: z.array(z.strictObject({ userId: Id, amount: DecimalString })).min(1).max(500),
  }),
  z.strictObject({
    mode: z.literal('percent'),
    shares: z.array(z.strictObject({ userId: Id, percent: DecimalString })).min(1).max(500),
  }),
  z.strictObject({
    mode: z.literal('shares'),
    shares: z
      .array(z.strictObject({ userId: Id, weight: z.number().int().min(1).max(1_000_000) }))
      .min(1)
      .max(500),
  }),
]);
export type SplitSpec = z.infer<typeof SplitSpec>;
