import type { SplitSpec } from '../events/index.js';

/** An expense (or payment) as a client describes it; amounts are decimal strings. */
export interface ExpenseInput {
  kind?: 'expense' | 'payment' | undefined;
  description: string;
  amount: string;
  paidBy?: string | undefined;
  payers?: { userId: string; amount: string }[] | undefined;
  split: SplitSpec;
  occurredAt?: string | undefined;
}
