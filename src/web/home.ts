// The home screen: your groups with your balance in each, your totals per currency, and
// a new group. It follows the home stream, so a group you are added to appears (and one
// you leave disappears) and the balances change without a reload.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { Api, Me } from './api.js';
import { useSubmission } from './submission.js';
import { Amount, message } from './common.js';
import { absolute, formatMoney, signOf } from './format.js';
import { followMe, STATUS_TEXT, type LiveStatus } from './live.js';

/** "You are owed €12.50 in total · you owe $3.00 in total", one part per currency. */
export function totalsText(totals: Me['totals']): string {
  const parts = totals.map(({ currency, balance }) => {
    const sign = signOf(balance);
    const amount = formatMoney(absolute(balance), currency);
    return sign > 0 ? `you are owed ${amount} in total` : sign < 0 ? `you owe ${amount} in total` : `you are settled up in ${currency}`;
  });
  const text = parts.join(' · ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function Home({ api, token, me, onMe, onChanged }: { api: Api; token: string; me: Me; onMe: (me: Me) => void; onChanged: () => void }) {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => followMe(token, onMe, setStatus, () => api.signedOut()), [token]);
  const [name, setName] = useState('');
  const [currency, setCurrency] = useState('EUR');
  const [error, setError] = useState<string | null>(null);
  const creating = useSubmission();
  const create = async (event: Event) => {
    event.preventDefault();
    const body = { name: name.trim(), currency: currency.trim().toUpperCase() };
    try {
      const group = await creating.submit(body, (key) => api.createGroup(body, key));
      if (!group) return;
      setName('');
      onChanged();
      window.location.hash = `#/groups/${encodeURIComponent(group.groupId)}`;
    } catch (e) {
      setError(message(e));
    }
  };
  return html`<section aria-labelledby="groups-h">
      <h1 id="groups-h">Your groups</h1>
      <p class="meta">
        <span class=${`live ${status}`} data-testid="live-status" role="status">${STATUS_TEXT[status]}</span>
      </p>
      ${me.totals.length > 0 ? html`<p class="totals" data-testid="totals">${totalsText(me.totals)}</p>` : null}
      ${
        me.groups.length === 0
          ? html`<p>No groups yet. Create one below, or give a friend your user id so they can add you.</p>`
          : html`<ul class="groups">${me.groups.map(
              (g) => html`<li key=${g.groupId} data-group-id=${g.groupId} class=${g.archived ? 'archived' : ''}>
              <span><a href=${`#/groups/${encodeURIComponent(g.groupId)}`}>${g.name}</a>${g.archived ? html` <span class="tag">archived</span>` : null}</span>
              <${Amount} amount=${g.balance} currency=${g.currency} /></li>`,
            )}</ul>`
      }
    </section>
    <form onSubmit=${create} aria-labelledby="new-group-h">
      <h2 id="new-group-h">New group</h2>
      <div class="row">
        <label for="group-name">Name</label>
        <input id="group-name" value=${name} maxlength="100" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
      </div>
      <div class="row">
        <label for="group-currency">Currency (ISO code)</label>
        <input id="group-currency" value=${currency} maxlength="3" list="currencies" autocomplete="off"
          onInput=${(e: Event) => setCurrency((e.target as HTMLInputElement).value)} />
        <datalist id="currencies">${['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK', 'KWD'].map((c) => html`<option value=${c} />`)}</datalist>
      </div>
      ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${creating.busy}>Create group</button>
    </form>`;
}
