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
