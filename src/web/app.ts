// The page: which screen shows (signed in or not, the route in the address), the top bar,
// signing up and in. Each screen is in a module of its own.
import { html, render } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiError, type Me, type SignedIn } from './api.js';
import { message } from './common.js';
import { DevicesPage, SaveKey, SignInForms, SignOut, SIGNED_OUT_ELSEWHERE, browserDeviceName, revokeUnsavedKey } from './devices.js';
import { GroupPage } from './group-page.js';
import { Home } from './home.js';
import { JoinPage } from './join.js';

const TOKEN_KEY = 'fairshare.token';

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

  // The home stream's views (see Home) are never older than the last one; a /me answer
  // that crossed one of them in flight may be, and is dropped.
  const streamed = useRef(0);
  const onStreamedMe = useCallback((next: Me) => {
    streamed.current += 1;
    setMe(next);
  }, []);
  const refreshMe = useCallback(() => {
    if (!token) return;
    const asked = streamed.current;
    // A 401 signs this page out (the Api's onSignedOut above).
    new Api(token, lost(token)).me().then(
      (next) => {
        if (streamed.current === asked) setMe(next);
      },
      (error: unknown) => {
        if (!(error instanceof ApiError && error.problem.status === 401)) setProblem(message(error));
      },
    );
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
            : html`<${Home} api=${api} token=${token} me=${me} onMe=${onStreamedMe} onChanged=${refreshMe} />`;
  return html`<header class="top">
      <a href="#/" class="brand">FairShare</a>
      <div class="who">
        <span><span class="label">Signed in as </span><strong>${me.name}</strong></span>
        <span><span class="label">Your user id: </span><code data-testid="my-user-id" title=${me.userId}>${me.userId}</code></span>
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

const root = document.getElementById('root') as HTMLElement;
root.textContent = '';
render(html`<${App} />`, root);
