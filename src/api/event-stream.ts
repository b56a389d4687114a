// What every live stream (a group's, a user's home) shares: a place under the per-token
// cap, the event-stream response opened only after the first read, the heartbeat, and
// the ways a stream ends (the client goes, the device is revoked, the server shuts down).
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../commands/errors.js';
import { currentDevice, tokenKey } from './auth.js';
import type { ApiDeps } from './context.js';

const EVENT_STREAM = 'text/event-stream; charset=utf-8';

/**
 * Takes a place for a stream under the per-token cap (429 `TOO_MANY_STREAMS` when it is
 * full). The place is taken at once, not after the first read, so concurrent opens cannot
 * pass the cap together. Returns the function that gives it back (once, however often called).
 */
export function takeStreamPlace(deps: ApiDeps, request: FastifyRequest, reply: FastifyReply): () => void {
  const token = tokenKey(request) as string;
  const holding = deps.liveStreamsByToken.get(token) ?? 0;
  if (holding >= deps.liveStreamsPerToken) {
    reply.header('retry-after', '5');
    throw new DomainError(
      429,
      'TOO_MANY_STREAMS',
      `this token already has ${holding} live streams open (at most ${deps.liveStreamsPerToken}); close one before opening another`,
    );
  }
  deps.liveStreamsByToken.set(token, holding + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (deps.liveStreamsByToken.get(token) ?? 1) - 1;
    if (left > 0) deps.liveStreamsByToken.set(token, left);
    else deps.liveStreamsByToken.delete(token);
  };
}

export interface EventStream {
  res: ServerResponse;
  /** Ends the stream and runs its clean-up; safe to call more than once. */
  close(): void;
}

/**
 * Opens the event stream once the first read has succeeded. Returns undefined, with
 * `cleanup` run, when there is nothing to send: a HEAD request (answered with the headers
 * a GET starts with), a client that left during the first read, a device revoked
 * meanwhile, or a server shutting down. `cleanup` runs again whenever the stream ends, so it must be idempotent.
 */
export function openEventStream(deps: ApiDeps, request: FastifyRequest, reply: FastifyReply, cleanup: () => void): EventStream | undefined {
  const deviceId = currentDevice(request);
  if (request.method === 'HEAD') {
    cleanup();
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-cache, no-transform' }).end();
    return undefined;
  }
  reply.hijack();
  if (request.raw.socket.destroyed) {
    // The client went away during the first read: its 'close' has already been emitted.
    cleanup();
    return undefined;
  }
  const res = reply.raw;
  res.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  let forgetDevice = () => {};
  const close = () => {
    clearInterval(heartbeat);
    cleanup();
    forgetDevice();
    deps.liveStreams.delete(close);
    if (!res.writableEnded) res.end();
  };
  deps.liveStreams.add(close);
  // Revoking the device ends the stream (see DeviceStreams); revoked while the first
  // read ran, it has ended already and nothing is sent.
  forgetDevice = deps.deviceStreams.add(deviceId, close);
  // The server began shutting down during the first read, after it ended the streams then open.
  if (deps.closing()) close();
  if (res.writableEnded) return undefined;
  request.raw.on('close', close);
  res.write('retry: 2000\n\n');
  return { res, close };
}
