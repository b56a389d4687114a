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

/** Integer minor units (as the event log stores them) as a decimal string: 1234 EUR → "12.34". */
export function fromMinor(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const whole = String(Math.abs(minor)).padStart(digits + 1, '0');
  const decimal = digits === 0 ? whole : `${whole.slice(0, -digits)}.${whole.slice(-digits)}`;
  return minor < 0 ? `-${decimal}` : decimal;
}

/**
 * Names people can tell apart: a name two of them share (ignoring case and spacing) gets
 * the start of each one's user id, as long as it takes to differ ("Bob ·3f2a"); a name
 * only one of them has stays as it is. A label that still meets another (someone named
 * "Bob ·3f2a" themselves) gets the whole user id. By user id.
 */
export function distinctNames(people: readonly { userId: string; name: string }[]): Map<string, string> {
  const key = (name: string) => name.normalize('NFC').trim().replace(/\s+/g, ' ').toLocaleLowerCase();
  const byName = new Map<string, { userId: string; name: string }[]>();
  for (const p of people) {
    const same = byName.get(key(p.name)) ?? [];
    if (!same.some((q) => q.userId === p.userId)) same.push(p);
    byName.set(key(p.name), same);
  }
  const out = new Map<string, string>();
  for (const same of byName.values()) {
    if (same.length === 1) {
      const [only] = same as [{ userId: string; name: string }];
      out.set(only.userId, only.name);
      continue;
    }
    let length = 4;
    while (new Set(same.map((p) => p.userId.slice(0, length))).size < same.length && length < 64) length++;
    for (const p of same) out.set(p.userId, `${p.name} ·${p.userId.slice(0, length)}`);
  }
  const seen = new Map<string, number>();
  for (const label of out.values()) seen.set(key(label), (seen.get(key(label)) ?? 0) + 1);
  for (const p of people) {
    const label = out.get(p.userId) as string;
    if ((seen.get(key(label)) ?? 0) > 1) out.set(p.userId, `${p.name} ·${p.userId}`);
  }
  return out;
}
