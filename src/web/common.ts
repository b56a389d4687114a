// What several screens of the page share: the sentence an error shows, and an amount as "owes" / "is owed".
import { html } from 'htm/preact';
import { ApiError } from './api.js';
import { fieldSentences, sentenceFor } from './sentences.js';
import { absolute, formatMoney, signOf } from './format.js';

/** What the page says about a failed request: a sentence for people (see sentences.ts), never a validator's text. */
export function message(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Something went wrong; try again.';
  const { errors } = error.problem;
  return errors && errors.length > 0 ? [...fieldSentences(errors).values()].join(' ') : sentenceFor(error.problem);
}

export function Amount({ amount, currency }: { amount: string; currency: string }) {
  const sign = signOf(amount);
  const label = sign > 0 ? 'is owed' : sign < 0 ? 'owes' : 'settled up';
  return html`<span class=${`amount ${sign > 0 ? 'owed' : sign < 0 ? 'owing' : 'even'}`} data-balance=${amount}>
    <span class="label">${label}</span> ${sign === 0 ? null : formatMoney(absolute(amount), currency)}
  </span>`;
}

/** Saves text as a file the person downloads (a sign-in key, a CSV export). */
export function download(name: string, text: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
