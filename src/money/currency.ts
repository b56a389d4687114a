/**
 * Currency facts come from the platform's ICU data, never from a hand-kept table:
 * the minor-unit digits of USD (2), JPY (0) and KWD (3) are whatever ICU says.
 */
const supported = new Set(Intl.supportedValuesOf('currency'));

export function isSupportedCurrency(code: string): boolean {
  return supported.has(code);
}

const digitsCache = new Map<string, number>();

/** Number of minor-unit digits of an ISO 4217 currency, from ICU. */
export function minorDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, digits);
  }
  return digits;
}
