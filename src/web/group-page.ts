// One group: balances, settling up, the expense form and the expenses, live.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { type Api, type BalancesView, type Expense, type Group, type Me, type Transfer, type WriteResult } from './api.js';
import { History } from './history.js';
import { ExpenseForm } from './expense-form.js';
import { AmountTextError, amountForInput, currencyDigits, distinctNames, formatMoney, minorOf, parseAmountText } from './format.js';
import { followGroup, STATUS_TEXT, type LiveStatus } from './live.js';
import { newId, useSubmission } from './submission.js';
import { Amount, message } from './common.js';
import { ManageGroup, AddMember, AddByName } from './members.js';
import { CsvExchange } from './csv.js';

export function GroupPage({ api, token, me, groupId }: { api: Api; token: string; me: Me; groupId: string }) {
  const [view, setView] = useState<BalancesView | null>(null);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [group, setGroup] = useState<Group | null>(null);
  const [transfers, setTransfers] = useState<Transfer[]>([]);
  /** The group version the settlements were read at (they follow the balances a moment later). */
  const [settledAt, setSettledAt] = useState(0);
  const [editing, setEditing] = useState<Expense | null>(null);
  /** The suggested transfer whose payment form is open ("from>to"). */
  const [paying, setPaying] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const writes = useSubmission();

  // Balances only ever come from the server: a write's own response, or the live stream.
  // A view never replaces a newer one (a slow response must not undo a pushed update).
  const accept = useCallback((next: BalancesView) => setView((cur) => (!cur || next.version >= cur.version ? next : cur)), []);
  const acceptWrite = (result: WriteResult) =>
    accept({ groupId, currency: view?.currency ?? group?.currency ?? '', version: result.version, balances: result.balances });

  useEffect(() => followGroup(groupId, token, accept, setStatus, () => api.signedOut()), [groupId, token]);
  // The tab names the group, so several open groups can be told apart.
  useEffect(() => {
    if (!group) return undefined;
    document.title = `${group.name} · FairShare`;
    return () => {
      document.title = 'FairShare';
    };
  }, [group?.name]);

  // Everything else on the page is re-read whenever the balances move on.
  useEffect(() => {
    if (!view) return;
    let current = true;
    Promise.all([api.group(groupId), api.settlements(groupId)]).then(
      ([g, settle]) => {
        if (!current) return;
        setGroup(g);
        setTransfers(settle.transfers);
        setSettledAt(settle.version);
      },
      (error: unknown) => current && setNotice(message(error)),
    );
    return () => {
      current = false;
    };
  }, [view]);

  // A refusal shows at the top of the page: bring it into view (on a phone the button may be far below).
  useEffect(() => {
    if (notice) document.querySelector('[data-testid="notice"]')?.scrollIntoView({ block: 'center' });
  }, [notice]);

  /** Sends one write (see useSubmission); true when it went through. */
  const run = async (body: unknown, what: (idempotencyKey: string) => Promise<WriteResult | 'done'>): Promise<boolean> => {
    setNotice(null);
    try {
      const result = await writes.submit(body, what);
      if (!result) return false; // another write of this page is still in flight
      if (result !== 'done') acceptWrite(result);
      return true;
    } catch (error) {
      setNotice(message(error));
      return false;
    }
  };

  if (status === 'closed')
    return html`<p class="notice" role="alert">${
      view ? 'You are no longer a member of this group: you left it, or a member removed you.' : 'This group does not exist, or you are not one of its members.'
    } <a href="#/">Back to your groups</a></p>`;
  if (!view) return html`<p class="loading">Loading the group…</p>`;
  const currency = view.currency;
  // Everyone the page may name, told apart where two share a name ("Bob ·3f2a"). Former
  // members first: a current member's name wins if both have one.
  const names = distinctNames([
    ...new Map(
      [...(group?.formerMembers ?? []), ...(group?.members ?? []), ...view.balances].map((m) => [m.userId, { userId: m.userId, name: m.name }]),
    ).values(),
  ]);
  const nameOf = (u: string) => names.get(u) ?? u;
  const members = (group?.members ?? view.balances).map((m) => ({ userId: m.userId, name: nameOf(m.userId) }));
  const archived = group?.archived ?? false;
  const manage = (body: unknown, send: (key: string) => Promise<unknown>) =>
    run(body, async (key) => {
      await send(key);
      accept(await api.balances(groupId));
      return 'done' as const;
    });

  return html`<div class="group">
    <h1>${group?.name ?? 'Loading…'} <span class="currency">${currency}</span></h1>
    <p class="meta">
      <span data-testid="version" class="version">Version ${view.version}</span>
      <span class=${`live ${status}`} data-testid="live-status" role="status">${STATUS_TEXT[status]}</span>
      <a href="#/">All groups</a>
    </p>
    ${notice ? html`<p class="notice" role="alert" data-testid="notice">${notice}</p>` : null}
    ${
      archived
        ? html`<p class="archived-banner" role="status" data-testid="archived">This group is archived: everything stays readable, but nothing can be added or changed.
          <button type="button" class="secondary" disabled=${writes.busy} onClick=${() => manage({ archived: false }, (key) => api.updateGroup(groupId, { archived: false }, key))}>Open it again</button></p>`
        : null
    }
    <div class="columns">
      <div>
        <section aria-labelledby="balances-h">
          <h2 id="balances-h">Balances</h2>
          <ul class="balances" data-testid="balances" data-version=${view.version} aria-live="polite">
            ${view.balances.map(
              (b) => html`<li key=${b.userId} data-user-id=${b.userId}><span class="name">${nameOf(b.userId)}${b.userId === me.userId ? ' (you)' : ''}</span>
                <${Amount} amount=${b.balance} currency=${currency} /></li>`,
            )}
          </ul>
        </section>
        <section aria-labelledby="settle-h" data-testid="settle-up" data-version=${settledAt}>
          <h2 id="settle-h">Settle up</h2>
          ${
            transfers.length === 0
              ? html`<p>Everyone is settled up.</p>`
              : html`<ul class="settlements" data-testid="settlements">${transfers.map(
                  (t) => html`<li key=${`${t.from}>${t.to}`}><span>${nameOf(t.from)} pays ${nameOf(t.to)} ${formatMoney(t.amount, currency)}</span>
                  ${
                    archived
                      ? null
                      : html`<button type="button" aria-expanded=${paying === `${t.from}>${t.to}` ? 'true' : 'false'} onClick=${() => setPaying(`${t.from}>${t.to}`)}>
                    Record payment<span class="sr-only">: ${nameOf(t.from)} pays ${nameOf(t.to)} ${formatMoney(t.amount, currency)}</span>
                  </button>`
                  }
                  ${
                    paying === `${t.from}>${t.to}`
                      ? html`<${RecordPayment} api=${api} groupId=${groupId} transfer=${t} currency=${currency} nameOf=${nameOf}
                        onRecorded=${(result: WriteResult) => {
                          setPaying(null);
                          acceptWrite(result);
                        }}
                        onCancel=${() => setPaying(null)} />`
                      : null
                  }</li>`,
                )}</ul>`
          }
        </section>
      </div>
      <div>
        ${
          archived
            ? null
            : html`<${ExpenseForm} key=${editing?.expenseId ?? 'new'} api=${api} groupId=${groupId} currency=${currency} members=${members} me=${me.userId} editing=${editing}
          onSaved=${(result: WriteResult) => {
            setEditing(null);
            acceptWrite(result);
          }}
          onCancel=${() => setEditing(null)} />`
        }
      </div>
    </div>
    <${History} api=${api} groupId=${groupId} version=${view.version} currency=${currency} nameOf=${nameOf} busy=${writes.busy}
      people=${[...members, ...(group?.formerMembers ?? []).map((m) => ({ userId: m.userId, name: nameOf(m.userId) }))]}
      readOnly=${archived} namesFormer=${(e: Expense) => [...e.payers, ...e.shares].some((a) => !members.some((m) => m.userId === a.userId))}
      onEdit=${(e: Expense) => setEditing(e)}
      onDelete=${(e: Expense) => run({ delete: e.expenseId }, (key) => api.deleteExpense(groupId, e.expenseId, key))} />
    <${CsvExchange} api=${api} groupId=${groupId} currency=${currency} archived=${archived} nameOf=${nameOf} />
    ${
      group
        ? html`<${ManageGroup} api=${api} group=${group} nameOf=${nameOf} me=${me.userId} busy=${writes.busy} balances=${view.balances} currency=${currency}
          adding=${
            archived
              ? null
              : html`<${AddMember} api=${api} members=${members} busy=${writes.busy}
                  onAdd=${(userId: string) => manage({ addMember: userId }, (key) => api.addMember(groupId, userId, key))} />
                <${AddByName} busy=${writes.busy} onAdd=${(name: string) => manage({ addByName: name }, (key) => api.addByName(groupId, name, key))} />`
          }
          onRename=${(name: string) => manage({ name }, (key) => api.updateGroup(groupId, { name }, key))}
          onArchive=${() => manage({ archived: true }, (key) => api.updateGroup(groupId, { archived: true }, key))}
          onRemove=${(userId: string) => manage({ remove: userId }, (key) => api.removeMember(groupId, userId, key))}
          onLeave=${async () => {
            if (await run({ leave: me.userId }, async (key) => (await api.removeMember(groupId, me.userId, key), 'done' as const))) window.location.hash = '#/';
          }} />`
        : null
    }
  </div>`;
}

/**
 * A suggested transfer, recorded as a payment: the amount is prefilled with the
 * suggestion and can be changed (a partial or a custom payment), and nothing is recorded
 * until the person confirms. The payment's id is made when the form opens, so however
 * often it is sent, it is recorded once.
 */
function RecordPayment({
  api,
  groupId,
  transfer,
  currency,
  nameOf,
  onRecorded,
  onCancel,
}: {
  api: Api;
  groupId: string;
  transfer: Transfer;
  currency: string;
  nameOf: (userId: string) => string;
  onRecorded: (result: WriteResult) => void;
  onCancel: () => void;
}) {
  const [amount, setAmount] = useState(() => amountForInput(transfer.amount));
  const [expenseId] = useState(newId);
  const [error, setError] = useState<string | null>(null);
  /** An amount above the suggestion, once asked about: pressing again with it records it. */
  const [overConfirmed, setOverConfirmed] = useState<string | null>(null);
  const saving = useSubmission();
  const [from, to] = [nameOf(transfer.from), nameOf(transfer.to)];
  let over: string | null = null;
  try {
    const typed = parseAmountText(amount, undefined, currency);
    const digits = currencyDigits(currency);
    const [paid, owed] = [minorOf(typed, digits), minorOf(transfer.amount, digits)];
    if (paid !== undefined && owed !== undefined && paid > owed) over = typed;
  } catch {
    // not an amount yet: said when it is sent
  }
  const asking = over !== null && overConfirmed !== over;
  const submit = async (event: Event) => {
    event.preventDefault();
    let canonical: string;
    try {
      canonical = parseAmountText(amount, undefined, currency);
    } catch (e) {
      if (!(e instanceof AmountTextError)) throw e;
      setError(e.message);
      return;
    }
    // A payment above what settles the two is most often a typo (5000 for 500.00): ask once.
    if (asking) {
      setOverConfirmed(over);
      return;
    }
    const body = {
      expenseId,
      kind: 'payment' as const,
      description: `${from} paid ${to}`,
      amount: canonical,
      paidBy: transfer.from,
      split: { mode: 'equal' as const, among: [transfer.to] },
    };
    try {
      const result = await saving.submit(body, (key) => api.addExpense(groupId, body, key));
      if (result) onRecorded(result);
    } catch (e) {
      setError(message(e));
    }
  };
  return html`<form class="record-payment" onSubmit=${submit} aria-label=${`Record a payment from ${from} to ${to}`}>
    <label for="payment-amount">How much did ${from} pay ${to}? (${currency})</label>
    <div class="inline-form">
      <input id="payment-amount" inputmode="decimal" autocomplete="off" value=${amount} aria-invalid=${error ? 'true' : undefined}
        aria-describedby=${error ? 'payment-error' : undefined} onInput=${(e: Event) => setAmount((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${saving.busy}>${over !== null && overConfirmed === over ? 'Record anyway' : 'Confirm payment'}</button>
      <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
    </div>
    ${error ? html`<span class="field-error" id="payment-error" role="alert">${error}</span>` : null}
    ${
      over !== null && overConfirmed === over
        ? html`<p class="notice" role="alert" data-testid="overpayment">${`${formatMoney(over, currency)} is more than the ${formatMoney(transfer.amount, currency)} that settles ${from} with ${to}. If it is right, press Record anyway.`}</p>`
        : null
    }
  </form>`;
}
