// Every write the page sends is one submission: it carries an Idempotency-Key made once
// for it, so a double click, or sending the same thing again after a lost response,
// appends once. While a submission is in flight no second one starts.
import { useRef, useState } from 'preact/hooks';

/**
 * A random id in the API's id format (a v4 UUID). `crypto.randomUUID` exists only on
 * secure origins; `getRandomValues` works on a plain-HTTP address in a home network too.
 */
export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface Submission {
  /** True while a request is in flight: buttons show it and refuse a second one. */
  busy: boolean;
  /**
   * Sends `body` through `send` with its Idempotency-Key, unless a submission is already
   * in flight (then it returns undefined at once). The same body sent again after a
   * failure keeps its key: if the first attempt did commit, the server answers with
   * that result and appends nothing.
   */
  submit: <T>(body: unknown, send: (idempotencyKey: string) => Promise<T>) => Promise<T | undefined>;
}

export function useSubmission(): Submission {
  // A ref, not only state: two clicks can arrive before the page re-renders.
  const inFlight = useRef(false);
  const last = useRef<{ body: string; key: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async <T>(body: unknown, send: (idempotencyKey: string) => Promise<T>): Promise<T | undefined> => {
    if (inFlight.current) return undefined;
    const text = JSON.stringify(body ?? null);
    const key = last.current?.body === text ? last.current.key : newId();
    last.current = { body: text, key };
    inFlight.current = true;
    setBusy(true);
    try {
      const result = await send(key);
      last.current = null;
      return result;
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };
  return { busy, submit };
}
