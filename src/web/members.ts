// Members and group: rename, archive, remove or leave; add people by id or by name; invite links.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api, type BalancesView, type Group, type InviteLink } from './api.js';
import { absolute, formatMoney, signOf } from './format.js';
import { useSubmission } from './submission.js';
import { message } from './common.js';

/**
 * Renaming, archiving, removing a member and leaving. Removing and leaving ask once
 * before they go, and say beforehand when the balance is not zero (the server refuses
 * it then, naming the balance).
 */
export function ManageGroup({
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
  adding,
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
  /** The forms that add people (by id, by name); absent while archived. */
  adding: unknown;
}) {
  const [name, setName] = useState(group.name);
  // Renamed (here or by someone else): the field shows the new name; what else is typed here stays.
  useEffect(() => setName(group.name), [group.name]);
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
    ${adding}
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

/**
 * Adding a member by user id: the id is looked up first, and the person is asked once,
 * with the name it belongs to ("Add Bob?"), so a mistyped id never adds a stranger.
 */
export function AddMember({
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
export function AddByName({ onAdd, busy }: { onAdd: (name: string) => Promise<boolean>; busy: boolean }) {
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
