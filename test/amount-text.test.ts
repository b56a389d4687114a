import t from 'tap';
import { AmountTextError, amountForInput, parseAmountText } from '../src/web/format.js';

// Amounts as people type them in their own locale (issue #14 §1), read into the API's
// canonical decimal string without any float. ICU (Intl) says what a locale's decimal
// mark and grouping are; Node ships full ICU, as browsers do.

t.test('each locale its own marks; currency symbols and codes, spaces and grouping are dropped', async (t) => {
  const cases: [string, string, string][] = [
    ['12,50', 'de-DE', '12.50'],
    ['1.234,56 €', 'de-DE', '1234.56'],
    ['€ 7,5', 'de-DE', '7.5'],
    ['EUR 7,5', 'de-DE', '7.5'],
    ['0,99', 'de-DE', '0.99'],
    ['1.234.567', 'de-DE', '1234567'],
    ['$1,234.5', 'en-US', '1234.5'],
    ['1,234,567.00', 'en-US', '1234567.00'],
    ['12.50', 'en-US', '12.50'],
    ['¥1,000', 'ja-JP', '1000'],
    ['1\u202f234,5', 'fr-FR', '1234.5'],
    ['1 234,5', 'fr-FR', '1234.5'],
    ["1'234.50", 'de-CH', '1234.50'],
    ['1’234.50', 'de-CH', '1234.50'],
    ['007', 'en-US', '7'],
  ];
  for (const [text, locale, canonical] of cases) t.equal(parseAmountText(text, locale), canonical, `${locale}: ${text}`);
});

t.test('the other mark: grouping when every group after it has three digits, the decimal mark otherwise', async (t) => {
  t.equal(parseAmountText('12.50', 'de-DE'), '12.50', 'an en-style decimal in de-DE');
  t.equal(parseAmountText('1.250', 'de-DE'), '1250', 'de-DE grouping');
  t.equal(parseAmountText('12,34', 'en-US'), '12.34', 'a de-style decimal in en-US');
  t.equal(parseAmountText('12,345', 'en-US'), '12345', 'en-US grouping');
});

t.test('found by review: no amount read as 1,000 times less or more, and no typo read as another amount', async (t) => {
  const cases: [string, string, string][] = [
    ['1.500', 'fr-FR', '1500'],
    ['10.000', 'sv', '10000'],
    ['1,000', 'de-CH', '1000'],
    ['0.500', 'de-DE', '0.500'],
    ['0,500', 'en-US', '0.500'],
    ['1,00,000', 'hi-IN', '100000'],
    ['₹1,23,456.50', 'hi-IN', '123456.50'],
    ['١٢٫٥', 'ar-EG', '12.5'],
    ['12.50', 'ar-EG', '12.50'],
    ['1,500', 'ar-EG', '1500'],
    ['12,', 'de-DE', '12'],
  ];
  for (const [text, locale, canonical] of cases) t.equal(parseAmountText(text, locale), canonical, `${locale}: ${text}`);
  for (const [text, locale] of [
    ['12 50', 'en-US'],
    ['1 5', 'fr-FR'],
    ['12’5', 'de-CH'],
    ['1,234.56', 'de-DE'],
    ['1.234,5.6', 'de-DE'],
  ] as [string, string][]) {
    let thrown: unknown;
    try {
      parseAmountText(text, locale);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof AmountTextError, `${locale}: ${JSON.stringify(text)} is refused (${String(thrown)})`);
  }
  t.equal(parseAmountText(amountForInput('12.5', 'ar-EG'), 'ar-EG'), '12.5', 'an amount shown for editing in Arabic reads back');
});

t.test('what is no amount is said plainly, and nothing is guessed', async (t) => {
  for (const [text, locale, why] of [
    ['', 'en-US', /Type an amount/],
    ['   ', 'de-DE', /Type an amount/],
    ['-5', 'en-US', /cannot be negative/],
    ['12..5', 'en-US', /is not an amount/],
    ['1.23.4', 'de-DE', /is not an amount/],
    ['12,5,0', 'de-DE', /is not an amount/],
    ['1e3', 'en-US', /is not an amount/],
    ['twelve', 'en-US', /is not an amount/],
  ] as [string, string, RegExp][]) {
    let thrown: unknown;
    try {
      parseAmountText(text, locale);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof AmountTextError && why.test(thrown.message), `${locale}: ${JSON.stringify(text)}: ${String(thrown)}`);
  }
});

t.test("the group's own currency may be written, another is refused", async (t) => {
  t.equal(parseAmountText('€12,50', 'de-DE', 'EUR'), '12.50');
  t.equal(parseAmountText('12,50 EUR', 'de-DE', 'EUR'), '12.50');
  t.equal(parseAmountText('3,50 $', 'de-DE', 'USD'), '3.50');
  t.equal(parseAmountText('$3.50', 'en-US', 'USD'), '3.50');
  t.equal(parseAmountText('¥1,000', 'en-US', 'JPY'), '1000');
  for (const [text, locale, currency] of [
    ['$5', 'en-US', 'EUR'],
    ['5 USD', 'de-DE', 'EUR'],
    ['£5', 'en-GB', 'EUR'],
  ] as [string, string, string][]) {
    let thrown: unknown;
    try {
      parseAmountText(text, locale, currency);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof AmountTextError && /Amounts in this group are in EUR/.test(thrown.message), `${text} in a ${currency} group: ${String(thrown)}`);
  }
});

t.test('a stored amount shown for editing in the locale', async (t) => {
  t.equal(amountForInput('1234.50', 'de-DE'), '1234,50');
  t.equal(amountForInput('1234.50', 'en-US'), '1234.50');
  t.equal(amountForInput('1000', 'ja-JP'), '1000');
  for (const locale of ['de-DE', 'en-US', 'fr-FR', 'de-CH']) {
    t.equal(parseAmountText(amountForInput('1234.56', locale), locale), '1234.56', `round trip in ${locale}`);
  }
});
