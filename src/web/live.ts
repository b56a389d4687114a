import type { BalancesView, Me } from './api.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** What the page says for each state of a live connection. */
export const STATUS_TEXT: Record<LiveStatus, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Not available' };

/**
 * Follows a group's live stream (server-sent events) with fetch, so the bearer token
 * travels in a header rather than in the URL. The server sends the current balances on
 * every connect, so a reconnect after a dropped connection or a server restart resyncs
 * by itself. Retries with backoff until stopped; a 401/404 ends it. A revoked device's
 * stream is ended by the server: the reconnect's 401 says so.
 */
export const followGroup = (
  groupId: string,
  token: string,
  onBalances: (view: BalancesView) => void,
  onStatus: (status: LiveStatus) => void,
  /** The token was refused (401): the device was revoked. */
  onSignedOut: () => void = () => undefined,
): (() => void) => follow(`/groups/${encodeURIComponent(groupId)}/live`, 'balances', token, onBalances, onStatus, onSignedOut);

/** Follows the home stream: the `/me` view (every group, the totals) on connect and after every change. */
export const followMe = (
  token: string,
  onMe: (me: Me) => void,
  onStatus: (status: LiveStatus) => void,
  onSignedOut: () => void = () => undefined,
): (() => void) => follow('/me/live', 'me', token, onMe, onStatus, onSignedOut);

function follow<T>(
  path: string,
  eventName: string,
  token: string,
  onView: (view: T) => void,
  onStatus: (status: LiveStatus) => void,
  onSignedOut: () => void,
): () => void {
  const stopped = new AbortController();
  let connection: AbortController | undefined;
  let wake: (() => void) | undefined;
  let attempt = 0;
  let lastHeard = Date.now();

  // A connection can die without an error (sleep, a network switch, a silent proxy):
  // the server sends a heartbeat every 15 s, so a longer silence means the page may be
  // showing stale balances. Drop the connection and say so; the retry resyncs.
  const watchdog = setInterval(() => {
    if (connection && Date.now() - lastHeard > SILENCE_MS) connection.abort();
  }, 5_000);
  const onOffline = () => connection?.abort();
  const onOnline = () => {
    attempt = 0;
    wake?.();
  };
  window.addEventListener('offline', onOffline);
  window.addEventListener('online', onOnline);

  const run = async () => {
    while (!stopped.signal.aborted) {
      onStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      connection = new AbortController();
      lastHeard = Date.now();
      try {
        const res = await fetch(path, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
          signal: connection.signal,
          cache: 'no-store',
        });
        if (res.status === 401 || res.status === 404) {
          onStatus('closed');
          if (res.status === 401) onSignedOut();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`live stream answered ${res.status}`);
        await readEvents(
          res.body,
          () => (lastHeard = Date.now()),
          (event, data) => {
            // A view still arriving on a stream this page has stopped (another token, another page) is not shown.
            if (event !== eventName || stopped.signal.aborted) return;
            attempt = 0;
            onStatus('live');
            onView(JSON.parse(data) as T);
          },
        );
      } catch {
        // fall through to the retry below
      }
      connection = undefined;
      if (stopped.signal.aborted) return;
      attempt += 1;
      onStatus('reconnecting');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        stopped.signal.addEventListener('abort', wake);
      });
      wake = undefined;
    }
  };
  void run();
  return () => {
    stopped.abort();
    connection?.abort();
    clearInterval(watchdog);
    window.removeEventListener('offline', onOffline);
    window.removeEventListener('online', onOnline);
  };
}

/** Two missed heartbeats and some slack. */
const SILENCE_MS = 35_000;

async function readEvents(body: ReadableStream<Uint8Array>, onChunk: () => void, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onChunk();
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}
