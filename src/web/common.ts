// What several screens of the page share: the sentence an error shows, and an amount as "owes" / "is owed".
import { html } from 'htm/preact';
import { ApiError } from './api.js';
import { absolute, formatMoney, signOf } from './format.js';

export const message = (error: unknown) => (error instanceof ApiError ? error.problem.detail : 'Something went wrong; try again.');

export function Amount({ amount, currency }: { amount: string; currency: string }) {
  const sign = signOf(amount);
  const label = sign > 0 ? 'is owed' : sign < 0 ? 'owes' : 'settled up';
  return html`<span class=${`amount ${sign > 0 ? 'owed' : sign < 0 ? 'owing' : 'even'}`} data-balance=${amount}>
    <span class="label">${label}</span> ${sign === 0 ? null : formatMoney(absolute(amount), currency)}
  </span>`;
}
