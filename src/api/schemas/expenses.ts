import { z } from 'zod';
import { Amount, Balance, Id, PageLimit, PathId, StoredId, text } from './common.js';

/** A split as a client may ask for it (the event keeps its shape, without these limits). */
const DecimalString = z.string().max(40);
export const SplitInput = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('equal'), among: z.array(Id).min(1).max(500).optional() }),
  z.strictObject({
    mode: z.literal('exact'),
    shares: z
      .array(z.strictObject({ userId: Id, amount: DecimalString }))
      .min(1)
      .max(500),
  }),
  z.strictObject({
    mode: z.literal('percent'),
    shares: z
      .array(z.strictObject({ userId: Id, percent: DecimalString }))
      .min(1)
      .max(500),
  }),
  z.strictObject({
    mode: z.literal('shares'),
    shares: z
      .array(z.strictObject({ userId: Id, weight: z.number().int().min(1).max(1_000_000) }))
      .min(1)
      .max(500),
  }),
]);

export const ExpenseBody = z
  .strictObject({
    expenseId: Id.optional(),
    kind: z.enum(['expense', 'payment']).optional(),
    description: text(200, { multiline: true }),
    amount: Amount,
    paidBy: Id.optional(),
    payers: z
      .array(z.strictObject({ userId: Id, amount: Amount }))
      .min(1)
      .max(500)
      .optional(),
    split: SplitInput,
    occurredAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((body) => (body.paidBy === undefined) !== (body.payers === undefined), {
    message: 'give exactly one of paidBy or payers',
    path: ['paidBy'],
  });
export type ExpenseBody = z.infer<typeof ExpenseBody>;

const Allocation = z.array(z.object({ userId: StoredId, amount: Amount }));

export const Expense = z.object({
  expenseId: StoredId,
  kind: z.enum(['expense', 'payment']),
  description: z.string(),
  currency: z.string(),
  amount: Amount,
  payers: Allocation,
  shares: Allocation,
  split: z.unknown(),
  occurredAt: z.string(),
  deleted: z.boolean(),
  version: z.number().int().describe('Group version at which this expense last changed'),
});

export const WriteResult = z.object({
  expense: Expense,
  version: z.number().int(),
  balances: z.array(Balance),
});

export const PreviewResult = z.object({
  expense: Expense.pick({ kind: true, description: true, currency: true, amount: true, payers: true, shares: true, split: true }),
  version: z.number().int().describe('The group version the preview was resolved against'),
});

export const DeleteResult = z.object({ version: z.number().int(), balances: z.array(Balance) });

export const ExpenseListQuery = z.strictObject({
  limit: PageLimit(200, 50),
  cursor: z.string().max(200).optional(),
  includeDeleted: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  q: text(200).optional().describe('Only expenses whose description contains this text (case-insensitive)'),
  member: PathId.optional().describe('Only expenses this user paid or has a share in'),
});

export const ExpenseList = z.object({ items: z.array(Expense), nextCursor: z.string().nullable() });
