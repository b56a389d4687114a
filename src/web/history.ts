// A group's whole history: its expenses (searched by description, filtered by member,
// a page at a time as you scroll) and its activity (the event log in words, newest
// first). Who deleted an expense comes from the log too: the list's row of a deleted
// expense carries the version of its ExpenseDeleted event, whose metadata names the actor.
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Api, Expense, LogEvent } from './api.js';
import { message } from './common.js';
import { formatMoney, fromMinor } from './format.js';

const PAGE = 50;
/** Events read per step of the activity view. */
const WINDOW = 100;

type Person = { userId: string; name: string };

interface Listing {
  /** The search and filter the items belong to. */
  key: string;
  items: Expense[];
  nextCursor: string | null;
  /** The group version the list was read at (or after). */
  version: number;
}

interface HistoryProps {
  api: Api;
  groupId: string;
  /** The group's version: the list and the activity are read again when it moves on. */
  version: number;
  currency: string;
  nameOf: (userId: string) => string;
  /** Everyone the member filter offers: members, then former members. */
  people: Person[];
  /** An archived group: nothing can be edited or deleted. */
  readOnly: boolean;
  /** Whether an expense names someone who is no longer a member (then it cannot be changed). */
  namesFormer: (e: Expense) => boolean;
  busy: boolean;
  onEdit: (e: Expense) => void;
  onDelete: (e: Expense) => Promise<boolean>;
}

export function History(props: HistoryProps) {
  const { api, groupId, version, currency, nameOf } = props;
  const [tab, setTab] = useState<'expenses' | 'activity'>('expenses');
  return html`<section aria-labelledby="expenses-h" class="history">
    <div class="history-head">
      <h2 id="expenses-h">${tab === 'expenses' ? 'Expenses' : 'Activity'}</h2>
      <div class="tabs" role="tablist" aria-label="History">
        <button type="button" role="tab" id="tab-expenses" aria-selected=${tab === 'expenses' ? 'true' : 'false'} aria-controls="panel-history"
          onClick=${() => setTab('expenses')}>Expenses</button>
        <button type="button" role="tab" id="tab-activity" aria-selected=${tab === 'activity' ? 'true' : 'false'} aria-controls="panel-history"
          onClick=${() => setTab('activity')}>Activity</button>
      </div>
    </div>
    <div id="panel-history" role="tabpanel" aria-labelledby=${`tab-${tab}`}>
      ${
        tab === 'expenses'
          ? html`<${ExpenseList} ...${props} />`
          : html`<${Activity} api=${api} groupId=${groupId} version=${version} currency=${currency} nameOf=${nameOf} />`
      }
    </div>
  </section>`;
}

/**
 * Reads the list from the start until it holds `count` items and, when `through` is
 * given (the last expense shown before), that one too: expenses added meanwhile must not
 * push loaded ones off the end. At most a few pages beyond `count`.
 */
async function readUpTo(api: Api, groupId: string, filters: { q: string; member: string }, count: number, through?: string) {
  const items: Expense[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await api.expenses(groupId, { ...filters, ...(cursor ? { cursor } : {}), limit: Math.min(200, Math.max(PAGE, count - items.length)) });
    items.push(...page.items);
    const enough = items.length >= count && (through === undefined || items.some((e) => e.expenseId === through) || items.length >= count + 200);
    if (!page.nextCursor || enough) return { items, nextCursor: page.nextCursor };
    cursor = page.nextCursor;
  }
}

function ExpenseList({ api, groupId, version, currency, nameOf, people, readOnly, namesFormer, busy, onEdit, onDelete }: HistoryProps) {
  const [typed, setTyped] = useState('');
  const [q, setQ] = useState('');
  const [member, setMember] = useState('');
  const [listing, setListing] = useState<Listing | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  /** Who deleted what, by the version of the ExpenseDeleted event (events never change, so this is kept). */
  const [deleters, setDeleters] = useState<Map<number, string>>(new Map());
  const asked = useRef(new Set<number>());
  const latest = useRef<Listing | null>(null);
  latest.current = listing;
  /** Bumped by every read from the start: an older answer is dropped. */
  const generation = useRef(0);
  const sentinel = useRef<HTMLLIElement>(null);
  const key = JSON.stringify([q, member]);

  // Typing searches after a short pause, not on every key.
  useEffect(() => {
    const timer = setTimeout(() => setQ(typed.trim()), 250);
    return () => clearTimeout(timer);
  }, [typed]);

  // A new search starts from the first page; a change in the group reads again as many
  // items as are shown, so a live update keeps the pages loaded and the filters.
  useEffect(() => {
    const shown = latest.current;
    const same = shown && shown.key === key ? shown : null;
    const count = same ? Math.max(PAGE, same.items.length) : PAGE;
    const mine = ++generation.current;
    // Beyond the first page, the last one shown stays loaded (new expenses push nothing off).
    const through = same && same.items.length > PAGE ? same.items.at(-1)?.expenseId : undefined;
    readUpTo(api, groupId, { q, member }, count, through).then(
      (read) => {
        if (mine !== generation.current) return;
        setError(null);
        setListing({ key, ...read, version });
      },
      (e: unknown) => mine === generation.current && setError(message(e)),
    );
  }, [key, version]);

  const loadMore = async () => {
    const from = latest.current;
    if (!from?.nextCursor || loadingMore) return;
    const mine = generation.current;
    setLoadingMore(true);
    try {
      const page = await api.expenses(groupId, { q, member, cursor: from.nextCursor, limit: PAGE });
      if (mine !== generation.current) return;
      const seen = new Set(from.items.map((e) => e.expenseId));
      setListing({ ...from, items: [...from.items, ...page.items.filter((e) => !seen.has(e.expenseId))], nextCursor: page.nextCursor });
    } catch (e) {
      setError(message(e));
    } finally {
      setLoadingMore(false);
    }
  };
  const loadMoreRef = useRef(loadMore);
  loadMoreRef.current = loadMore;

  // Loading as you scroll: the end of the list coming into view loads the next page
  // (a new observer after each page reports at once if the end is still in view). The
  // button does the same where there is no IntersectionObserver, or for a keyboard.
  useEffect(() => {
    const end = sentinel.current;
    if (!end || !listing?.nextCursor || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMoreRef.current();
    });
    observer.observe(end);
    return () => observer.disconnect();
  }, [listing]);

  // Who deleted each deleted expense shown: the actor of the event at its version.
  useEffect(() => {
    for (const e of listing?.items ?? []) {
      if (!e.deleted || asked.current.has(e.version)) continue;
      asked.current.add(e.version);
      api.events(groupId, e.version - 1, 1).then(
        ({ items: [event] }) => {
          if (event?.type === 'ExpenseDeleted' && event.data.expenseId === e.expenseId && event.metadata.actorUserId) {
            const actor = event.metadata.actorUserId;
            setDeleters((cur) => new Map(cur).set(e.version, actor));
          }
        },
        () => asked.current.delete(e.version),
      );
    }
  }, [listing]);

  const filtered = q !== '' || member !== '';
  const items = listing?.key === key ? listing.items : null;
  return html`<div class="expense-history">
    <div class="history-filters" role="search">
      <label for="history-q">Search</label>
      <input id="history-q" type="search" placeholder="Description contains…" maxlength="200" autocomplete="off" value=${typed}
        onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)} />
      <label for="history-member">Paid or shared by</label>
      <select id="history-member" value=${member} onChange=${(e: Event) => setMember((e.target as HTMLSelectElement).value)}>
        <option value="">Everyone</option>
        ${people.map((p) => html`<option key=${p.userId} value=${p.userId}>${nameOf(p.userId)}</option>`)}
      </select>
    </div>
    ${error ? html`<p class="notice" role="alert">${error}</p>` : null}
    ${
      items === null
        ? html`<p class="loading">Loading…</p>`
        : items.length === 0
          ? html`<p data-testid="no-expenses">${filtered ? 'No expenses match.' : 'No expenses yet.'}</p>`
          : null
    }
    <ol class="expenses" data-testid="expenses" data-version=${listing?.version ?? 0} data-count=${items?.length ?? 0} aria-live="polite">
      ${(items ?? []).map(
        (e) => html`<li key=${e.expenseId} class=${e.deleted ? 'deleted' : ''} data-expense-id=${e.expenseId}>
          <div class="what">
            <span class="description">${e.deleted ? html`<s>${e.description}</s> <em>(deleted)</em>` : e.description}</span>
            <span class="total">${formatMoney(e.amount, currency)}</span>
          </div>
          <div class="how">
            ${
              e.kind === 'payment'
                ? `Payment: ${nameOf(e.payers[0]?.userId ?? '')} paid ${nameOf(e.shares[0]?.userId ?? '')}`
                : `Paid by ${e.payers.map((p) => (e.payers.length > 1 ? `${nameOf(p.userId)} ${formatMoney(p.amount, currency)}` : nameOf(p.userId))).join(', ')}
                 · split ${splitLabel(e)}: ${e.shares.map((s) => `${nameOf(s.userId)} ${formatMoney(s.amount, currency)}`).join(', ')}`
            }
            <time datetime=${e.occurredAt}> · ${new Date(e.occurredAt).toLocaleDateString(undefined, { timeZone: 'UTC' })}</time>
          </div>
          ${
            e.deleted && deleters.has(e.version)
              ? html`<p class="meta deleted-by" data-testid="deleted-by">Deleted by ${nameOf(deleters.get(e.version) ?? '')}</p>`
              : null
          }
          ${
            e.deleted || readOnly
              ? null
              : namesFormer(e)
                ? html`<p class="meta former-note">It involves someone who is no longer a member: add them back to change it.</p>`
                : html`<${ExpenseActions} key=${e.version} expense=${e} busy=${busy} onEdit=${onEdit} onDelete=${onDelete} />`
          }
        </li>`,
      )}
      ${items && listing?.nextCursor ? html`<li class="more" ref=${sentinel}><button type="button" class="secondary" disabled=${loadingMore} onClick=${loadMore}>${loadingMore ? 'Loading…' : 'Load more'}</button></li>` : null}
    </ol>
  </div>`;
}

/**
 * Edit and Delete for one expense, behind one button (a menu button, WAI-ARIA's pattern:
 * arrow keys, Home, End, Escape), so a row on a phone is not half buttons. Delete asks
 * once more, in the row.
 */
function ExpenseActions({
  expense: e,
  busy,
  onEdit,
  onDelete,
}: {
  expense: Expense;
  busy: boolean;
  onEdit: (e: Expense) => void;
  onDelete: (e: Expense) => Promise<boolean>;
}) {
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const menuId = `actions-${e.expenseId}`;
  const items = () => [...(box.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])];
  // Before paint, so a key pressed the moment the menu shows is not undone by this focus.
  useLayoutEffect(() => {
    if (!open) return;
    items()[0]?.focus();
    // A press or focus anywhere else closes the menu.
    const away = (event: Event) => {
      if (!box.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    document.addEventListener('focusin', away);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('focusin', away);
    };
  }, [open]);
  useEffect(() => {
    if (confirming) confirm.current?.focus();
  }, [confirming]);
  const onKeyDown = (event: KeyboardEvent) => {
    if (!open) return;
    const all = items();
    const at = all.indexOf(document.activeElement as HTMLElement);
    const go = (i: number) => {
      event.preventDefault();
      all[(i + all.length) % all.length]?.focus();
    };
    if (event.key === 'Escape') {
      event.preventDefault();
      setOpen(false);
      toggle.current?.focus();
    } else if (event.key === 'ArrowDown') go(at + 1);
    else if (event.key === 'ArrowUp') go(at - 1);
    else if (event.key === 'Home') go(0);
    else if (event.key === 'End') go(all.length - 1);
  };
  const choose = (then: () => void) => () => {
    setOpen(false);
    then();
  };
  return html`<div class="expense-menu" ref=${box} onKeyDown=${onKeyDown}>
      <button type="button" class="secondary menu-toggle" ref=${toggle} aria-haspopup="menu" aria-expanded=${open ? 'true' : 'false'}
        aria-controls=${open ? menuId : undefined} aria-label=${`Actions for ${e.description}`} onClick=${() => setOpen(!open)}>
        <span aria-hidden="true">⋯</span>
      </button>
      ${
        open
          ? html`<div class="menu" role="menu" id=${menuId} aria-label=${`Actions for ${e.description}`}>
              <button type="button" role="menuitem" tabindex="-1" onClick=${choose(() => onEdit(e))}>Edit<span class="sr-only"> ${e.description}</span></button>
              <button type="button" role="menuitem" tabindex="-1" class="delete" onClick=${choose(() => setConfirming(true))}>Delete…<span class="sr-only"> ${e.description}</span></button>
            </div>`
          : null
      }
    </div>
    ${
      confirming
        ? html`<div class="actions">
            <button type="button" class="danger" ref=${confirm} disabled=${busy} onClick=${async () => {
              if (await onDelete(e)) setConfirming(false);
            }}>Confirm delete<span class="sr-only"> ${e.description}</span></button>
            <button type="button" class="secondary" onClick=${() => {
              setConfirming(false);
              toggle.current?.focus();
            }}>Keep it</button>
          </div>`
        : null
    }`;
}

const splitLabel = (e: Expense) =>
  e.split.mode === 'equal' ? 'equally' : e.split.mode === 'exact' ? 'by amounts' : e.split.mode === 'percent' ? 'by percent' : 'by shares';

interface ActivityLine {
  version: number;
  text: string;
  at: string;
}

/** The loaded part of the log (in version order) in words, newest first. An edit (ExpenseDeleted + ExpenseAdded of one request) is one line. */
export function activityLines(
  events: LogEvent[],
  currency: string,
  nameOf: (userId: string) => string,
  /** Descriptions of expenses added before the loaded events (read one by one). */
  described: ReadonlyMap<string, string> = new Map(),
): ActivityLine[] {
  const byVersion = new Map(events.map((e) => [e.version, e]));
  const description = new Map(described);
  const logName = new Map<string, string>();
  for (const e of events) {
    if (e.data.expenseId && e.data.description !== undefined) description.set(e.data.expenseId, e.data.description);
    for (const m of e.data.members ?? []) logName.set(m.userId, m.name);
    if (e.data.userId && e.data.name !== undefined) logName.set(e.data.userId, e.data.name);
  }
  // A member the page no longer knows (a name-only place someone took) keeps the name the log gave them.
  const who = (userId: string | undefined) => {
    const shown = nameOf(userId ?? '');
    return shown === userId || shown === '' ? (logName.get(userId ?? '') ?? userId ?? 'Someone') : shown;
  };
  const money = (minor: number | undefined) => formatMoney(fromMinor(minor ?? 0, currency), currency);
  const oldest = events[0]?.version ?? 0;
  const lines: ActivityLine[] = [];
  for (const e of [...events].reverse()) {
    const actor = who(e.metadata.actorUserId);
    const d = e.data;
    let text: string | null = null;
    switch (e.type) {
      case 'GroupCreated':
        text = `${actor} created the group ${d.name ?? ''}`;
        break;
      case 'MemberAdded': {
        const inviter = d.invitedBy ?? (e.metadata.actorUserId !== d.userId ? e.metadata.actorUserId : undefined);
        text = d.nameOnly
          ? `${actor} added ${who(d.userId)} (without an account)`
          : `${who(d.userId)} joined${inviter && inviter !== d.userId ? ` (invited by ${who(inviter)})` : ''}`;
        break;
      }
      case 'MemberClaimed':
        text = `${who(d.userId)} took ${logName.get(d.nameOnlyId ?? '') ?? who(d.nameOnlyId)}'s place`;
        break;
      case 'ExpenseAdded': {
        const before = byVersion.get(e.version - 1);
        const edit = before?.type === 'ExpenseDeleted' && before.data.expenseId === d.expenseId && before.metadata.requestId === e.metadata.requestId;
        // The first event loaded may be the second half of an edit: it waits for the older window.
        if (!edit && e.version === oldest && oldest > 1) break;
        if (d.kind === 'payment') {
          const [payer, recipient] = [d.payers?.[0]?.userId, d.shares?.[0]?.userId];
          text = `${edit ? `${actor} edited a payment: ` : ''}${who(payer)} paid ${who(recipient)} ${money(d.amountMinor)}${
            !edit && e.metadata.actorUserId !== payer ? ` (recorded by ${actor})` : ''
          }`;
        } else text = `${actor} ${edit ? 'edited' : 'added'} ${d.description ?? ''} (${money(d.amountMinor)})`;
        break;
      }
      case 'ExpenseDeleted': {
        const after = byVersion.get(e.version + 1);
        if (after?.type === 'ExpenseAdded' && after.data.expenseId === d.expenseId && after.metadata.requestId === e.metadata.requestId) break;
        const what = description.get(d.expenseId ?? '');
        text = `${actor} deleted ${what ?? 'an expense'}`;
        break;
      }
      case 'GroupRenamed':
        text = `${actor} renamed the group to ${d.name ?? ''}`;
        break;
      case 'MemberRemoved':
        text = e.metadata.actorUserId === d.userId ? `${who(d.userId)} left` : `${actor} removed ${who(d.userId)}`;
        break;
      case 'GroupArchived':
        text = `${actor} archived the group`;
        break;
      case 'GroupUnarchived':
        text = `${actor} opened the group again`;
        break;
      default:
        text = `${actor}: ${e.type}`;
    }
    if (text !== null) lines.push({ version: e.version, text, at: e.recordedAt });
  }
  return lines;
}

function Activity({
  api,
  groupId,
  version,
  currency,
  nameOf,
}: {
  api: Api;
  groupId: string;
  version: number;
  currency: string;
  nameOf: (userId: string) => string;
}) {
  /** The loaded events, in version order, contiguous. */
  const [events, setEvents] = useState<LogEvent[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const held = useRef<LogEvent[]>([]);
  held.current = events;
  const [described, setDescribed] = useState<Map<string, string>>(new Map());
  const asked = useRef(new Set<string>());

  // A deletion of an expense added before the loaded events: its description, read once.
  useEffect(() => {
    const added = new Set(events.flatMap((e) => (e.type === 'ExpenseAdded' && e.data.expenseId ? [e.data.expenseId] : [])));
    for (const e of events) {
      const id = e.data.expenseId;
      if (e.type !== 'ExpenseDeleted' || !id || added.has(id) || asked.current.has(id)) continue;
      asked.current.add(id);
      api.expense(groupId, id).then(
        (found) => setDescribed((cur) => new Map(cur).set(id, found.description)),
        () => undefined, // the line keeps saying "an expense"
      );
    }
  }, [events]);

  // The newest events first; after that, whatever the group's new version adds.
  useEffect(() => {
    let current = true;
    const have = held.current;
    const newest = have.at(-1)?.version ?? Math.max(0, version - WINDOW);
    if (newest >= version) return;
    (async () => {
      const added: LogEvent[] = [];
      let after = newest;
      while (after < version) {
        const page = await api.events(groupId, after, Math.min(1000, version - after));
        if (page.items.length === 0) break;
        added.push(...page.items);
        after = page.nextAfter;
      }
      return added;
    })().then(
      (added) => {
        if (!current) return;
        setEvents((cur) => [...cur, ...added.filter((e) => e.version > (cur.at(-1)?.version ?? 0))]);
        setLoaded(true);
        setError(null);
      },
      (e: unknown) => current && setError(message(e)),
    );
    return () => {
      current = false;
    };
  }, [version]);

  const oldest = events[0]?.version ?? 1;
  const older = async () => {
    const after = Math.max(0, oldest - 1 - WINDOW);
    setBusy(true);
    try {
      const page = await api.events(groupId, after, oldest - 1 - after);
      setEvents((cur) => [...page.items.filter((e) => e.version < (cur[0]?.version ?? Infinity)), ...cur]);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  const lines = activityLines(events, currency, nameOf, described);
  return html`<div class="activity">
    ${error ? html`<p class="notice" role="alert">${error}</p>` : null}
    ${loaded ? null : html`<p class="loading">Loading…</p>`}
    <ol class="activity-list" data-testid="activity" data-version=${events.at(-1)?.version ?? 0}>
      ${lines.map(
        (l) => html`<li key=${l.version}><span class="what">${l.text}</span>
          <time datetime=${l.at}>${new Date(l.at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</time></li>`,
      )}
    </ol>
    ${loaded && oldest > 1 ? html`<button type="button" class="secondary" disabled=${busy} onClick=${older}>${busy ? 'Loading…' : 'Show older activity'}</button>` : null}
  </div>`;
}
