import { html, render } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  Api,
  ApiError,
  type BalancesView,
  type Expense,
  type Group,
  type InviteLink,
  type InviteView,
  type Me,
  type SignedIn,
  type Transfer,
  type WriteResult,
} from './api.js';
import { DevicesPage, SaveKey, SignInForms, SignOut, SIGNED_OUT_ELSEWHERE, browserDeviceName, revokeUnsavedKey } from './devices.js';
import { ExpenseForm } from './expense-form.js';
import { absolute, distinctNames, formatMoney, signOf } from './format.js';
import { followGroup, type LiveStatus } from './live.js';
import { newId, useSubmission } from './submission.js';

const TOKEN_KEY = 'fairshare.token';
const message = (error: unknown) => (error instanceof ApiError ? error.problem.detail : 'Something went wrong; try again.');

const parseRoute = (): { groupId: string | null; join: string | null; signIn: string | null; devices: boolean } => {
  const match = /^#\/groups\/([^/]+)$/.exec(window.location.hash);
  const join = /^#\/join\/([^/]+)$/.exec(window.location.hash);
  const signIn = /^#\/sign-in\/([^/]+)$/.exec(window.location.hash);
  return {
    groupId: match?.[1] ? decodeURIComponent(match[1]) : null,
    join: join?.[1] ? decodeURIComponent(join[1]) : null,
    signIn: signIn?.[1] ? decodeURIComponent(signIn[1]) : null,
    devices: window.location.hash === '#/devices',
  };
};

function App() {
  const [token, setToken] = useState<string | null>(() => localStorage.getItem(TOKEN_KEY));
  const [me, setMe] = useState<Me | null>(null);
  const [route, setRoute] = useState(parseRoute);
  const [problem, setProblem] = useState<string | null>(null);
  /** Just signed up: offer to save a sign-in key before anything else. */
  const [newAccount, setNewAccount] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  // Any request this device's token is refused on (401) means the device was revoked;
  // a late answer to a token this page has already let go of changes nothing. The page's
  // own token decides (another tab may have changed what this browser keeps).
  const held = useRef(token);
  held.current = token;
  const lost = (which: string | null) => () => {
    if (which && held.current === which) signOut(SIGNED_OUT_ELSEWHERE);
  };
  // Tabs of one browser share its device: signing in or out in one is followed in the others.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key !== TOKEN_KEY || event.newValue === held.current) return;
      if (event.newValue === null) signOut('You signed out in another tab.');
      else {
        setMe(null);
        setNewAccount(false);
        setToken(event.newValue);
      }
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);
  const api = new Api(token, lost(token));

  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // A key offered before a reload and never confirmed saved is revoked now (see SaveKey).
  useEffect(() => {
    if (token) revokeUnsavedKey(new Api(token));
  }, [token]);

  const refreshMe = useCallback(() => {
    if (!token) return;
    // A 401 signs this page out (the Api's onSignedOut above).
    new Api(token, lost(token)).me().then(setMe, (error: unknown) => {
      if (!(error instanceof ApiError && error.problem.status === 401)) setProblem(message(error));
    });
  }, [token]);
  useEffect(refreshMe, [token, route.groupId]);

  const signIn = (next: string, options: { newAccount?: boolean } = {}) => {
    localStorage.setItem(TOKEN_KEY, next);
    setProblem(null);
    setMe(null);
    setNewAccount(options.newAccount ?? false);
    setToken(next);
    if (route.signIn) window.location.hash = '#/';
  };
  /** Forgets this device's token here (the server has revoked it, or is told to by SignOut first). */
  const signOut = (why: string | null = null) => {
    localStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setMe(null);
    setSigningOut(false);
    setNewAccount(false);
    setProblem(why);
    window.location.hash = '#/';
  };

  // The join page stays up while a new account's details load, so its outcome is not lost.
  if (route.join) return html`<${JoinPage} invite=${route.join} token=${token} me=${me} onToken=${signIn} />`;
  if (!token) return html`<${SignIn} onToken=${signIn} problem=${problem} code=${route.signIn} />`;
  if (!me) return html`<main><p class="loading">${problem ?? 'Loading…'}</p></main>`;
  const page = signingOut
    ? html`<${SignOut} api=${api} me=${me} onSignedOut=${() => signOut('You are signed out on this device.')} onCancel=${() => setSigningOut(false)} />`
    : newAccount
      ? html`<${SaveKey} api=${api} me=${me} name="Sign-in key saved at sign-up"
          intro="You are signed in on this browser only. If you lose it (its data cleared, the phone lost), a saved sign-in key is the only way back into your account and its groups."
          onDone=${() => setNewAccount(false)} />`
      : route.signIn
        ? html`<p class="notice" role="status">This browser is already signed in as ${me.name}: the sign-in code was not used. <a href="#/">Go to your groups</a></p>`
        : route.devices
          ? html`<${DevicesPage} api=${api} me=${me} onSignOut=${() => setSigningOut(true)} />`
          : route.groupId
            ? html`<${GroupPage} key=${route.groupId} api=${api} token=${token} me=${me} groupId=${route.groupId} />`
            : html`<${Home} api=${api} me=${me} onChanged=${refreshMe} />`;
  return html`<header class="top">
      <a href="#/" class="brand">FairShare</a>
      <div class="who">
        <span>Signed in as <strong>${me.name}</strong></span>
        <span>Your user id: <code data-testid="my-user-id">${me.userId}</code></span>
        <button type="button" class="secondary" onClick=${() => void navigator.clipboard?.writeText(me.userId)}>Copy id</button>
        ${
          newAccount
            ? null
            : html`<a href="#/devices">Devices</a>
                <button type="button" class="secondary" onClick=${() => setSigningOut(true)}>Sign out</button>`
        }
      </div>
    </header>
    <main>${page}</main>`;
}

function SignIn({
  onToken,
  problem,
  code,
}: {
  onToken: (token: string, options?: { newAccount?: boolean }) => void;
  problem: string | null;
  code: string | null;
}) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const signUp = async (event: Event) => {
    event.preventDefault();
    try {
      onToken((await new Api(null).signUp(name.trim(), browserDeviceName())).token, { newAccount: true });
    } catch (e) {
      setError(message(e));
    }
  };
  const signUpForm = html`<form onSubmit=${signUp} aria-labelledby="signup-h">
      <h2 id="signup-h">New here?</h2>
      <div class="row">
        <label for="signup-name">Your name</label>
        <input id="signup-name" value=${name} maxlength="100" autocomplete="name" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
        ${error ? html`<span class="field-error" role="alert">${error}</span>` : null}
      </div>
      <button type="submit">Sign up</button>
    </form>`;
  const signInForms = html`<${SignInForms} code=${code} onSignedIn=${(s: SignedIn) => onToken(s.token)} />`;
  // Opened from a sign-in link: signing in comes first.
  return html`<main class="sign-in">
    <h1>FairShare</h1>
    <p>Share costs with friends and always see exactly who owes what.</p>
    ${problem ? html`<p class="notice" role="status" data-testid="sign-in-notice">${problem}</p>` : null}
    ${code ? [signInForms, signUpForm] : [signUpForm, signInForms]}
  </main>`;
}

/**
 * An invite link opened: the group and who invited you, then join, signing up first if
 * this browser has no account yet.
 */
function JoinPage({
  invite,
  token,
  me,
  onToken,
}: {
  invite: string;
  token: string | null;
  me: Me | null;
  onToken: (token: string, options?: { newAccount?: boolean }) => void;
}) {
  const [view, setView] = useState<InviteView | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [name, setName] = useState('');
  const joining = useSubmission();
  useEffect(() => {
    new Api(null).invite(invite).then(setView, (error: unknown) => setProblem(message(error)));
  }, [invite]);
  const [account, setAccount] = useState<string | null>(null);
  // A link made for a name-only member's place: the person takes it (their name starts as the place's).
  const place = view?.place ?? null;
  useEffect(() => {
    if (place && !place.taken) setName((current) => current || place.name);
  }, [place?.userId]);
  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    // A new account is made once (kept across a retry), and saved in this browser
    // whatever happens to the join, which may still fail (the link revoked meanwhile).
    let withToken = token ?? account;
    try {
      if (!withToken) {
        withToken = (await new Api(null).signUp(name.trim(), browserDeviceName())).token;
        setAccount(withToken);
      }
      const used = withToken;
      const joined = await joining.submit({ join: invite }, (key) => new Api(used).acceptInvite(invite, key));
      // A new account is offered a sign-in key before the group opens, as at any sign-up.
      if (!token) onToken(used, { newAccount: true });
      if (joined) window.location.hash = `#/groups/${encodeURIComponent(joined.groupId)}`;
    } catch (error) {
      if (!token && withToken) onToken(withToken, { newAccount: true });
      setProblem(message(error));
    }
  };
  if (!view)
    return html`<main class="sign-in">${
      problem ? html`<p class="notice" role="alert">${problem} <a href="#/">Go to FairShare</a></p>` : html`<p class="loading">Opening the invite…</p>`
    }</main>`;
  return html`<main class="sign-in">
    <h1>Join ${view.groupName}</h1>
    ${
      place && !place.taken
        ? html`<p data-testid="invited-by"><strong>${view.invitedBy.name}</strong> invited you to take <strong>${place.name}</strong>’s place in <strong>${view.groupName}</strong>.</p>
            <p class="meta" data-testid="place">${view.invitedBy.name} added ${place.name} by name; joining with this link makes ${place.name}’s balance and expenses yours.</p>`
        : html`<p data-testid="invited-by"><strong>${view.invitedBy.name}</strong> invited you to share costs in <strong>${view.groupName}</strong>.</p>`
    }
    ${problem ? html`<p class="notice" role="alert">${problem}</p>` : null}
    ${
      place?.taken
        ? html`<p class="notice" role="status">The place this link was for has been taken already. Ask ${view.invitedBy.name} for a new link.</p>`
        : view.archived
          ? html`<p class="notice" role="status">This group is archived: nobody can join it until a member opens it again.</p>`
          : html`<form onSubmit=${submit}>
      ${
        token
          ? html`<p>You join as <strong>${me?.name}</strong>.</p>`
          : html`<div class="row">
              <label for="join-name">Your name</label>
              <input id="join-name" value=${name} maxlength="100" autocomplete="name" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
            </div>`
      }
      <button type="submit" disabled=${joining.busy || (!token && !name.trim())}>${
        place
          ? token
            ? `Join as ${place.name}`
            : `Sign up and join as ${place.name}`
          : token
            ? `Join ${view.groupName}`
            : `Sign up and join ${view.groupName}`
      }</button>
    </form>`
    }
    ${token ? null : html`<p class="meta">Have an account already? <a href="#/">Sign in on this device</a> with a code from a device where you are signed in (under Devices) or with your saved sign-in key, then open this link again.</p>`}
  </main>`;
}

function Amount({ amount, currency }: { amount: string; currency: string }) {
  const sign = signOf(amount);
  const label = sign > 0 ? 'is owed' : sign < 0 ? 'owes' : 'settled up';
  return html`<span class=${`amount ${sign > 0 ? 'owed' : sign < 0 ? 'owing' : 'even'}`} data-balance=${amount}>
    <span class="label">${label}</span> ${sign === 0 ? null : formatMoney(absolute(amount), currency)}
  </span>`;
}

function Home({ api, me, onChanged }: { api: Api; me: Me; onChanged: () => void }) {
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

const STATUS_TEXT: Record<LiveStatus, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Not available' };

function GroupPage({ api, token, me, groupId }: { api: Api; token: string; me: Me; groupId: string }) {
  const [view, setView] = useState<BalancesView | null>(null);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [group, setGroup] = useState<Group | null>(null);
  const [expenses, setExpenses] = useState<Expense[]>([]);
  const [transfers, setTransfers] = useState<Transfer[]>([]);
  /** The version the expense list and settlements were read at. */
  const [loadedAt, setLoadedAt] = useState(0);
  const [editing, setEditing] = useState<Expense | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
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

  // Everything else on the page is re-read whenever the balances move on.
  useEffect(() => {
    if (!view) return;
    let current = true;
    Promise.all([api.group(groupId), api.expenses(groupId), api.settlements(groupId)]).then(
      ([g, list, settle]) => {
        if (!current) return;
        setGroup(g);
        setExpenses(list.items);
        setTransfers(settle.transfers);
        setLoadedAt(settle.version);
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
    <h1>${group?.name ?? groupId} <span class="currency">${currency}</span></h1>
    <p class="meta">
      <span data-testid="version">Version ${view.version}</span>
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
          ${
            archived
              ? null
              : html`<${AddMember} api=${api} members=${members} busy=${writes.busy}
                  onAdd=${(userId: string) => manage({ addMember: userId }, (key) => api.addMember(groupId, userId, key))} />
                <${AddByName} busy=${writes.busy} onAdd=${(name: string) => manage({ addByName: name }, (key) => api.addByName(groupId, name, key))} />`
          }
        </section>
        <section aria-labelledby="settle-h">
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
    <section aria-labelledby="expenses-h">
      <h2 id="expenses-h">Expenses</h2>
      ${expenses.length === 0 ? html`<p>No expenses yet.</p>` : null}
      <ol class="expenses" data-testid="expenses" data-version=${loadedAt}>
        ${expenses.map(
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
              <time datetime=${e.occurredAt}> · ${new Date(e.occurredAt).toLocaleDateString()}</time>
            </div>
            ${
              e.deleted || archived
                ? null
                : [...e.payers, ...e.shares].some((a) => !members.some((m) => m.userId === a.userId))
                  ? html`<p class="meta former-note">It involves someone who is no longer a member: add them back to change it.</p>`
                  : html`<div class="actions">
                  <button type="button" class="secondary" onClick=${() => {
                    setEditing(e);
                    document.getElementById('exp-description')?.focus();
                  }}>Edit<span class="sr-only"> ${e.description}</span></button>
                  ${
                    confirming === e.expenseId
                      ? html`<button type="button" class="danger" disabled=${writes.busy} onClick=${async () => {
                          if (await run({ delete: e.expenseId }, (key) => api.deleteExpense(groupId, e.expenseId, key))) setConfirming(null);
                        }}>Confirm delete<span class="sr-only"> ${e.description}</span></button>
                        <button type="button" class="secondary" onClick=${() => setConfirming(null)}>Keep it</button>`
                      : html`<button type="button" class="secondary" onClick=${() => setConfirming(e.expenseId)}>Delete<span class="sr-only"> ${e.description}</span></button>`
                  }
                </div>`
            }
          </li>`,
        )}
      </ol>
    </section>
    ${
      group
        ? html`<${ManageGroup} key=${group.name} api=${api} group=${group} nameOf=${nameOf} me=${me.userId} busy=${writes.busy} balances=${view.balances} currency=${currency}
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
 * Renaming, archiving, removing a member and leaving. Removing and leaving ask once
 * before they go, and say beforehand when the balance is not zero (the server refuses
 * it then, naming the balance).
 */
function ManageGroup({
  api,
  group,
  nameOf,
  me,
  busy,
  balances,
  currency,
  onRename,
  onArchive,
  onRemove,
  onLeave,
}: {
  api: Api;
  group: Group;
  /** Names told apart (see distinctNames). */
  nameOf: (userId: string) => string;
  me: string;
  busy: boolean;
  balances: BalancesView['balances'];
  currency: string;
  onRename: (name: string) => Promise<boolean>;
  onArchive: () => Promise<boolean>;
  onRemove: (userId: string) => Promise<boolean>;
  onLeave: () => Promise<void>;
}) {
  const [name, setName] = useState(group.name);
  const [confirming, setConfirming] = useState<string | null>(null);
  const balanceOf = (userId: string) => balances.find((b) => b.userId === userId)?.balance ?? '0';
  const rename = async (event: Event) => {
    event.preventDefault();
    if (name.trim() && name.trim() !== group.name) await onRename(name.trim());
  };
  return html`<section aria-labelledby="manage-h" class="manage">
    <h2 id="manage-h">Members and group</h2>
    <ul class="members" data-testid="members">
      ${group.members.map((member) => {
        const m = { userId: member.userId, name: nameOf(member.userId) };
        const self = m.userId === me;
        const balance = balanceOf(m.userId);
        const even = signOf(balance) === 0;
        const what = self ? 'Leave group' : `Remove ${m.name}`;
        return html`<li key=${m.userId} data-user-id=${m.userId}>
          <span class="name">${m.name}${self ? ' (you)' : ''}</span>
          ${member.nameOnly ? html`<span class="meta" data-testid="name-only">no account yet</span>` : null}
          ${
            group.archived
              ? null
              : confirming === m.userId
                ? html`<span class="confirm">
                    ${
                      even
                        ? null
                        : html`<span class="field-error">${self ? 'You' : m.name} ${
                            signOf(balance) < 0 ? (self ? 'owe' : 'owes') : self ? 'are owed' : 'is owed'
                          } ${formatMoney(absolute(balance), currency)}: settle up before ${self ? 'leaving' : `removing ${m.name}`}.</span>`
                    }
                    <button type="button" class="danger" disabled=${busy} onClick=${async () => {
                      if (self) await onLeave();
                      else if (await onRemove(m.userId)) setConfirming(null);
                    }}>${self ? 'Confirm: leave the group' : `Confirm: remove ${m.name}`}</button>
                    <button type="button" class="secondary" onClick=${() => setConfirming(null)}>Cancel</button>
                  </span>`
                : html`<button type="button" class="secondary" onClick=${() => setConfirming(m.userId)}>${what}</button>`
          }
        </li>`;
      })}
    </ul>
    ${
      group.formerMembers.length > 0
        ? html`<p class="meta" data-testid="former-members">Former members: ${group.formerMembers.map((m) => nameOf(m.userId)).join(', ')}</p>`
        : null
    }
    ${group.archived ? null : html`<${Invites} api=${api} groupId=${group.groupId} places=${group.members.filter((m) => m.nameOnly)} />`}
    ${
      group.archived
        ? null
        : html`<form class="rename" onSubmit=${rename}>
            <label for="group-rename">Group name</label>
            <div class="inline-form">
              <input id="group-rename" value=${name} maxlength="100" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
              <button type="submit" disabled=${busy || !name.trim() || name.trim() === group.name}>Rename</button>
            </div>
          </form>
          <p><button type="button" class="secondary" disabled=${busy} onClick=${() => void onArchive()}>Archive group</button>
            <span class="meta">Read-only for everyone, still listed; it can be opened again.</span></p>`
    }
  </section>`;
}

const splitLabel = (e: Expense) =>
  e.split.mode === 'equal' ? 'equally' : e.split.mode === 'exact' ? 'by amounts' : e.split.mode === 'percent' ? 'by percent' : 'by shares';

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
  const [amount, setAmount] = useState(transfer.amount);
  const [expenseId] = useState(newId);
  const [error, setError] = useState<string | null>(null);
  const saving = useSubmission();
  const [from, to] = [nameOf(transfer.from), nameOf(transfer.to)];
  const submit = async (event: Event) => {
    event.preventDefault();
    const body = {
      expenseId,
      kind: 'payment' as const,
      description: `${from} paid ${to}`,
      amount: amount.trim(),
      paidBy: transfer.from,
      split: { mode: 'equal' as const, among: [transfer.to] },
    };
    try {
      const result = await saving.submit(body, (key) => api.addExpense(groupId, body, key));
      if (result) onRecorded(result);
    } catch (e) {
      setError(e instanceof ApiError && e.problem.errors?.length ? e.problem.errors.map((x) => x.message).join('; ') : message(e));
    }
  };
  return html`<form class="record-payment" onSubmit=${submit} aria-label=${`Record a payment from ${from} to ${to}`}>
    <label for="payment-amount">How much did ${from} pay ${to}? (${currency})</label>
    <div class="inline-form">
      <input id="payment-amount" inputmode="decimal" autocomplete="off" value=${amount} aria-invalid=${error ? 'true' : undefined}
        aria-describedby=${error ? 'payment-error' : undefined} onInput=${(e: Event) => setAmount((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${saving.busy}>Confirm payment</button>
      <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
    </div>
    ${error ? html`<span class="field-error" id="payment-error" role="alert">${error}</span>` : null}
  </form>`;
}

/**
 * Adding a member by user id: the id is looked up first, and the person is asked once,
 * with the name it belongs to ("Add Bob?"), so a mistyped id never adds a stranger.
 */
function AddMember({
  api,
  members,
  onAdd,
  busy,
}: {
  api: Api;
  members: { userId: string; name: string }[];
  onAdd: (userId: string) => Promise<boolean>;
  busy: boolean;
}) {
  const [userId, setUserId] = useState('');
  const [found, setFound] = useState<{ userId: string; name: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const lookUp = async (event: Event) => {
    event.preventDefault();
    const wanted = userId.trim();
    setProblem(null);
    setFound(null);
    if (!wanted) return;
    if (members.some((m) => m.userId === wanted)) {
      setProblem(`${members.find((m) => m.userId === wanted)?.name} is a member already.`);
      return;
    }
    try {
      setFound(await api.user(wanted));
    } catch (error) {
      setProblem(
        error instanceof ApiError && error.problem.status === 404
          ? `No one has the user id “${wanted}”. Check it with the person you want to add.`
          : message(error),
      );
    }
  };
  const confirm = async () => {
    if (!found) return;
    if (await onAdd(found.userId)) {
      setFound(null);
      setUserId((current) => (current.trim() === found.userId ? '' : current));
    }
  };
  return html`<form class="add-member" onSubmit=${lookUp}>
    <label for="member-id">Add a member by user id</label>
    <div class="inline-form">
      <input id="member-id" value=${userId} autocomplete="off" onInput=${(e: Event) => {
        setUserId((e.target as HTMLInputElement).value);
        setFound(null);
      }} />
      <button type="submit" disabled=${busy}>Find</button>
    </div>
    ${problem ? html`<span class="field-error" role="alert">${problem}</span>` : null}
    ${
      found
        ? html`<p class="confirm" data-testid="add-member-confirm">This id belongs to <strong>${found.name}</strong>.
            <button type="button" disabled=${busy} onClick=${() => void confirm()}>Add ${found.name}</button>
            <button type="button" class="secondary" onClick=${() => setFound(null)}>Cancel</button></p>`
        : null
    }
  </form>`;
}

/**
 * Adding a friend who has no account: by name. They take part in expenses like anyone,
 * and claim their place (balance and history) when they accept an invite link.
 */
function AddByName({ onAdd, busy }: { onAdd: (name: string) => Promise<boolean>; busy: boolean }) {
  const [name, setName] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    const wanted = name.trim();
    if (wanted && (await onAdd(wanted))) setName((current) => (current.trim() === wanted ? '' : current));
  };
  return html`<form class="add-member" onSubmit=${submit}>
    <label for="member-name">Add a friend who has no account yet, by name</label>
    <div class="inline-form">
      <input id="member-name" value=${name} maxlength="100" autocomplete="off" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${busy || !name.trim()}>Add by name</button>
    </div>
    <span class="meta">They can take their place later through an invite link.</span>
  </form>`;
}

/**
 * Invite links: make one (shown once, to copy), see which still work, revoke one. A
 * friend added by name gets a link of their own, which takes their place.
 */
function Invites({ api, groupId, places }: { api: Api; groupId: string; places: { userId: string; name: string }[] }) {
  const [links, setLinks] = useState<InviteLink[]>([]);
  const [made, setMade] = useState<{ url: string; place: string | null } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const making = useSubmission();
  const reload = () =>
    api.invites(groupId).then(
      (list) => setLinks(list.items),
      (error: unknown) => setProblem(message(error)),
    );
  useEffect(() => void reload(), [groupId]);
  const make = async (place?: { userId: string; name: string }) => {
    setProblem(null);
    try {
      const link = await making.submit({ invite: groupId, for: place?.userId, at: Date.now() }, (key) => api.createInvite(groupId, key, place?.userId));
      if (!link?.token) return;
      setMade({ url: `${window.location.origin}${window.location.pathname}#/join/${encodeURIComponent(link.token)}`, place: place?.name ?? null });
      await reload();
    } catch (error) {
      setProblem(message(error));
    }
  };
  const revoke = async (inviteId: string) => {
    setProblem(null);
    try {
      await api.revokeInvite(groupId, inviteId);
      setMade(null);
      await reload();
    } catch (error) {
      setProblem(message(error));
    }
  };
  return html`<div class="invites">
    <h3>Invite people</h3>
    <p class="inline-buttons"><button type="button" disabled=${making.busy} onClick=${() => void make()}>Create invite link</button>
      ${places.map(
        (p) =>
          html`<button key=${p.userId} type="button" class="secondary" disabled=${making.busy} onClick=${() => void make(p)}>Invite ${p.name} to take their place</button>`,
      )}</p>
    ${
      made
        ? html`<div class="row"><label for="invite-link">${
            made.place
              ? `Send this link to ${made.place} only: whoever opens it takes ${made.place}’s place and balance (it is shown only now; it works for 7 days)`
              : 'Send this link to the people you invite (it is shown only now; anyone with it can join for 7 days)'
          }</label>
          <div class="inline-form"><input id="invite-link" readonly value=${made.url} onFocus=${(e: Event) => (e.target as HTMLInputElement).select()} />
          <button type="button" class="secondary" onClick=${() => void navigator.clipboard?.writeText(made.url)}>Copy link</button></div></div>`
        : null
    }
    ${problem ? html`<p class="field-error" role="alert">${problem}</p>` : null}
    ${
      links.length > 0
        ? html`<ul class="members" data-testid="invite-links">${links.map(
            (l) => html`<li key=${l.inviteId}><span>${l.place ? `Link for ${l.place.name}’s place` : 'Link'} by ${l.createdBy.name}${
              l.place?.taken ? ' (taken)' : ''
            }, works until ${new Date(l.expiresAt).toLocaleDateString()}</span>
              <button type="button" class="secondary" onClick=${() => void revoke(l.inviteId)}>Revoke<span class="sr-only"> the link by ${l.createdBy.name}</span></button></li>`,
          )}</ul>`
        : null
    }
  </div>`;
}

const root = document.getElementById('root') as HTMLElement;
root.textContent = '';
render(html`<${App} />`, root);
