// An invite link opened: who invites you to what, then join (signing up first if need be).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, type InviteView, type Me } from './api.js';
import { browserDeviceName } from './devices.js';
import { useSubmission } from './submission.js';
import { message } from './common.js';

/**
 * An invite link opened: the group and who invited you, then join, signing up first if
 * this browser has no account yet.
 */
export function JoinPage({
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
