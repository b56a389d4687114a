import Big from 'big.js';

/** Why a decimal string was refused; callers map this to a field error. */
export class AmountFormatError extends Error {
  constructor(
    readonly reason: 'FORMAT' | 'TOO_MANY_DECIMALS' | 'OUT_OF_RANGE',
    message: string,
  ) {
    super(message);
  }
}

// Plain positional decimals only: no exponent, sign, spaces, or leading "+".
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export interface ParseOptions {
  /** Largest allowed value, inclusive, in the scaled unit. */
  max?: bigint;
  /** Whether zero is accepted (true for exact shares, false for totals). */
  allowZero?: boolean;
}

/**
 * Parses a non-negative decimal string into an integer count of 10^-digits units
 * ("12.34" with 2 digits → 1234n). More decimals than `digits` is an error, never a
 * rounding: money typed by a person is taken exactly or refused.
 */
export function parseDecimal(text: string, digits: number, options: ParseOptions = {}): bigint {
  if (text.length > 40 || !DECIMAL.test(text)) {
    throw new AmountFormatError('FORMAT', 'must be a decimal string such as "12.34"');
  }
  const fraction = text.split('.')[1] ?? '';
  if (fraction.replace(/0+$/, '').length > digits) {
    throw new AmountFormatError('TOO_MANY_DECIMALS', digits === 0 ? 'must be a whole number in this currency' : `allows at most ${digits} decimal places`);
  }
  const scaled = BigInt(new Big(text).times(new Big(10).pow(digits)).toFixed(0));
  if (scaled === 0n && options.allowZero !== true) {
    throw new AmountFormatError('OUT_OF_RANGE', 'must be greater than zero');
  }
  if (options.max !== undefined && scaled > options.max) {
    throw new AmountFormatError('OUT_OF_RANGE', `must be at most ${formatMinor(options.max, digits)}`);
  }
  return scaled;
}

/** Formats integer minor units as a decimal string with exactly `digits` decimals. */
export function formatMinor(minor: bigint, digits: number): string {
  const negative = minor < 0n;
  const abs = (negative ? -minor : minor).toString().padStart(digits + 1, '0');
  const whole = abs.slice(0, abs.length - digits);
  const fraction = digits > 0 ? `.${abs.slice(abs.length - digits)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
