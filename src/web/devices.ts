// Devices on the page (issue #13 §5): every browser signed in has a token of its own.
// Here: naming this browser, the sign-in forms (a one-time code, a saved key), saving a
// sign-in key, the list of devices (rename, revoke), showing a code for another device,
// and signing out, with a plain warning when this is the last way into the account.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiError, type DeviceView, type Me, type SignedIn } from './api.js';
import { message, download } from './common.js';

/** What a revoked device's page says once the server refuses its token. */
export const SIGNED_OUT_ELSEWHERE =
  'This device is signed out: its access was revoked (from another device, or by signing out). Sign in again with a code from a device that is still signed in, or with your saved sign-in key.';

/** A name people recognise for this browser, e.g. "Firefox on Linux" or "Safari on iPhone". */
export function browserDeviceName(userAgent: string = navigator.userAgent): string {
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /OPR\//.test(userAgent)
      ? 'Opera'
      : /Firefox\//.test(userAgent)
        ? 'Firefox'
        : /Chrom(e|ium)\//.test(userAgent)
          ? 'Chrome'
          : /Safari\//.test(userAgent)
            ? 'Safari'
            : 'Browser';
  const system = /iPhone/.test(userAgent)
    ? 'iPhone'
    : /iPad/.test(userAgent)
      ? 'iPad'
      : /Android/.test(userAgent)
        ? 'Android'
        : /CrOS/.test(userAgent)
          ? 'ChromeOS'
          : /Windows/.test(userAgent)
            ? 'Windows'
            : /Mac OS X|Macintosh/.test(userAgent)
              ? 'macOS'
              : /Linux/.test(userAgent)
                ? 'Linux'
                : '';
  return system ? `${browser} on ${system}` : browser;
}

/** A saved key's file, or anything pasted: the key (or a device token) in it. */
export const keyIn = (text: string): string | undefined => /\bfsk?_[A-Za-z0-9_-]{43}\b/.exec(text)?.[0];

/** "just now", "5 minutes ago", or the date and time. */
function whenUsed(iso: string): string {
  const minutes = Math.floor((Date.now() - Date.parse(iso)) / 60_000);
  if (minutes < 2) return 'just now';
  if (minutes < 60) return `${minutes} minutes ago`;
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const timeOf = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** The welcome screen's ways back in: a one-time code (typed, or from a #/sign-in/<code> link) and a saved key. */
export function SignInForms({ onSignedIn, code: linked }: { onSignedIn: (signedIn: SignedIn) => void; code: string | null }) {
  const [code, setCode] = useState(linked ?? '');
  const [key, setKey] = useState('');
  const [error, setError] = useState<{ field: 'code' | 'key'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (field: 'code' | 'key', with_: { code: string } | { key: string }) => {
    setError(null);
    setBusy(true);
    try {
      onSignedIn(await new Api(null).signIn(with_, browserDeviceName()));
    } catch (e) {
      setError({ field, text: message(e) });
    } finally {
      setBusy(false);
    }
  };
  const openFile = async (event: Event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    const found = keyIn(await file.text());
    if (found) setKey(found);
    else setError({ field: 'key', text: 'That file holds no FairShare sign-in key.' });
  };
  return html`<form onSubmit=${(e: Event) => (e.preventDefault(), void send('code', { code: code.trim() }))} aria-labelledby="code-h">
      <h2 id="code-h">Sign in with a code</h2>
      <p class="meta">On a device where you are signed in, open Devices and choose “Sign in on another device”.</p>
      <div class="row">
        <label for="signin-code">Sign-in code</label>
        <input id="signin-code" value=${code} autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" placeholder="such as 7KQM-XR4D-PW9T"
          onInput=${(e: Event) => setCode((e.target as HTMLInputElement).value)} />
        ${error?.field === 'code' ? html`<span class="field-error" role="alert">${error.text}</span>` : null}
      </div>
      <button type="submit" disabled=${busy || !code.trim()}>Sign in with the code</button>
    </form>
    <form onSubmit=${(e: Event) => (e.preventDefault(), void send('key', { key: keyIn(key) ?? key.trim() }))} aria-labelledby="key-h">
      <h2 id="key-h">Sign in with a saved key</h2>
      <div class="row">
        <label for="signin-key">Your saved sign-in key</label>
        <input id="signin-key" value=${key} autocomplete="off" spellcheck="false" onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
        ${error?.field === 'key' ? html`<span class="field-error" role="alert">${error.text}</span>` : null}
      </div>
      <div class="row">
        <label for="signin-key-file">…or open the file you saved it in</label>
        <input id="signin-key-file" type="file" accept=".txt,text/plain" onChange=${(e: Event) => void openFile(e)} />
      </div>
      <button type="submit" disabled=${busy || !key.trim()}>Sign in with the key</button>
    </form>`;
}

/** A sign-in key as a text file the person keeps. */
function keyFile(me: Me, key: string): string {
  return [
    `FairShare sign-in key for ${me.name} (user id ${me.userId})`,
    '',
    key,
    '',
    `To sign in on a new device: open ${window.location.origin}${window.location.pathname} and choose “Sign in with a saved key”.`,
    'Anyone who has this key can use your account: keep it safe. If it gets out, revoke it under Devices.',
    `Saved ${new Date().toLocaleString()}.`,
    '',
  ].join('\n');
}

/**
 * A new sign-in key, shown once, to copy or download. `onDone(true)`: the person says they
 * saved it; `onDone(false)`: not now, and the key is revoked again (a key nobody kept
 * should not stay a way into the account).
 */
/** The key on offer (its device id) until the person says they saved it, kept across a reload. */
const UNSAVED_KEY = 'fairshare.unsavedKey';

/** Revokes a key offered before this page was loaded and never confirmed saved. */
export function revokeUnsavedKey(api: Api): void {
  const deviceId = localStorage.getItem(UNSAVED_KEY);
  if (!deviceId) return;
  api.revokeDevice(deviceId).then(
    () => localStorage.removeItem(UNSAVED_KEY),
    (error: unknown) => {
      // Gone already (404) is done too; anything else is tried again at the next load.
      if (error instanceof ApiError && error.problem.status === 404) localStorage.removeItem(UNSAVED_KEY);
    },
  );
}

export function SaveKey({ api, me, name, intro, onDone }: { api: Api; me: Me; name: string; intro: string; onDone: (saved: boolean) => void }) {
  const [made, setMade] = useState<{ deviceId: string; key: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  // A key nobody said they saved must not stay a way in: leaving this screen any way but
  // "I saved it" (Not now, another page, signing out) revokes it.
  const unsaved = useRef<string | null>(null);
  useEffect(() => {
    let gone = false;
    api.signInKey(name).then(
      (key) => {
        if (gone) void api.revokeDevice(key.deviceId).catch(() => undefined);
        else {
          unsaved.current = key.deviceId;
          localStorage.setItem(UNSAVED_KEY, key.deviceId);
          setMade(key);
        }
      },
      (error: unknown) => setProblem(message(error)),
    );
    return () => {
      gone = true;
      if (unsaved.current) revokeUnsavedKey(api);
    };
  }, []);
  const saved = () => {
    unsaved.current = null;
    localStorage.removeItem(UNSAVED_KEY);
    onDone(true);
  };
  const notNow = async () => {
    const deviceId = unsaved.current;
    unsaved.current = null;
    try {
      if (deviceId) await api.revokeDevice(deviceId);
      localStorage.removeItem(UNSAVED_KEY);
      onDone(false);
    } catch (error) {
      unsaved.current = deviceId;
      setProblem(`The key could not be revoked: ${message(error)} Try again, or revoke it under Devices.`);
    }
  };
  return html`<section aria-labelledby="save-key-h" class="save-key" data-testid="save-key">
    <h2 id="save-key-h">Save your sign-in key</h2>
    <p>${intro}</p>
    <p>Save it where you keep passwords (a password manager), or download it as a file. Anyone who has it can use your account; you can revoke it under Devices.</p>
    ${problem ? html`<p class="field-error" role="alert">${problem}</p>` : null}
    ${
      made
        ? html`<div class="row">
            <label for="sign-in-key">Your sign-in key</label>
            <input id="sign-in-key" readonly value=${made.key} data-testid="sign-in-key" onFocus=${(e: Event) => (e.target as HTMLInputElement).select()} />
          </div>
          <p class="actions">
            <button type="button" class="secondary" onClick=${() =>
              navigator.clipboard?.writeText(made.key).then(
                () => setCopied(true),
                () => undefined,
              )}>${copied ? 'Copied' : 'Copy'}</button>
            <button type="button" class="secondary" onClick=${() => download('fairshare-sign-in-key.txt', keyFile(me, made.key))}>Download as a file</button>
          </p>
          <p class="actions">
            <button type="button" onClick=${saved}>I saved it</button>
            <button type="button" class="secondary" onClick=${() => void notNow()}>Not now</button>
          </p>`
        : problem
          ? html`<p><button type="button" class="secondary" onClick=${() => onDone(false)}>Continue</button></p>`
          : html`<p class="loading">Making your key…</p>`
    }
  </section>`;
}

/** Signing out: this device's token is revoked on the server. When it is the last way into the account, the page says so first. */
export function SignOut({ api, me, onSignedOut, onCancel }: { api: Api; me: Me; onSignedOut: () => void; onCancel: () => void }) {
  const [state, setState] = useState<'checking' | 'last' | 'keys' | 'saving' | 'failed'>('checking');
  const [keys, setKeys] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const out = async (deviceId: string | null) => {
    try {
      if (deviceId) await api.revokeDevice(deviceId);
      onSignedOut();
    } catch (error) {
      setProblem(message(error));
      setState('failed');
    }
  };
  const check = async () => {
    setState('checking');
    setProblem(null);
    try {
      const { devices } = await api.devices();
      const self = devices.find((d) => d.current)?.deviceId ?? null;
      setCurrent(self);
      const others = devices.filter((d) => !d.current);
      if (others.some((d) => d.kind === 'device')) await out(self);
      else if (others.length > 0) {
        // Only saved keys are left: they are the way back, if the person still has one.
        setKeys(others.map((d) => d.name));
        setState('keys');
      } else setState('last');
    } catch (error) {
      setProblem(message(error));
      setState('failed');
    }
  };
  useEffect(() => void check(), []);
  if (state === 'checking') return html`<p class="loading">Signing out…</p>`;
  if (state === 'saving')
    return html`<${SaveKey} api=${api} me=${me} name="Sign-in key saved before signing out"
      intro="With a saved key you can sign in again on any browser, this one included."
      onDone=${(saved: boolean) => void (saved ? out(current) : check())} />`;
  if (state === 'failed')
    return html`<section class="sign-out" aria-labelledby="sign-out-h">
      <h1 id="sign-out-h">Sign out</h1>
      <p class="notice" role="alert">${problem}</p>
      <p class="actions"><button type="button" onClick=${() => void check()}>Try again</button>
        <button type="button" class="secondary" onClick=${onCancel}>Stay signed in</button></p>
    </section>`;
  if (state === 'keys')
    return html`<section class="sign-out last-device" role="alertdialog" aria-labelledby="keys-h" aria-describedby="keys-p" data-testid="keys-only-warning">
      <h1 id="keys-h">Do you have your saved sign-in key?</h1>
      <p id="keys-p">No other device is signed in. To get back into your account after signing out you will need your saved key
        (${keys.map((k, i) => html`${i > 0 ? ', ' : ''}<strong>${k}</strong>`)}).</p>
      <p class="actions">
        <button type="button" class="danger" onClick=${() => void out(current)}>I have it: sign out</button>
        <button type="button" class="secondary" onClick=${() => setState('saving')}>Save a new key first</button>
        <button type="button" class="secondary" onClick=${onCancel}>Stay signed in</button>
      </p>
    </section>`;
  return html`<section class="sign-out last-device" role="alertdialog" aria-labelledby="last-h" aria-describedby="last-p" data-testid="last-device-warning">
    <h1 id="last-h">This is the last way into your account</h1>
    <p id="last-p"><strong>No other device is signed in, and you have no saved sign-in key.</strong> If you sign out now, nobody — not even you — can
      reach this account, its groups or its balances again.</p>
    <p class="actions">
      <button type="button" onClick=${() => setState('saving')}>Save a sign-in key first</button>
      <button type="button" class="danger" onClick=${() => void out(current)}>Sign out anyway</button>
      <button type="button" class="secondary" onClick=${onCancel}>Stay signed in</button>
    </p>
  </section>`;
}

/** The account's devices and keys; rename, revoke; sign another device in with a code; save a key. */
export function DevicesPage({ api, me, onSignOut }: { api: Api; me: Me; onSignOut: () => void }) {
  const [devices, setDevices] = useState<DeviceView[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<{ deviceId: string; name: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [code, setCode] = useState<{ code: string; expiresAt: string } | null>(null);
  const [savingKey, setSavingKey] = useState(false);
  const [busy, setBusy] = useState(false);
  const reload = () =>
    api.devices().then(
      (list) => setDevices(list.devices),
      (error: unknown) => setProblem(message(error)),
    );
  useEffect(() => void reload(), []);
  const act = async (what: () => Promise<unknown>) => {
    setProblem(null);
    setBusy(true);
    try {
      await what();
      await reload();
      return true;
    } catch (error) {
      setProblem(message(error));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const link = code ? `${window.location.origin}${window.location.pathname}#/sign-in/${code.code}` : '';
  return html`<section aria-labelledby="devices-h">
      <h1 id="devices-h">Your devices</h1>
      <p class="meta">Every browser you sign in on has its own access. Revoke one you no longer use or have lost: it is signed out at once.</p>
      ${problem ? html`<p class="notice" role="alert" data-testid="devices-problem">${problem}</p>` : null}
      ${
        devices === null
          ? html`<p class="loading">Loading your devices…</p>`
          : html`<ul class="members devices" data-testid="devices">${devices.map(
              (d) => html`<li key=${d.deviceId} data-device-id=${d.deviceId} data-current=${d.current ? 'true' : undefined}>
              <span class="device"><span><span class="name">${d.name}</span>${d.current ? html` <span class="tag">this device</span>` : null}${
                d.kind === 'key' ? html` <span class="tag">sign-in key</span>` : null
              }</span>
                <span class="meta">${
                  d.kind === 'key' && d.lastUsedAt === d.createdAt ? 'Not used yet' : `Last used ${whenUsed(d.lastUsedAt)}`
                } · added ${new Date(d.createdAt).toLocaleDateString()}</span></span>
              ${
                renaming?.deviceId === d.deviceId
                  ? html`<form class="rename inline-form" onSubmit=${async (e: Event) => {
                      e.preventDefault();
                      if (await act(() => api.renameDevice(d.deviceId, renaming.name.trim()))) setRenaming(null);
                    }}>
                      <label class="sr-only" for=${`rename-${d.deviceId}`}>New name for ${d.name}</label>
                      <input id=${`rename-${d.deviceId}`} value=${renaming.name} maxlength="100" onInput=${(e: Event) =>
                        setRenaming({ deviceId: d.deviceId, name: (e.target as HTMLInputElement).value })} />
                      <button type="submit" disabled=${busy || !renaming.name.trim()}>Save</button>
                      <button type="button" class="secondary" onClick=${() => setRenaming(null)}>Cancel</button>
                    </form>`
                  : confirming === d.deviceId
                    ? html`<span class="confirm">
                        <span class="field-error">${d.kind === 'key' ? `The key “${d.name}” stops working at once.` : `“${d.name}” is signed out at once.`}</span>
                        <button type="button" class="danger" disabled=${busy} onClick=${async () => {
                          if (await act(() => api.revokeDevice(d.deviceId))) setConfirming(null);
                        }}>Confirm: revoke ${d.name}</button>
                        <button type="button" class="secondary" onClick=${() => setConfirming(null)}>Cancel</button>
                      </span>`
                    : html`<span class="actions">
                        <button type="button" class="secondary" onClick=${() => setRenaming({ deviceId: d.deviceId, name: d.name })}>Rename<span class="sr-only"> ${d.name}</span></button>
                        ${
                          d.current
                            ? html`<button type="button" class="secondary" onClick=${onSignOut}>Sign out<span class="sr-only"> this device</span></button>`
                            : html`<button type="button" class="secondary" onClick=${() => setConfirming(d.deviceId)}>Revoke<span class="sr-only"> ${d.name}</span></button>`
                        }
                      </span>`
              }
            </li>`,
            )}</ul>`
      }
    </section>
    <section aria-labelledby="code-h">
      <h2 id="code-h">Sign in on another device</h2>
      <p>Show a one-time code here, then type it on the other device under “Sign in with a code”, or open the link there.</p>
      <p><button type="button" disabled=${busy} onClick=${() => act(async () => setCode(await api.signInCode()))}>${code ? 'Show a new code' : 'Show a sign-in code'}</button></p>
      ${
        code
          ? html`<div class="sign-in-code">
            <p class="code" data-testid="sign-in-code" aria-label=${`Sign-in code ${code.code.split('').join(' ')}`}>${code.code}</p>
            <p class="meta" data-testid="sign-in-code-expiry">It works once, until ${timeOf(code.expiresAt)} (10 minutes). Showing a new code ends this one.</p>
            <div class="row"><label for="sign-in-link">Or open this link on the other device</label>
              <div class="inline-form"><input id="sign-in-link" readonly value=${link} onFocus=${(e: Event) => (e.target as HTMLInputElement).select()} />
              <button type="button" class="secondary" onClick=${() => void navigator.clipboard?.writeText(link)}>Copy link</button></div></div>
          </div>`
          : null
      }
    </section>
    ${
      savingKey
        ? html`<${SaveKey} api=${api} me=${me} name="Saved sign-in key" intro="A saved key signs you in on any browser, even when no device of yours is signed in any more."
            onDone=${() => {
              setSavingKey(false);
              void reload();
            }} />`
        : html`<section aria-labelledby="key-h">
            <h2 id="key-h">Sign-in key</h2>
            <p>A saved key signs you in on any browser, even when no device of yours is signed in any more. Keep it where you keep passwords.</p>
            <p><button type="button" class="secondary" onClick=${() => setSavingKey(true)}>Make a sign-in key</button></p>
          </section>`
    }`;
}
