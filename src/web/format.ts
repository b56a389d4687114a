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

/** Digits of other scripts a browser may write (Arabic-Indic, Persian, Devanagari, Bengali): their first code point, the zero. */
const ZEROS = [0x0660, 0x06f0, 0x0966, 0x09e6];
const asciiDigits = (s: string): string =>
  s.replace(/\p{Nd}/gu, (d) => {
    const cp = d.codePointAt(0) as number;
    const zero = ZEROS.find((z) => cp >= z && cp <= z + 9);
    return zero === undefined ? d : String(cp - zero);
  });

/** Marks that only ever group digits: spaces of every kind (fr-FR uses U+202F), apostrophes (de-CH). */
const SPACE_LIKE = /^[\s\u00a0\u202f'’]$/u;

/**
 * An amount as a person writes it in their own locale ("12,50", "1.234,56 €", "$1,234.5",
 * "¥1,000", "1 234,5", "1,00,000", "١٢٫٥") as the API's canonical decimal string. No float
 * on the way: the text is taken apart, never computed. The locale's decimal mark is the
 * decimal mark; a "." or "," the locale does not use as one reads as grouping when three
 * digits follow it and the groups are well formed ("1.250" in de-DE, "1.500" in fr-FR),
 * and as the decimal mark otherwise ("12.50" in de-DE, "0.500" anywhere). Groups are
 * checked (threes, or the Indian twos then a three; the first without a leading zero), so
 * a typo such as "12 50" is refused rather than read as 1250. Throws AmountTextError.
 */
export function parseAmountText(text: string, locale?: string, currency?: string): string {
  const { decimal, group } = separatorsOf(locale);
  const notAmount = () => new AmountTextError(`“${text.trim()}” is not an amount`);
  let s = text.normalize('NFKC').trim();
  // The currency, before or after the number, as a symbol or its code: the group's own
  // only, when it is known ("$5" in a EUR group is refused, not read as €5).
  const own = currency === undefined ? undefined : currencyMarks(currency, locale);
  const mark = /^(\p{Sc}+|[A-Za-z]{2,3}\p{Sc}|[A-Za-z]{3}(?![A-Za-z]))\s*|\s*(\p{Sc}+|(?<![A-Za-z])[A-Za-z]{3})$/gu;
  s = s
    .replace(mark, (found: string) => {
      if (own && !own.has(found.trim().toUpperCase())) throw new AmountTextError(`Amounts in this group are in ${currency}`);
      return '';
    })
    .trim();
  s = asciiDigits(s);
  if (s === '') throw new AmountTextError('Type an amount, such as 12.50');
  if (/^[-−]/.test(s)) throw new AmountTextError('An amount cannot be negative');
  // Digits and single separators, alternating; a trailing decimal mark ("12,") is allowed.
  if (s.endsWith(decimal)) s = s.slice(0, -decimal.length);
  const parts = s.split(/(\D)/u);
  const runs = parts.filter((_, i) => i % 2 === 0);
  const seps = parts.filter((_, i) => i % 2 === 1);
  if (runs.some((r) => r === '') || seps.some((c) => c !== decimal && c !== group && c !== '.' && c !== ',' && !SPACE_LIKE.test(c))) {
    throw notAmount();
  }
  const grouped = (groups: readonly string[]): boolean => {
    if (groups.length === 1) return true;
    const [first = '', ...rest] = groups;
    const last = rest.at(-1) ?? '';
    const threes = /^[1-9]\d{0,2}$/.test(first) && rest.every((g) => g.length === 3);
    const indian = /^[1-9]\d?$/.test(first) && last.length === 3 && rest.slice(0, -1).every((g) => g.length === 2);
    return threes || indian;
  };
  let point = seps.lastIndexOf(decimal);
  if (seps.indexOf(decimal) !== point || (point >= 0 && point !== seps.length - 1)) throw notAmount();
  if (point < 0) {
    // The other of "." and ",": the decimal mark, unless the whole reads as well-formed grouping.
    const last = seps.at(-1);
    if ((last === '.' || last === ',') && seps.filter((c) => c === last).length === 1) {
      const asGrouping = runs.at(-1)?.length === 3 && grouped(runs);
      if (!asGrouping) point = seps.length - 1;
    }
  }
  const whole = point < 0 ? runs : runs.slice(0, point + 1);
  const marks = point < 0 ? seps : seps.slice(0, point);
  if (new Set(marks).size > 1 || marks.includes(decimal) || !grouped(whole)) throw notAmount();
  const fraction = point < 0 ? '' : (runs.at(-1) as string);
  const integer = whole.join('').replace(/^0+(?=\d)/, '');
  return fraction === '' ? integer : `${integer}.${fraction}`;
}

/** How a currency may be written: its code and its symbols (the locale's, the narrow one, English's), upper-cased. */
function currencyMarks(currency: string, locale?: string): Set<string> {
  const symbol = (l: string | undefined, display: 'symbol' | 'narrowSymbol') =>
    new Intl.NumberFormat(l, { style: 'currency', currency, currencyDisplay: display }).formatToParts(1).find((p) => p.type === 'currency')?.value ?? '';
  return new Set([currency, symbol(locale, 'symbol'), symbol(locale, 'narrowSymbol'), symbol('en', 'symbol')].map((m) => m.replace(/\s/g, '').toUpperCase()));
}

/** A canonical decimal string ("1234.5") as a person of the locale writes it in a form ("1234,5"): no grouping, their decimal mark. */
export const amountForInput = (amount: string, locale?: string): string => amount.replace('.', separatorsOf(locale).decimal);

/** A canonical decimal string ("12.5") in minor units of `digits` (1250n for 2); undefined when it has more decimals. */
export function minorOf(decimal: string, digits: number): bigint | undefined {
  const [whole = '0', typed = ''] = decimal.split('.');
  // Zeros past the currency's digits change nothing (the server reads "12.500" as 12.50).
  const fraction = typed.length > digits ? typed.replace(/0+$/, '').padEnd(digits, '0') : typed;
  if (fraction.length > digits || !/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return undefined;
  return BigInt(whole + fraction.padEnd(digits, '0'));
}

/** Minor units back as a canonical decimal string of `digits` decimals. */
export function decimalOf(minor: bigint, digits: number): string {
  const sign = minor < 0n ? '-' : '';
  const text = (minor < 0n ? -minor : minor).toString().padStart(digits + 1, '0');
  return digits === 0 ? `${sign}${text}` : `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
