import type { BalancesView } from './api.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * Follows a group's live stream (server-sent events) with fetch, so the bearer token
 * travels in a header rather than in the URL. The server sends the current balances on
 * every connect, so a reconnect after a dropped connection or a server restart resyncs
 * by itself. Retries with backoff until stopped; a 401/404 ends it.
 */
export function followGroup(
  groupId: string,
  token: string,
  onBalances: (view: BalancesView) => void,
  onStatus: (status: LiveStatus) => void,
): () => void {
  const controller = new AbortController();
  let attempt = 0;

  const run = async () => {
    while (!controller.signal.aborted) {
      onStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      try {
        const res = await fetch(`/groups/${encodeURIComponent(groupId)}/live`, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (res.status === 401 || res.status === 404) {
          onStatus('closed');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`live stream answered ${res.status}`);
        await readEvents(res.body, (event, data) => {
          if (event !== 'balances') return;
          attempt = 0;
          onStatus('live');
          onBalances(JSON.parse(data) as BalancesView);
        });
      } catch {
        // fall through to the retry below
      }
      if (controller.signal.aborted) return;
      attempt += 1;
      onStatus('reconnecting');
      await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)), controller.signal);
    }
  };
  void run();
  return () => controller.abort();
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
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

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
