/**
 * Amounts arrive as decimal strings and are formatted as strings: Intl.NumberFormat
 * formats a decimal string exactly, so no amount ever passes through a float here.
 */
export function formatMoney(amount: string, currency: string): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amount as `${number}`);
}

/** The amount without its sign, for "owes 5.00" / "is owed 5.00". */
export const absolute = (amount: string): string => amount.replace(/^-/, '');

export const signOf = (amount: string): -1 | 0 | 1 => (/^-/.test(amount) ? -1 : /[1-9]/.test(amount) ? 1 : 0);

/** Minor-unit digits of a currency, from the browser's ICU (the server uses the same rule). */
export const currencyDigits = (currency: string): number =>
  new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
