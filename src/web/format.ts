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

/** The decimal and grouping separators of a locale (undefined: the browser's), from ICU. */
export function separatorsOf(locale?: string): { decimal: string; group: string } {
  const parts = new Intl.NumberFormat(locale, { useGrouping: true }).formatToParts(1234567.5);
  return { decimal: parts.find((p) => p.type === 'decimal')?.value ?? '.', group: parts.find((p) => p.type === 'group')?.value ?? ',' };
}

/** What the person typed could not be read as an amount: why, in words. */
export class AmountTextError extends Error {}

/**
 * An amount as a person writes it in their own locale ("12,50", "1.234,56 €", "$1,234.5",
 * "¥1,000", "1 234,5") as the API's canonical decimal string ("12.50" is "12.5"; the
 * server checks the digits against the currency). No float on the way: the text is taken
 * apart, never computed. A separator the locale does not use as its decimal mark reads
 * as grouping when every group after it has three digits ("1.250" in de-DE is 1250), and
 * as the decimal mark otherwise ("12.50" in de-DE is 12.50). Throws AmountTextError.
 */
export function parseAmountText(text: string, locale?: string, currency?: string): string {
  const { decimal, group } = separatorsOf(locale);
  // Spaces of every kind (fr-FR groups with U+202F) and apostrophes (de-CH) go; so does
  // the currency, before or after the number, as a symbol or its code: the group's own
  // only, when it is known ("$5" in a EUR group is refused, not read as €5).
  let s = text.normalize('NFKC').replace(/[\s\u00a0\u202f'’]/g, '');
  const own = currency === undefined ? undefined : currencyMarks(currency, locale);
  const mark = /^(\p{Sc}+|[A-Za-z]{2,3}\p{Sc}|[A-Za-z]{3}(?![A-Za-z]))|(\p{Sc}+|(?<![A-Za-z])[A-Za-z]{3})$/gu;
  s = s.replace(mark, (found: string) => {
    if (own && !own.has(found.toUpperCase())) throw new AmountTextError(`Amounts in this group are in ${currency}`);
    return '';
  });
  if (s === '') throw new AmountTextError('Type an amount, such as 12.50');
  if (/^[-−]/.test(s)) throw new AmountTextError('An amount cannot be negative');
  if (/[^0-9.,]/.test(s)) throw new AmountTextError(`“${text.trim()}” is not an amount`);
  const groupMark = group.replace(/[\s\u00a0\u202f]/g, '') || null;
  const other = decimal === ',' ? '.' : ',';
  let fraction = '';
  const last = s.lastIndexOf(decimal);
  if (last >= 0) {
    fraction = s.slice(last + 1);
    s = s.slice(0, last);
    if (/[.,]/.test(fraction)) throw new AmountTextError(`“${text.trim()}” has separators after its decimal mark`);
    s = removeGrouping(s, groupMark ?? other, text);
  } else if (s.includes(other)) {
    const groups = s.split(other);
    const grouping = groups.slice(1).every((g) => g.length === 3) && (groups[0] ?? '').length >= 1 && (groups[0] ?? '').length <= 3;
    if (grouping && (groupMark === other || groups.length > 2)) s = groups.join('');
    else if (groups.length === 2) [s, fraction] = groups as [string, string];
    else throw new AmountTextError(`“${text.trim()}” is not an amount`);
  }
  if (!/^\d+$/.test(s || '0') || !/^\d*$/.test(fraction)) throw new AmountTextError(`“${text.trim()}” is not an amount`);
  const whole = (s || '0').replace(/^0+(?=\d)/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** How a currency may be written: its code and its symbols (the locale's, the narrow one, English's), upper-cased. */
function currencyMarks(currency: string, locale?: string): Set<string> {
  const symbol = (l: string | undefined, display: 'symbol' | 'narrowSymbol') =>
    new Intl.NumberFormat(l, { style: 'currency', currency, currencyDisplay: display }).formatToParts(1).find((p) => p.type === 'currency')?.value ?? '';
  return new Set([currency, symbol(locale, 'symbol'), symbol(locale, 'narrowSymbol'), symbol('en', 'symbol')].map((m) => m.replace(/\s/g, '').toUpperCase()));
}

function removeGrouping(s: string, mark: string, text: string): string {
  if (!s.includes(mark) && !/[.,]/.test(s)) return s;
  const groups = s.split(mark);
  if (/[.,]/.test(groups.join('')) || !groups.slice(1).every((g) => g.length === 3)) {
    throw new AmountTextError(`“${text.trim()}” is not an amount`);
  }
  return groups.join('');
}

/** A canonical decimal string ("1234.5") as a person of the locale writes it in a form ("1234,5"): no grouping, their decimal mark. */
export const amountForInput = (amount: string, locale?: string): string => amount.replace('.', separatorsOf(locale).decimal);

/** A canonical decimal string ("12.5") in minor units of `digits` (1250n for 2); undefined when it has more decimals. */
export function minorOf(decimal: string, digits: number): bigint | undefined {
  const [whole = '0', fraction = ''] = decimal.split('.');
  if (fraction.length > digits || !/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return undefined;
  return BigInt(whole + fraction.padEnd(digits, '0'));
}

/** Minor units back as a canonical decimal string of `digits` decimals. */
export function decimalOf(minor: bigint, digits: number): string {
  const sign = minor < 0n ? '-' : '';
  const text = (minor < 0n ? -minor : minor).toString().padStart(digits + 1, '0');
  return digits === 0 ? `${sign}${text}` : `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
