import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type Api, type Expense, type ExpenseInput, type FieldError, type WriteResult } from './api.js';
import { AmountTextError, amountForInput, currencyDigits, decimalOf, formatMoney, minorOf, parseAmountText } from './format.js';
import { fieldSentences, sentenceFor } from './sentences.js';
import { newId, useSubmission } from './submission.js';

type SplitMode = 'equal' | 'exact' | 'percent' | 'shares';
type Preview = Awaited<ReturnType<Api['preview']>>['expense'];

interface Member {
  userId: string;
  name: string;
}

interface Props {
  api: Api;
  groupId: string;
  currency: string;
  members: Member[];
  me: string;
  /** The expense being edited; absent for a new one. */
  editing: Expense | null;
  onSaved: (result: WriteResult) => void;
  onCancel: () => void;
}

interface FormState {
  /** A payment stays a payment when edited. */
  kind: 'expense' | 'payment';
  description: string;
  amount: string;
  severalPayers: boolean;
  paidBy: string;
  payerAmounts: Record<string, string>;
  mode: SplitMode;
  /** Who shares an equal split, as the person ticked or unticked them. */
  among: Record<string, boolean>;
  /**
   * Whether a member nobody ticked or unticked shares it. For a new expense everyone
   * does, including a member who joins while the form is open; an edit keeps exactly
   * the people the expense had.
   */
  amongByDefault: boolean;
  values: Record<string, string>;
  /** The day it happened, YYYY-MM-DD: a calendar day, the same for everyone. */
  date: string;
}

/** Today where the person is, as an <input type="date"> holds it. */
const today = (): string => {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
};

/**
 * An expense's day is a calendar day, not an instant: the page sends noon UTC of it, and
 * shows every expense's day in UTC (see history.ts), so Ann in Auckland and Bob in Los
 * Angeles read the same date. The day of a stored expense, so read.
 */
export const dayOf = (occurredAt: string): string => new Date(occurredAt).toISOString().slice(0, 10);

/**
 * The instant sent for the chosen day: noon UTC of it. A new expense always sends it (a
 * form left open overnight records the day it shows); an edit sends it only when the day
 * changed (it keeps the instant it had otherwise). Undefined for no valid day.
 */
function occurredAtOf(date: string, editing: Expense | null): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  if (editing && dayOf(editing.occurredAt) === date) return undefined;
  return `${date}T12:00:00.000Z`;
}

function initialState(me: string, editing: Expense | null): FormState {
  if (!editing) {
    return {
      kind: 'expense',
      description: '',
      amount: '',
      severalPayers: false,
      paidBy: me,
      payerAmounts: {},
      mode: 'equal',
      among: {},
      amongByDefault: true,
      values: {},
      date: today(),
    };
  }
  const split = editing.split;
  const values: Record<string, string> = {};
  // The people it was shared among: the resolved shares name them even where the split
  // said "all members" (members who joined since stay out of it).
  const among = Object.fromEntries(editing.shares.map((s) => [s.userId, true]));
  if (split.mode !== 'equal') {
    for (const s of split.shares) values[s.userId] = 'amount' in s ? amountForInput(s.amount) : 'percent' in s ? amountForInput(s.percent) : String(s.weight);
  }
  return {
    kind: editing.kind,
    description: editing.description,
    amount: amountForInput(editing.amount),
    severalPayers: editing.payers.length > 1,
    paidBy: editing.payers[0]?.userId ?? me,
    payerAmounts: Object.fromEntries(editing.payers.map((p) => [p.userId, amountForInput(p.amount)])),
    mode: split.mode,
    among,
    amongByDefault: false,
    values,
    date: dayOf(editing.occurredAt),
  };
}

const shares = (s: FormState, userId: string): boolean => s.among[userId] ?? s.amongByDefault;

/**
 * The request body, which member each array index names (to place errors), and the
 * fields whose text is no amount at all (said next to them; the body is not sent). Amounts
 * are typed in the person's own format and sent in the API's canonical one.
 */
function toInput(
  s: FormState,
  members: Member[],
  currency: string,
  editing: Expense | null,
): { input: ExpenseInput; payerIds: string[]; shareIds: string[]; unreadable: Record<string, string> } {
  const unreadable: Record<string, string> = {};
  const decimal = (text: string, field: string, percent = false): string => {
    try {
      return percent ? parseAmountText(text.replace(/%\s*$/, '')) : parseAmountText(text, undefined, currency);
    } catch (error) {
      if (!(error instanceof AmountTextError)) throw error;
      unreadable[field] = error.message;
      return text.trim();
    }
  };
  const filled = (record: Record<string, string>) => members.filter((m) => (record[m.userId] ?? '').trim() !== '').map((m) => m.userId);
  const payerIds = s.severalPayers ? filled(s.payerAmounts) : [s.paidBy];
  const payers = s.severalPayers
    ? { payers: payerIds.map((u) => ({ userId: u, amount: decimal(s.payerAmounts[u] ?? '', `payer:${u}`) })) }
    : { paidBy: s.paidBy };
  let shareIds: string[];
  let split: ExpenseInput['split'];
  switch (s.mode) {
    case 'equal':
      shareIds = members.filter((m) => shares(s, m.userId)).map((m) => m.userId);
      split = { mode: 'equal', among: shareIds };
      break;
    case 'exact':
      shareIds = filled(s.values);
      split = { mode: 'exact', shares: shareIds.map((u) => ({ userId: u, amount: decimal(s.values[u] ?? '', `share:${u}`) })) };
      break;
    case 'percent':
      shareIds = filled(s.values);
      split = { mode: 'percent', shares: shareIds.map((u) => ({ userId: u, percent: decimal(s.values[u] ?? '', `share:${u}`, true) })) };
      break;
    case 'shares':
      shareIds = filled(s.values);
      split = { mode: 'shares', shares: shareIds.map((u) => ({ userId: u, weight: Number((s.values[u] ?? '').trim()) })) };
      break;
  }
  const input: ExpenseInput = {
    ...(s.kind === 'payment' ? { kind: 'payment' as const } : {}),
    description: s.description.trim(),
    amount: s.amount.trim() === '' ? '' : decimal(s.amount, 'amount'),
    ...payers,
    split,
  };
  const occurredAt = occurredAtOf(s.date, editing);
  if (occurredAt) input.occurredAt = occurredAt;
  else if (!editing || !/^\d{4}-\d{2}-\d{2}$/.test(s.date)) unreadable.occurredAt = 'Choose the day it happened.';
  return { input, payerIds, shareIds, unreadable };
}

/**
 * What is left to assign while amounts are typed: "€5.00 left to assign" or "€2.00 too
 * much" for exact amounts and for several payers, "10% left" for percentages; null
 * while it adds up, or before there is a total. Integer arithmetic on the canonical
 * strings: no float.
 */
function leftOver(s: FormState, built: ReturnType<typeof toInput>, currency: string): { payers: string | null; split: string | null } {
  const digits = currencyDigits(currency);
  const total = built.unreadable.amount || built.input.amount === '' ? undefined : minorOf(built.input.amount, digits);
  const say = (wanted: bigint | undefined, parts: string[], scale: number, unit: (minor: bigint) => string, left: string): string | null => {
    if (wanted === undefined || parts.length === 0) return null;
    let sum = 0n;
    for (const part of parts) {
      const minor = minorOf(part, scale);
      if (minor === undefined) return null;
      sum += minor;
    }
    if (sum === wanted) return null;
    return sum < wanted ? `${unit(wanted - sum)} ${left}` : `${unit(sum - wanted)} too much`;
  };
  const money = (minor: bigint) => formatMoney(decimalOf(minor, digits), currency);
  const payers =
    s.severalPayers && built.input.payers
      ? say(
          total,
          built.input.payers.map((p) => p.amount),
          digits,
          money,
          'left to pay',
        )
      : null;
  const split = built.input.split;
  const splitLeft =
    split.mode === 'exact'
      ? say(
          total,
          split.shares.map((x) => x.amount),
          digits,
          money,
          'left to assign',
        )
      : split.mode === 'percent'
        ? say(
            10_000n,
            split.shares.map((x) => x.percent),
            2,
            (bp) => `${decimalOf(bp, 2).replace(/\.?0+$/, '')}%`,
            'left to assign',
          )
        : null;
  return { payers, split: splitLeft };
}

/** Which field a server error belongs next to. */
function fieldOf(path: string, payerIds: string[], shareIds: string[]): string {
  const parts = path.split('/');
  if (parts[0] === 'payers' && parts[1] !== undefined) return `payer:${payerIds[Number(parts[1])] ?? ''}`;
  if (parts[0] === 'split' && parts[1] === 'shares' && parts[2] !== undefined) return `share:${shareIds[Number(parts[2])] ?? ''}`;
  if (parts[0] === 'split') return 'split';
  if (['description', 'amount', 'paidBy', 'payers', 'occurredAt'].includes(parts[0] ?? '')) return parts[0] as string;
  return 'form';
}

const byField = (errors: FieldError[], payerIds: string[], shareIds: string[]) => {
  const out: Record<string, string> = {};
  for (const [path, text] of fieldSentences(errors)) {
    const key = fieldOf(path, payerIds, shareIds);
    out[key] = out[key] ? `${out[key]} ${text}` : text;
  }
  return out;
};

const MODE_LABELS: Record<SplitMode, string> = { equal: 'Equally', exact: 'Exact amounts', percent: 'Percentages', shares: 'Shares' };

/**
 * Add or edit an expense. While the user types, the server resolves the expense
 * (POST …/expenses/preview) and the form shows who owes what after rounding, or the
 * server's own error next to the field. Nothing here computes a share or a balance.
 * The parent keys it by the expense being edited, so a new edit starts from a fresh
 * form filled in its first render (never a frame with the old values).
 */
export function ExpenseForm({ api, groupId, currency, members, me, editing, onSaved, onCancel }: Props) {
  const [state, setState] = useState<FormState>(() => initialState(me, editing));
  // A new expense gets its id once, so saving it twice (a double click, a retry after a
  // lost response) records it once.
  const [expenseId, setExpenseId] = useState(newId);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const saving = useSubmission();
  /** The body that "Add anyway" confirmed, for an expense that moves no balance. */
  const [confirmedNoEffect, setConfirmedNoEffect] = useState<string | null>(null);
  const names = useMemo(() => new Map(members.map((m) => [m.userId, m.name])), [members]);
  const built = toInput(state, members, currency, editing);
  const key = JSON.stringify(built.input);
  const noEffect = movesNoBalance(built.payerIds, built.shareIds, preview);

  const unreadable = Object.keys(built.unreadable).length > 0;
  const left = leftOver(state, built, currency);
  useEffect(() => {
    if (!built.input.description || !built.input.amount || unreadable) {
      setPreview(null);
      setErrors(built.unreadable);
      return undefined;
    }
    let current = true;
    const timer = setTimeout(() => {
      api.preview(groupId, built.input).then(
        (result) => {
          if (!current) return;
          setPreview(result.expense);
          setErrors({});
        },
        (error: unknown) => {
          if (!current) return;
          setPreview(null);
          setErrors(problemFields(error, built.payerIds, built.shareIds));
        },
      );
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [key]);

  // An edit opens with the form in view and the cursor in its first field (the form is
  // made afresh for each edit, so this runs once it is on the page).
  useEffect(() => {
    if (!editing) return;
    const first = document.getElementById('exp-description');
    first?.scrollIntoView({ block: 'center' });
    first?.focus({ preventScroll: true });
  }, []);

  const update = (patch: Partial<FormState>) => setState((s) => ({ ...s, ...patch }));
  const submit = async (event: Event) => {
    event.preventDefault();
    if (unreadable) {
      setErrors(built.unreadable);
      return;
    }
    if (noEffect && confirmedNoEffect !== key) {
      setConfirmedNoEffect(key);
      return;
    }
    const body = editing ? built.input : { ...built.input, expenseId };
    try {
      const result = await saving.submit(body, (idempotencyKey) =>
        editing ? api.editExpense(groupId, editing.expenseId, body, idempotencyKey) : api.addExpense(groupId, body, idempotencyKey),
      );
      if (!result) return; // this submission was already in flight
      setState(initialState(me, null));
      setExpenseId(newId());
      setPreview(null);
      setErrors({});
      setConfirmedNoEffect(null);
      onSaved(result);
    } catch (error) {
      setErrors(problemFields(error, built.payerIds, built.shareIds));
    }
  };

  const error = (field: string) => (errors[field] ? html`<span class="field-error" id=${`err-${field}`} role="alert">${errors[field]}</span>` : null);
  const described = (field: string) => (errors[field] ? `err-${field}` : undefined);
  const perMember = (kind: 'payer' | 'share', value: (u: string) => string, set: (u: string, v: string) => void, label: string, inputMode: string) =>
    html`<div class="per-member">
      ${members.map(
        (m) => html`<div class="row" key=${m.userId}>
          <label for=${`${kind}-${m.userId}`}>${m.name} <span class="sr-only">${label}</span></label>
          <input id=${`${kind}-${m.userId}`} inputmode=${inputMode} autocomplete="off" value=${value(m.userId)}
            aria-invalid=${errors[`${kind}:${m.userId}`] ? 'true' : undefined} aria-describedby=${described(`${kind}:${m.userId}`)}
            onInput=${(e: Event) => set(m.userId, (e.target as HTMLInputElement).value)} />
          ${error(`${kind}:${m.userId}`)}
        </div>`,
      )}
    </div>`;

  return html`<form class="expense-form" onSubmit=${submit} aria-labelledby="expense-form-h" novalidate>
    <h2 id="expense-form-h">${editing ? `Edit “${editing.description}”` : 'Add an expense'}</h2>
    <div class="row">
      <label for="exp-description">Description</label>
      <input id="exp-description" value=${state.description} maxlength="200" required aria-invalid=${errors.description ? 'true' : undefined}
        aria-describedby=${described('description')} onInput=${(e: Event) => update({ description: (e.target as HTMLInputElement).value })} />
      ${error('description')}
    </div>
    <div class="row">
      <label for="exp-date">Date</label>
      <input id="exp-date" type="date" min="1900-01-01" max="9999-12-31" value=${state.date} required aria-invalid=${errors.occurredAt ? 'true' : undefined}
        aria-describedby=${described('occurredAt')} onInput=${(e: Event) => update({ date: (e.target as HTMLInputElement).value })} />
      ${error('occurredAt')}
    </div>
    <div class="row">
      <label for="exp-amount">Amount (${currency})</label>
      <input id="exp-amount" inputmode="decimal" autocomplete="off" value=${state.amount} required aria-invalid=${errors.amount ? 'true' : undefined}
        aria-describedby=${described('amount')} onInput=${(e: Event) => update({ amount: (e.target as HTMLInputElement).value })} />
      ${error('amount')}
    </div>
    <fieldset>
      <legend>Paid by</legend>
      <label class="inline"><input type="checkbox" id="exp-several" checked=${state.severalPayers}
        onChange=${(e: Event) => update({ severalPayers: (e.target as HTMLInputElement).checked })} /> Several people paid</label>
      ${
        state.severalPayers
          ? perMember(
              'payer',
              (u) => state.payerAmounts[u] ?? '',
              (u, v) => update({ payerAmounts: { ...state.payerAmounts, [u]: v } }),
              'paid',
              'decimal',
            )
          : html`<div class="row"><label for="exp-paid-by" class="sr-only">Who paid</label>
            <select id="exp-paid-by" value=${state.paidBy} onChange=${(e: Event) => update({ paidBy: (e.target as HTMLSelectElement).value })}>
              ${members.map((m) => html`<option value=${m.userId}>${m.name}</option>`)}
            </select></div>`
      }
      ${left.payers ? html`<p class="left-over" data-testid="left-to-pay" aria-live="polite">${left.payers}</p>` : null}
      ${error('paidBy')} ${error('payers')}
    </fieldset>
    <fieldset>
      <legend>Split</legend>
      <div class="row">
        <label for="exp-mode">How</label>
        <select id="exp-mode" value=${state.mode} onChange=${(e: Event) => update({ mode: (e.target as HTMLSelectElement).value as SplitMode, values: {} })}>
          ${(Object.keys(MODE_LABELS) as SplitMode[]).map((m) => html`<option value=${m}>${MODE_LABELS[m]}</option>`)}
        </select>
      </div>
      ${
        state.mode === 'equal'
          ? html`<div class="per-member">${members.map(
              (m) => html`<label class="inline" key=${m.userId}><input type="checkbox" id=${`among-${m.userId}`} checked=${shares(state, m.userId)}
              onChange=${(e: Event) => update({ among: { ...state.among, [m.userId]: (e.target as HTMLInputElement).checked } })} /> ${m.name}</label>`,
            )}</div>`
          : perMember(
              'share',
              (u) => state.values[u] ?? '',
              (u, v) => update({ values: { ...state.values, [u]: v } }),
              state.mode === 'exact' ? 'owes' : state.mode === 'percent' ? 'percent' : 'shares',
              state.mode === 'shares' ? 'numeric' : 'decimal',
            )
      }
      ${left.split ? html`<p class="left-over" data-testid="left-to-assign" aria-live="polite">${left.split}</p>` : null}
      ${error('split')}
    </fieldset>
    ${error('form')}
    ${
      noEffect
        ? html`<p class="warning" role="alert" data-testid="no-effect">
          ${
            noEffect.length === 1
              ? `${names.get(noEffect[0] ?? '') ?? noEffect[0]} paid and is the only one sharing it`
              : `Everyone who shares it paid exactly their share`
          }, so this moves no balance.
          ${confirmedNoEffect === key ? ' Press the button again to save it anyway.' : ''}
        </p>`
        : null
    }
    <div class="preview" aria-live="polite" data-testid="preview">
      ${
        preview
          ? html`<p><strong>Resolved:</strong> ${preview.payers.map((p) => `${names.get(p.userId) ?? p.userId} pays ${formatMoney(p.amount, currency)}`).join(', ')};
            ${' '}${preview.shares.map((s) => `${names.get(s.userId) ?? s.userId} owes ${formatMoney(s.amount, currency)}`).join(', ')}</p>`
          : null
      }
    </div>
    <div class="actions">
      <button type="submit" disabled=${saving.busy} aria-busy=${saving.busy ? 'true' : undefined}>
        ${confirmedNoEffect === key && noEffect ? (editing ? 'Save anyway' : 'Add anyway') : editing ? 'Save changes' : 'Add expense'}
      </button>
      ${editing ? html`<button type="button" class="secondary" onClick=${onCancel}>Cancel edit</button>` : null}
    </div>
  </form>`;
}

/**
 * Who paid, when the expense moves no balance at all (everyone who paid owes exactly
 * what they paid, and nobody else shares it); otherwise null. Known from the form alone
 * for the common case (one payer who is the only one sharing), from the server's
 * resolved preview otherwise (its amounts are canonical decimal strings).
 */
function movesNoBalance(payerIds: string[], shareIds: string[], preview: Preview | null): string[] | null {
  if (payerIds.length === 1 && shareIds.length === 1 && payerIds[0] === shareIds[0]) return payerIds;
  if (!preview || preview.payers.length !== preview.shares.length) return null;
  const owed = new Map(preview.shares.map((s) => [s.userId, s.amount]));
  return preview.payers.every((p) => owed.get(p.userId) === p.amount) ? preview.payers.map((p) => p.userId) : null;
}

function problemFields(error: unknown, payerIds: string[], shareIds: string[]): Record<string, string> {
  if (error instanceof ApiError) {
    const { errors } = error.problem;
    return errors && errors.length > 0 ? byField(errors, payerIds, shareIds) : { form: sentenceFor(error.problem) };
  }
  return { form: 'Something went wrong; try again.' };
}
