// A TEST DOUBLE of a KurrentDB server. It is not KurrentDB and proves nothing about KurrentDB
// itself: it lets tests drive the real, unmodified @kurrent/kurrentdb-client (and the Rust
// addon @kurrent/bridge that the client reads through) over real gRPC on HTTP/2, against an
// in-process @grpc/grpc-js server built from the client's own generated service definitions
// and message classes. What it answers is modelled on the KurrentDB 25.1 sources
// (Streams.Append.cs, Streams.BatchAppend.cs, Streams.Read.cs, IndexWriter.CheckCommit,
// Enumerator.AllSubscriptionFiltered, ServerFeatures.cs and its test).
//
// Implemented:
// - ServerFeatures.GetSupportedMethods: the method list of a single 25.1 node with projections
//   off (the server's own ServerFeaturesTest list), server version "25.1.0". BatchAppend can be
//   left out (`advertiseBatchAppend: false`) so that the client appends through Append.
// - Streams.Append and Streams.BatchAppend (correlation ids, batches joined until is_final, the
//   per-request deadline answered with a Timeout error) with the server's expected-revision and
//   idempotency rules: any / no_stream / stream_exists / exact revision; re-sending events whose
//   ids are already stored at that expected revision stores nothing and answers the original
//   revision and position; a partial match is a wrong expected version. A mismatch is answered
//   as the server does: in AppendResp.wrong_expected_version for Append, and as a
//   google.rpc.Status (ALREADY_EXISTS, details Any<event_store.client.WrongExpectedVersion>) in
//   BatchAppendResp.error for BatchAppend.
// - Streams.Read: a stream forwards/backwards from a revision with a count (StreamNotFound for a
//   missing stream; last_stream_position when the request asks for compatibility 1, as the
//   bridge does); $all forwards/backwards from a position with a count; the filters that
//   FilterOptions allows (stream-name or event-type, prefixes or regex); subscriptions to a
//   stream and to $all from start, end or a position (exclusive, as on the server), with a
//   filter on $all: confirmation, catch-up events, Checkpoint every max × multiplier scanned
//   events (max defaults to 32) and one when catch-up ends, CaughtUp, then live events, with
//   live checkpoints on the same interval.
// - Events: ids as the client sends them (string or structured UUID, answered in the form the
//   read asks for), data and custom metadata as bytes, metadata map with "type",
//   "content-type" (application/json, anything else stored and answered as
//   application/octet-stream) and "created" (.NET ticks since the Unix epoch).
// - $all positions: unsigned 64-bit, commit == prepare == the event's log position (as for the
//   self-committed records of a current server), advancing by a record-size-like amount, never
//   by 1, and not starting at 0 (system records precede user events on a real node).
//
// Observed by experiment: the client calls ServerFeatures.GetSupportedMethods, then
// Streams.BatchAppend (or Streams.Append when the call carries credentials, or when BatchAppend
// is not advertised) and Streams.Read for subscriptions; the bridge (readStream / readAll) opens
// its own connection and calls ServerFeatures.GetSupportedMethods and Streams.Read (string UUID
// option, "requires-leader: true" and, for stream reads, compatibility 1). No Gossip call on a
// single-node connection string. Every call that reaches the server is recorded in `rpcs()`.
//
// Advertised but answered UNIMPLEMENTED: Streams.Delete and Streams.Tombstone, every
// PersistentSubscriptions, Operations, Users, Monitoring and Redaction method, Gossip.Read, and
// the v2 StreamsService.AppendSession (multiStreamAppend). Registered, not advertised, also
// UNIMPLEMENTED: Projections, v2 AppendRecords and ServerInfoService.GetServerInfo.
//
// Fault hooks, and what they look like to the client:
// - silentAppends(on): appends are stored and never answered; the call stays open until the
//   client gives up on it.
// - dropNextAppendReply(): the next append is carried out (stored, or refused as a wrong
//   expected version) and its reply is lost: the call ends with UNAVAILABLE, which is what the
//   client sees when the connection drops after the server committed. A silent server is not
//   an alternative: BatchAppend calls carry no client-side deadline, so the client would wait
//   forever. The client turns UNAVAILABLE into UnavailableError and reconnects; for BatchAppend
//   every append still waiting on the same bidi call fails with it.
// - refuseConnections(on): clients reach the gRPC server through a TCP pass-through; on closes
//   it (new connections are refused, open ones are dropped, so every call fails UNAVAILABLE),
//   off opens it again on the same port.
// - cutSubscriptions(): every open subscription call ends with UNAVAILABLE, as a dropped
//   connection does; the client's subscription emits UnavailableError.
//
// Client behaviour seen against this double, worth knowing when writing tests: the bridge
// truncates `created` to whole seconds (subscriptions keep milliseconds); if the bridge's first
// connection fails, every later readStream/readAll of that client fails at once with
// UnavailableError; after an UnavailableError the next append asks for the server features
// again and, if that fails, rejects with the raw gRPC error (code 14), not UnavailableError;
// leaving a subscription's for-await loop does not cancel its call (unsubscribe() does).
//
// What it cannot prove: durability and fsync, leader elections, clusters and gossip, node
// preference and NotLeader redirects, scavenging, stream deletion and metadata, link
// resolution, ACLs and authentication, system events in $all, maximum append sizes,
// performance and back-pressure (replies are buffered, never throttled), and the exact timing
// of server-side checkpoints (the page boundaries of the server's filtered reads are modelled,
// not reproduced).
import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import {
  Server,
  ServerCredentials,
  status,
  type MethodDefinition,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type StatusObject,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import codePb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/code_pb.js';
import { GossipService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/gossip_grpc_pb.js';
import { OperationsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/operations_grpc_pb.js';
import { PersistentSubscriptionsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/persistentsubscriptions_grpc_pb.js';
import { ProjectionsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/projectionmanagement_grpc_pb.js';
import { ServerFeaturesService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_grpc_pb.js';
import serverFeaturesPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_pb.js';
import type { SupportedMethods } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_pb.js';
import sharedPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb.js';
import type { Empty, StreamIdentifier, UUID } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb.js';
import statusPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/status_pb.js';
import { StreamsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_grpc_pb.js';
import streamsPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb.js';
import type {
  AppendReq,
  AppendResp,
  BatchAppendReq,
  BatchAppendResp,
  ReadReq,
  ReadResp,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb.js';
import { UsersService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/usermanagement_grpc_pb.js';
import { ServerInfoServiceService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/features/service_grpc_pb.js';
import { StreamsServiceService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/streams/streams_grpc_pb.js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';

export interface KurrentDbDoubleOptions {
  /** Advertise Streams.BatchAppend (default true, as a real node does). */
  advertiseBatchAppend?: boolean;
  /** Log position of the first event written (default 0x2f4a, as if system records preceded it). */
  firstPosition?: bigint;
  /** Clock for the "created" timestamp of written events. */
  clock?: () => Date;
}

export interface LogPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export type ContentType = 'application/json' | 'application/octet-stream';

export interface StoredEvent {
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: LogPosition;
  /** Lower-case UUID, as the server's Guid prints it. */
  readonly id: string;
  readonly type: string;
  readonly contentType: ContentType;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  /** .NET ticks (100 ns) since the Unix epoch, as sent in the "created" metadata entry. */
  readonly created: bigint;
}

export interface KurrentDbDouble {
  /** kurrentdb://127.0.0.1:PORT?tls=false */
  readonly url: string;
  readonly port: number;
  /** Every stream's events in revision order. */
  streams(): ReadonlyMap<string, readonly StoredEvent[]>;
  /** One stream's events in revision order (empty when it does not exist). */
  stream(streamId: string): readonly StoredEvent[];
  /** $all in log order. */
  all(): readonly StoredEvent[];
  /** Paths of every RPC that reached the server, in arrival order, unimplemented ones included. */
  rpcs(): readonly string[];
  /** Number of subscription calls currently open. */
  openSubscriptions(): number;
  /** Carry out the next append, then end its call with UNAVAILABLE instead of the reply. */
  dropNextAppendReply(): void;
  /** On: carry out every append and never answer it (a server gone silent, e.g. behind a partition). */
  silentAppends(on: boolean): void;
  /** On: drop every open connection and refuse new ones; off: accept them again, same port. */
  refuseConnections(on: boolean): Promise<void>;
  /** End every open subscription call with UNAVAILABLE; returns how many were cut. */
  cutSubscriptions(): number;
  close(): Promise<void>;
}

export async function startKurrentDbDouble(options: KurrentDbDoubleOptions = {}): Promise<KurrentDbDouble> {
  const node = new DoubleNode(options);
  const port = await node.listen();
  return {
    url: `kurrentdb://127.0.0.1:${port}?tls=false`,
    port,
    streams: () => node.log.streams(),
    stream: (streamId) => node.log.stream(streamId),
    all: () => node.log.all(),
    rpcs: () => [...node.rpcLog],
    openSubscriptions: () => node.subscriptions.size,
    dropNextAppendReply: () => {
      node.dropNextAppendReply = true;
    },
    silentAppends: (on) => {
      node.silentAppends = on;
    },
    refuseConnections: (on) => node.refuseConnections(on),
    cutSubscriptions: () => node.cutSubscriptions(),
    close: () => node.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// The in-memory log and the server's append rules.

type ExpectedState =
  { readonly kind: 'any' } | { readonly kind: 'no_stream' } | { readonly kind: 'stream_exists' } | { readonly kind: 'revision'; readonly revision: bigint };

interface ProposedEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: ContentType;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

type AppendOutcome =
  /** revision undefined: the stream still does not exist (an empty append). */
  | { readonly kind: 'success'; readonly revision: bigint | undefined; readonly position: LogPosition | undefined }
  /** current undefined: the stream does not exist. */
  | { readonly kind: 'wrong_expected_version'; readonly current: bigint | undefined };

// Fixed part of a prepare record on disk (header, ids, flags, timestamps, length prefixes).
const RECORD_OVERHEAD = 90n;
const TICKS_PER_MILLISECOND = 10_000n;

class EventLog {
  readonly #log: StoredEvent[] = [];
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #listeners = new Set<(written: readonly StoredEvent[]) => void>();
  readonly #clock: () => Date;
  #nextPosition: bigint;

  constructor(firstPosition: bigint, clock: () => Date) {
    this.#nextPosition = firstPosition;
    this.#clock = clock;
  }

  streams(): ReadonlyMap<string, readonly StoredEvent[]> {
    return new Map([...this.#streams].map(([id, events]) => [id, [...events]]));
  }

  stream(streamId: string): readonly StoredEvent[] {
    return [...(this.#streams.get(streamId) ?? [])];
  }

  all(): readonly StoredEvent[] {
    return [...this.#log];
  }

  onWrite(listener: (written: readonly StoredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // IndexWriter.CheckCommit: `any` and `stream_exists` are idempotent when the first proposed id
  // is already in the stream (then every id must be); an explicit revision behind the stream's
  // is idempotent when the events after it carry exactly the proposed ids.
  append(streamId: string, expected: ExpectedState, proposed: readonly ProposedEvent[]): AppendOutcome {
    const stream = this.#streams.get(streamId) ?? [];
    const current = stream.length === 0 ? undefined : BigInt(stream.length - 1);
    const wrongExpectedVersion = { kind: 'wrong_expected_version', current } as const;

    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      if (expected.kind === 'stream_exists' && current === undefined) return wrongExpectedVersion;
      const matched = proposed.map((event) => stream.find((stored) => stored.id === event.id));
      if (matched[0] !== undefined) {
        const last = matched.at(-1);
        if (matched.includes(undefined) || last === undefined) return wrongExpectedVersion;
        return { kind: 'success', revision: last.revision, position: last.position };
      }
    } else {
      const expectedRevision = expected.kind === 'no_stream' ? -1n : expected.revision;
      const currentRevision = current ?? -1n;
      if (expectedRevision > currentRevision) return wrongExpectedVersion;
      if (expectedRevision < currentRevision) {
        const already = proposed.map((event, offset) => {
          const stored = stream[Number(expectedRevision) + 1 + offset];
          return stored?.id === event.id ? stored : undefined;
        });
        const last = already.at(-1);
        if (already.length === 0 || already.includes(undefined) || last === undefined) return wrongExpectedVersion;
        return { kind: 'success', revision: last.revision, position: last.position };
      }
    }
    return this.#write(streamId, stream, proposed);
  }

  #write(streamId: string, stream: StoredEvent[], proposed: readonly ProposedEvent[]): AppendOutcome {
    const created = BigInt(this.#clock().getTime()) * TICKS_PER_MILLISECOND;
    const written = proposed.map((event, offset): StoredEvent => {
      const logPosition = this.#nextPosition;
      this.#nextPosition += recordSize(streamId, event);
      return { ...event, streamId, revision: BigInt(stream.length + offset), position: { commit: logPosition, prepare: logPosition }, created };
    });
    if (written.length > 0) {
      this.#streams.set(streamId, [...stream, ...written]);
      this.#log.push(...written);
      for (const listener of this.#listeners) listener(written);
    }
    const last = written.at(-1) ?? stream.at(-1);
    return { kind: 'success', revision: last?.revision, position: written.at(-1)?.position };
  }
}

function recordSize(streamId: string, event: ProposedEvent): bigint {
  const strings = Buffer.byteLength(streamId) + Buffer.byteLength(event.type);
  return RECORD_OVERHEAD + BigInt(strings + event.data.length + event.metadata.length);
}

function take<T>(items: readonly T[], count: bigint): readonly T[] {
  return count >= BigInt(items.length) ? items : items.slice(0, Number(count));
}

function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The gRPC node.

const PERSISTENT_SUBSCRIPTION_METHODS = ['create', 'update', 'delete', 'read', 'getinfo', 'replayparked', 'list', 'restartsubsystem'];

// What a 25.1 node answers (lower-cased, as ServerFeatures.cs does), projections off.
const ADVERTISED: readonly { service: string; methods: readonly string[]; features?: Readonly<Record<string, readonly string[]>> }[] = [
  {
    service: 'event_store.client.streams.streams',
    methods: ['read', 'append', 'delete', 'tombstone', 'batchappend'],
    features: { read: ['position', 'events'], batchappend: ['deadline_duration'] },
  },
  {
    service: 'event_store.client.persistent_subscriptions.persistentsubscriptions',
    methods: PERSISTENT_SUBSCRIPTION_METHODS,
    features: Object.fromEntries(PERSISTENT_SUBSCRIPTION_METHODS.map((method) => [method, ['stream', 'all']])),
  },
  {
    service: 'event_store.client.operations.operations',
    methods: ['startscavenge', 'stopscavenge', 'shutdown', 'mergeindexes', 'resignnode', 'setnodepriority', 'restartpersistentsubscriptions'],
  },
  {
    service: 'event_store.client.users.users',
    methods: ['create', 'update', 'delete', 'disable', 'enable', 'details', 'changepassword', 'resetpassword'],
  },
  { service: 'event_store.client.gossip.gossip', methods: ['read'] },
  { service: 'event_store.client.monitoring.monitoring', methods: ['stats'] },
  { service: 'event_store.client.redaction.redaction', methods: ['geteventpositions', 'switchchunks'] },
  { service: 'kurrentdb.protocol.v2.streams.streamsservice', methods: ['appendsession'] },
  { service: 'event_store.client.server_features.serverfeatures', methods: ['getsupportedmethods'] },
];

const SERVER_VERSION = '25.1.0';
// setTimeout's limit; a later write deadline never fires within a test anyway.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Enumerator.DefaultReadBatchSize: the search window of a filtered read without `max`.
const DEFAULT_SEARCH_WINDOW = 32;

const SERVICES: readonly ServiceDefinition[] = [
  StreamsService,
  ServerFeaturesService,
  PersistentSubscriptionsService,
  OperationsService,
  UsersService,
  GossipService,
  ProjectionsService,
  StreamsServiceService,
  ServerInfoServiceService,
];

type ServerStatusResponse = Partial<StatusObject>;
/** The part of every kind of server call that the double looks at before handling it. */
type IncomingCall = Pick<ServerUnaryCall<unknown, unknown>, 'getPath'>;

interface OpenSubscription {
  deliver(written: readonly StoredEvent[]): void;
  cut(error: ServerStatusResponse): void;
}

class DoubleNode {
  readonly log: EventLog;
  readonly rpcLog: string[] = [];
  readonly subscriptions = new Set<OpenSubscription>();
  dropNextAppendReply = false;
  silentAppends = false;
  readonly #server = new Server();
  #gate: TcpGate | undefined;
  readonly #advertiseBatchAppend: boolean;

  constructor(options: KurrentDbDoubleOptions) {
    this.log = new EventLog(options.firstPosition ?? 0x2f4an, options.clock ?? (() => new Date()));
    this.#advertiseBatchAppend = options.advertiseBatchAppend ?? true;
    const implemented = new Map<string, UntypedHandleCall>([
      [ServerFeaturesService.getSupportedMethods.path, this.#getSupportedMethods],
      [StreamsService.append.path, this.#appendCall],
      [StreamsService.batchAppend.path, this.#batchAppendCall],
      [StreamsService.read.path, this.#readCall],
    ]);
    for (const service of SERVICES) {
      const handlers = Object.fromEntries(Object.entries(service).map(([name, method]) => [name, implemented.get(method.path) ?? this.#unimplemented(method)]));
      this.#server.addService(service, handlers);
    }
  }

  // The gRPC server listens on a private port; clients connect through a TCP gate that
  // refuseConnections can close and reopen on the same port.
  async listen(): Promise<number> {
    const privatePort = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    this.#gate = new TcpGate(privatePort);
    return this.#gate.open();
  }

  async refuseConnections(on: boolean): Promise<void> {
    if (this.#gate === undefined) throw new Error('The double is not listening');
    if (on) this.#gate.refuse();
    else await this.#gate.open();
  }

  cutSubscriptions(): number {
    const open = [...this.subscriptions];
    for (const subscription of open) subscription.cut({ code: status.UNAVAILABLE, details: 'Connection dropped' });
    return open.length;
  }

  async close(): Promise<void> {
    this.#gate?.refuse();
    this.cutSubscriptions();
    this.#server.forceShutdown();
  }

  #received(call: IncomingCall): void {
    this.rpcLog.push(call.getPath());
  }

  #unimplemented(method: MethodDefinition<unknown, unknown>): UntypedHandleCall {
    const error = { code: status.UNIMPLEMENTED, details: `The test double does not implement ${method.path}` };
    if (method.responseStream) {
      return (call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) => {
        this.#received(call);
        call.emit('error', error);
      };
    }
    return (call: IncomingCall, callback: sendUnaryData<unknown>) => {
      this.#received(call);
      callback(error);
    };
  }

  #getSupportedMethods = (call: ServerUnaryCall<Empty, SupportedMethods>, callback: sendUnaryData<SupportedMethods>): void => {
    this.#received(call);
    const reply = new serverFeaturesPb.SupportedMethods().setEventStoreServerVersion(SERVER_VERSION);
    for (const { service, methods, features } of ADVERTISED) {
      for (const method of methods) {
        if (method === 'batchappend' && !this.#advertiseBatchAppend) continue;
        reply.addMethods(
          new serverFeaturesPb.SupportedMethod()
            .setServiceName(service)
            .setMethodName(method)
            .setFeaturesList([...(features?.[method] ?? [])]),
        );
      }
    }
    callback(null, reply);
  };

  // Carries out an append, or returns 'reply lost' when dropNextAppendReply asked for it,
  // or 'silent' (stored, never answered) while silentAppends is on.
  #append(streamId: string, expected: ExpectedState, events: readonly ProposedEvent[]): AppendOutcome | 'reply lost' | 'silent' {
    const outcome = this.log.append(streamId, expected, events);
    if (this.silentAppends) return 'silent';
    if (!this.dropNextAppendReply) return outcome;
    this.dropNextAppendReply = false;
    return 'reply lost';
  }

  // Streams.Append: options first, then one proposed message per event, answered on half-close.
  #appendCall = (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>): void => {
    this.#received(call);
    const requests: AppendReq[] = [];
    call.on('data', (request: AppendReq) => requests.push(request));
    call.on('end', () => {
      const [header, ...messages] = requests;
      const options = header?.getOptions();
      let request: { streamId: string; expected: ExpectedState; events: ProposedEvent[] };
      try {
        if (options === undefined) throw new Error('Append expects options first');
        request = {
          streamId: streamName(options.getStreamIdentifier()),
          expected: appendExpectedState(options),
          events: messages.map((message) => toProposedEvent(message.getProposedMessage())),
        };
      } catch (error) {
        callback(asInvalidArgument(error));
        return;
      }
      const outcome = this.#append(request.streamId, request.expected, request.events);
      if (outcome === 'silent') return;
      if (outcome === 'reply lost') callback({ code: status.UNAVAILABLE, details: 'Connection dropped' });
      else callback(null, appendResponse(outcome, request.expected));
    });
  };

  #batchAppendCall = (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void => {
    this.#received(call);
    new BatchAppendSession(call, (streamId, expected, events) => this.#append(streamId, expected, events));
  };

  #readCall = (call: ServerWritableStream<ReadReq, ReadResp>): void => {
    this.#received(call);
    const options = call.request.getOptions();
    if (options === undefined) {
      call.emit('error', { code: status.INVALID_ARGUMENT, details: 'Read expects options' });
      return;
    }
    let request: ReadRequest;
    try {
      request = parseReadOptions(options);
    } catch (error) {
      call.emit('error', asInvalidArgument(error));
      return;
    }
    if (request.subscription) this.#subscribe(call, request);
    else {
      for (const response of this.#readOnce(request)) call.write(response);
      call.end();
    }
  };

  *#readOnce(request: ReadRequest): Generator<ReadResp> {
    const { source, uuid, backwards, count } = request;
    if (source.kind === 'stream') {
      const events = this.log.stream(source.streamId);
      const last = events.at(-1)?.revision;
      if (last === undefined) {
        yield new streamsPb.ReadResp().setStreamNotFound(new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(source.streamId)));
        return;
      }
      // Both directions include the revision they start from.
      const from = source.from === 'start' ? 0n : source.from === 'end' ? (backwards ? last : last + 1n) : source.from;
      const inRange = backwards ? events.filter((e) => e.revision <= from).reverse() : events.filter((e) => e.revision >= from);
      for (const event of take(inRange, count)) yield readEventResponse(event, uuid);
      if (request.compatibility >= 1) yield new streamsPb.ReadResp().setLastStreamPosition(String(last));
      return;
    }
    // Forwards includes the position it starts from, backwards starts before it.
    const { from } = source;
    const matches = request.filter ?? (() => true);
    const inRange = backwards
      ? (event: StoredEvent) => from === 'end' || (from !== 'start' && comparePositions(event.position, from) < 0)
      : (event: StoredEvent) => from === 'start' || (from !== 'end' && comparePositions(event.position, from) >= 0);
    const all = backwards ? [...this.log.all()].reverse() : this.log.all();
    for (const event of take(
      all.filter((e) => inRange(e) && matches(e)),
      count,
    ))
      yield readEventResponse(event, uuid);
  }

  #subscribe(call: ServerWritableStream<ReadReq, ReadResp>, request: ReadRequest): void {
    const { source, uuid, checkpoints } = request;
    const matches = request.filter ?? (() => true);
    const isLive = source.kind === 'stream' ? (event: StoredEvent) => event.streamId === source.streamId : matches;
    const send = (response: ReadResp) => call.write(response);
    let considered = 0;

    const subscription: OpenSubscription = {
      deliver: (written) => {
        for (const event of written) {
          if (isLive(event)) send(readEventResponse(event, uuid));
          if (checkpoints !== undefined && ++considered >= checkpoints.every) {
            considered = 0;
            send(checkpointResponse(event.position));
          }
        }
      },
      cut: (error) => {
        stop();
        call.emit('error', error);
      },
    };
    const unsubscribe = this.log.onWrite((written) => subscription.deliver(written));
    const stop = () => {
      unsubscribe();
      this.subscriptions.delete(subscription);
    };
    call.on('cancelled', stop);
    this.subscriptions.add(subscription);

    send(new streamsPb.ReadResp().setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
    const caughtUp = new streamsPb.ReadResp.CaughtUp().setTimestamp(timestampPb.Timestamp.fromDate(new Date()));
    if (source.kind === 'stream') {
      const revision = this.#catchUpStream(source.streamId, source.from, uuid, send);
      if (revision !== undefined) caughtUp.setStreamRevision(String(revision));
    } else {
      const position = this.#catchUpAll(source.from, matches, checkpoints, uuid, send);
      if (position !== undefined) caughtUp.setPosition(readPosition(position));
    }
    send(new streamsPb.ReadResp().setCaughtUp(caughtUp));
  }

  // Sends the stream's events after the starting revision (a subscription starts after the
  // revision it is given) and returns the revision it has caught up to.
  #catchUpStream(streamId: string, from: bigint | 'start' | 'end', uuid: UuidForm, send: (response: ReadResp) => void): bigint | undefined {
    const events = this.log.stream(streamId);
    const last = events.at(-1)?.revision;
    if (from === 'end') return last;
    const after = from === 'start' ? -1n : from;
    for (const event of events) if (event.revision > after) send(readEventResponse(event, uuid));
    const caughtUpTo = last !== undefined && last > after ? last : after;
    return caughtUpTo >= 0n ? caughtUpTo : undefined;
  }

  // Enumerator.AllSubscriptionFiltered.CatchUp: pages of `window` scanned events, a checkpoint
  // once `every` events were scanned and one at the end of the log. Returns the position it has
  // caught up to (undefined while nothing precedes it).
  #catchUpAll(
    from: LogPosition | 'start' | 'end',
    matches: (event: StoredEvent) => boolean,
    checkpoints: CheckpointInterval | undefined,
    uuid: UuidForm,
    send: (response: ReadResp) => void,
  ): LogPosition | undefined {
    const all = this.log.all();
    if (from === 'end') return all.at(-1)?.position;
    const remaining = from === 'start' ? all : all.filter((event) => comparePositions(event.position, from) > 0);
    const start = from === 'start' ? undefined : from;
    if (checkpoints === undefined) {
      for (const event of remaining) if (matches(event)) send(readEventResponse(event, uuid));
      return remaining.at(-1)?.position ?? start;
    }
    let checkpoint = start;
    let scanned = 0;
    for (let page = 0; page < remaining.length; page += checkpoints.window) {
      const events = remaining.slice(page, page + checkpoints.window);
      for (const event of events) if (matches(event)) send(readEventResponse(event, uuid));
      checkpoint = events.at(-1)?.position ?? checkpoint;
      scanned += events.length;
      const endOfLog = page + checkpoints.window >= remaining.length;
      if (!endOfLog && scanned >= checkpoints.every && checkpoint !== undefined) {
        scanned %= checkpoints.every;
        send(checkpointResponse(checkpoint));
      }
    }
    if (checkpoint !== undefined) send(checkpointResponse(checkpoint));
    return checkpoint;
  }
}

type Appender = (streamId: string, expected: ExpectedState, events: readonly ProposedEvent[]) => AppendOutcome | 'reply lost' | 'silent';

interface PendingWrite {
  readonly streamId: string;
  readonly expected: ExpectedState;
  readonly events: ProposedEvent[];
  readonly timer: NodeJS.Timeout | undefined;
}

// Streams.BatchAppend: one bidi call carries many writes, told apart by correlation id. A
// write's options come with its first batch; it is carried out on the batch marked final, or
// answered with a Timeout error when its deadline passes first.
class BatchAppendSession {
  readonly #call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>;
  readonly #append: Appender;
  readonly #pending = new Map<string, PendingWrite>();
  #ended = false;

  constructor(call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>, append: Appender) {
    this.#call = call;
    this.#append = append;
    call.on('cancelled', () => this.#end());
    call.on('end', () => {
      if (this.#ended) return;
      this.#end();
      call.end();
    });
    call.on('data', (request: BatchAppendReq) => {
      if (!this.#ended) this.#receive(request);
    });
  }

  #receive(request: BatchAppendReq): void {
    const correlationId = request.getCorrelationId();
    const options = request.getOptions();
    let key: string | undefined;
    let write: PendingWrite | undefined;
    try {
      key = uuidToString(correlationId);
      if (options !== undefined && !this.#pending.has(key) && !this.#begin(key, correlationId, options)) return;
      write = this.#pending.get(key);
      write?.events.push(...request.getProposedMessagesList().map((message) => toProposedEvent(message)));
    } catch (error) {
      this.#abandon(key);
      const identifier = options?.getStreamIdentifier();
      this.#reply(correlationId, identifier === undefined ? '' : streamName(identifier), (r) => r.setError(badRequestStatus(error)));
      return;
    }
    if (write === undefined || !request.getIsFinal()) return;
    this.#abandon(key);
    const outcome = this.#append(write.streamId, write.expected, write.events);
    if (outcome === 'silent') return;
    if (outcome === 'reply lost') {
      this.#end();
      this.#call.emit('error', { code: status.UNAVAILABLE, details: 'Connection dropped' });
      return;
    }
    const { expected } = write;
    this.#reply(correlationId, write.streamId, (r) => fillBatchAppendResponse(r, outcome, expected));
  }

  // Registers a write; false (answered with a Timeout error) when its deadline has passed.
  #begin(key: string, correlationId: UUID | undefined, options: BatchAppendReq.Options): boolean {
    const streamId = streamName(options.getStreamIdentifier());
    const timeout = batchDeadline(options) - Date.now();
    if (timeout <= 0) {
      this.#reply(correlationId, streamId, (r) => r.setError(timeoutStatus()));
      return false;
    }
    const timer = Number.isFinite(timeout)
      ? setTimeout(
          () => {
            if (this.#ended || !this.#pending.has(key)) return;
            this.#abandon(key);
            this.#reply(correlationId, streamId, (r) => r.setError(timeoutStatus()));
          },
          Math.min(timeout, MAX_TIMER_MS),
        ).unref()
      : undefined;
    this.#pending.set(key, { streamId, expected: batchExpectedState(options), events: [], timer });
    return true;
  }

  #abandon(key: string | undefined): void {
    if (key === undefined) return;
    clearTimeout(this.#pending.get(key)?.timer);
    this.#pending.delete(key);
  }

  #reply(correlationId: UUID | undefined, streamId: string, fill: (response: BatchAppendResp) => void): void {
    const response = new streamsPb.BatchAppendResp().setCorrelationId(correlationId).setStreamIdentifier(streamIdentifier(streamId));
    fill(response);
    this.#call.write(response);
  }

  #end(): void {
    this.#ended = true;
    for (const key of [...this.#pending.keys()]) this.#abandon(key);
  }
}

// A TCP pass-through in front of the gRPC server. Refusing closes the listening socket (new
// connections get ECONNREFUSED) and destroys every open connection, as a node going away does.
class TcpGate {
  readonly #upstreamPort: number;
  readonly #sockets = new Set<Socket>();
  #listener: NetServer | undefined;
  #port = 0;

  constructor(upstreamPort: number) {
    this.#upstreamPort = upstreamPort;
  }

  async open(): Promise<number> {
    if (this.#listener !== undefined) return this.#port;
    // No Nagle on either leg: a relay that holds back small writes until the peer's
    // delayed ACK adds ~40 ms to streamed reads. (The bridge's own connection still has
    // Nagle on, kurrent-io/KurrentDB-Client-Rust#232: some reads take ~44 ms, as they
    // would against a real server.)
    const listener = createServer({ noDelay: true }, (client) => {
      const upstream = connect({ port: this.#upstreamPort, host: '127.0.0.1', noDelay: true });
      for (const [socket, peer] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(socket);
        socket.on('error', () => peer.destroy());
        socket.on('close', () => {
          this.#sockets.delete(socket);
          peer.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (listener.address() as AddressInfo).port;
    this.#listener = listener;
    return this.#port;
  }

  refuse(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const socket of this.#sockets) socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Requests.

type UuidForm = 'string' | 'structured';

interface CheckpointInterval {
  /** Events scanned per page (FilterOptions.max, default 32). */
  readonly window: number;
  /** Events scanned between two checkpoints: window × checkpointIntervalMultiplier. */
  readonly every: number;
}

interface ReadRequest {
  readonly source:
    | { readonly kind: 'stream'; readonly streamId: string; readonly from: bigint | 'start' | 'end' }
    | { readonly kind: 'all'; readonly from: LogPosition | 'start' | 'end' };
  readonly backwards: boolean;
  readonly count: bigint;
  readonly subscription: boolean;
  readonly filter: ((event: StoredEvent) => boolean) | undefined;
  readonly checkpoints: CheckpointInterval | undefined;
  readonly uuid: UuidForm;
  readonly compatibility: number;
}

function parseReadOptions(options: ReadReq.Options): ReadRequest {
  const { Options } = streamsPb.ReadReq;
  const subscription = options.getCountOptionCase() === Options.CountOptionCase.SUBSCRIPTION;
  const backwards = options.getReadDirection() === Options.ReadDirection.BACKWARDS;
  const filterOptions = options.getFilterOptionCase() === Options.FilterOptionCase.FILTER ? options.getFilter() : undefined;
  let source: ReadRequest['source'];
  const stream = options.getStream();
  const all = options.getAll();
  if (stream !== undefined) {
    const { RevisionOptionCase } = Options.StreamOptions;
    const revisionCase = stream.getRevisionOptionCase();
    const from = revisionCase === RevisionOptionCase.START ? 'start' : revisionCase === RevisionOptionCase.END ? 'end' : BigInt(stream.getRevision());
    source = { kind: 'stream', streamId: streamName(stream.getStreamIdentifier()), from };
    if (filterOptions !== undefined) throw new Error('A stream read takes no filter');
  } else if (all !== undefined) {
    const { AllOptionCase } = Options.AllOptions;
    const position = all.getPosition();
    const from =
      all.getAllOptionCase() === AllOptionCase.START
        ? 'start'
        : all.getAllOptionCase() === AllOptionCase.END || position === undefined
          ? 'end'
          : { commit: BigInt(position.getCommitPosition()), prepare: BigInt(position.getPreparePosition()) };
    source = { kind: 'all', from };
  } else {
    throw new Error('Read expects a stream or $all');
  }
  if (subscription && backwards) throw new Error('Subscriptions read forwards');
  let checkpoints: CheckpointInterval | undefined;
  if (filterOptions !== undefined && subscription) {
    const window = filterOptions.getWindowCase() === Options.FilterOptions.WindowCase.MAX ? filterOptions.getMax() : DEFAULT_SEARCH_WINDOW;
    const multiplier = filterOptions.getCheckpointintervalmultiplier();
    if (window <= 0 || multiplier <= 0) throw new Error('The checkpoint interval must be positive');
    checkpoints = { window, every: window * multiplier };
  }
  return {
    source,
    backwards,
    count: subscription ? 0n : BigInt(options.getCount()),
    subscription,
    filter: filterOptions === undefined ? undefined : compileFilter(filterOptions),
    checkpoints,
    uuid: options.getUuidOption()?.getContentCase() === Options.UUIDOption.ContentCase.STRUCTURED ? 'structured' : 'string',
    compatibility: options.getControlOption()?.getCompatibility() ?? 0,
  };
}

// EventFilter: a regex when one is given, otherwise the prefixes, on the stream name or the type.
function compileFilter(filter: ReadReq.Options.FilterOptions): (event: StoredEvent) => boolean {
  const onStream = filter.getFilterCase() === streamsPb.ReadReq.Options.FilterOptions.FilterCase.STREAM_IDENTIFIER;
  const expression = onStream ? filter.getStreamIdentifier() : filter.getEventType();
  if (expression === undefined) throw new Error('A filter needs a stream-name or an event-type expression');
  const field = (event: StoredEvent) => (onStream ? event.streamId : event.type);
  const regex = expression.getRegex();
  if (regex !== '') {
    const pattern = new RegExp(regex);
    return (event) => pattern.test(field(event));
  }
  const prefixes = expression.getPrefixList();
  return (event) => prefixes.some((prefix) => field(event).startsWith(prefix));
}

function appendExpectedState(options: AppendReq.Options): ExpectedState {
  const { ExpectedStreamRevisionCase } = streamsPb.AppendReq.Options;
  switch (options.getExpectedStreamRevisionCase()) {
    case ExpectedStreamRevisionCase.REVISION:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    case ExpectedStreamRevisionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case ExpectedStreamRevisionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    default:
      return { kind: 'any' };
  }
}

function batchExpectedState(options: BatchAppendReq.Options): ExpectedState {
  const { ExpectedStreamPositionCase } = streamsPb.BatchAppendReq.Options;
  switch (options.getExpectedStreamPositionCase()) {
    case ExpectedStreamPositionCase.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    case ExpectedStreamPositionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case ExpectedStreamPositionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    default:
      return { kind: 'any' };
  }
}

// The deadline the client put on a write (absolute in 21.10, a duration since).
function batchDeadline(options: BatchAppendReq.Options): number {
  const absolute = options.getDeadline21100();
  if (absolute !== undefined) return absolute.toDate().getTime();
  const relative = options.getDeadline();
  if (relative !== undefined) return Date.now() + relative.getSeconds() * 1000 + relative.getNanos() / 1e6;
  return Number.POSITIVE_INFINITY;
}

interface ProposedMessage {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}

// The server requires the "type" and "content-type" metadata entries and keeps only whether the
// content is JSON.
function toProposedEvent(message: ProposedMessage | undefined): ProposedEvent {
  if (message === undefined) throw new Error('Missing proposed message');
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (type === undefined) throw new Error('Required metadata property "type" is missing');
  if (contentType === undefined) throw new Error('Required metadata property "content-type" is missing');
  return {
    id: uuidToString(message.getId()),
    type,
    contentType: contentType === 'application/json' ? 'application/json' : 'application/octet-stream',
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  };
}

function asInvalidArgument(error: unknown): ServerStatusResponse {
  return { code: status.INVALID_ARGUMENT, details: error instanceof Error ? error.message : String(error) };
}

// ---------------------------------------------------------------------------------------------
// Responses.

function appendResponse(outcome: AppendOutcome, expected: ExpectedState): AppendResp {
  const { AppendResp } = streamsPb;
  const response = new AppendResp();
  if (outcome.kind === 'success') {
    const success = new AppendResp.Success();
    if (outcome.revision === undefined) success.setNoStream(new sharedPb.Empty());
    else success.setCurrentRevision(String(outcome.revision));
    if (outcome.position === undefined) success.setNoPosition(new sharedPb.Empty());
    else success.setPosition(new AppendResp.Position().setCommitPosition(String(outcome.position.commit)).setPreparePosition(String(outcome.position.prepare)));
    return response.setSuccess(success);
  }
  // Streams.Append.cs fills the 20.6.0 fields too; the one it sets to ulong.MaxValue for an
  // expected no_stream is left out, as a JS number cannot carry it.
  const wrong = new AppendResp.WrongExpectedVersion();
  switch (expected.kind) {
    case 'any':
      wrong.setExpectedAny(new sharedPb.Empty()).setAny2060(new sharedPb.Empty());
      break;
    case 'stream_exists':
      wrong.setExpectedStreamExists(new sharedPb.Empty()).setStreamExists2060(new sharedPb.Empty());
      break;
    case 'no_stream':
      wrong.setExpectedNoStream(new sharedPb.Empty());
      break;
    case 'revision':
      wrong.setExpectedRevision(String(expected.revision)).setExpectedRevision2060(Number(expected.revision));
      break;
  }
  if (outcome.current === undefined) wrong.setCurrentNoStream(new sharedPb.Empty()).setNoStream2060(new sharedPb.Empty());
  else wrong.setCurrentRevision(String(outcome.current)).setCurrentRevision2060(Number(outcome.current));
  return response.setWrongExpectedVersion(wrong);
}

function fillBatchAppendResponse(response: BatchAppendResp, outcome: AppendOutcome, expected: ExpectedState): void {
  if (outcome.kind === 'success') {
    const success = new streamsPb.BatchAppendResp.Success();
    if (outcome.revision === undefined) success.setNoStream(new emptyPb.Empty());
    else success.setCurrentRevision(String(outcome.revision));
    if (outcome.position === undefined) success.setNoPosition(new emptyPb.Empty());
    else
      success.setPosition(
        new sharedPb.AllStreamPosition().setCommitPosition(String(outcome.position.commit)).setPreparePosition(String(outcome.position.prepare)),
      );
    response.setSuccess(success);
    return;
  }
  const details = new sharedPb.WrongExpectedVersion();
  if (outcome.current === undefined) details.setCurrentNoStream(new emptyPb.Empty());
  else details.setCurrentStreamRevision(String(outcome.current));
  switch (expected.kind) {
    case 'any':
      details.setExpectedAny(new emptyPb.Empty());
      break;
    case 'stream_exists':
      details.setExpectedStreamExists(new emptyPb.Empty());
      break;
    case 'no_stream':
      details.setExpectedNoStream(new emptyPb.Empty());
      break;
    case 'revision':
      details.setExpectedStreamPosition(String(expected.revision));
      break;
  }
  response.setError(rpcStatus(codePb.Code.ALREADY_EXISTS, 'WrongExpectedVersion', 'event_store.client.WrongExpectedVersion', details));
}

function badRequestStatus(error: unknown) {
  return rpcStatus(codePb.Code.INVALID_ARGUMENT, error instanceof Error ? error.message : String(error), 'google.protobuf.Empty', new emptyPb.Empty());
}

function timeoutStatus() {
  return rpcStatus(codePb.Code.DEADLINE_EXCEEDED, 'Timeout', 'event_store.client.Timeout', new sharedPb.Timeout());
}

// google.rpc.Status as Status.cs builds it: a code, a message and one packed detail.
function rpcStatus(code: codePb.Code, message: string, detailType: string, detail: { serializeBinary(): Uint8Array }) {
  const details = new anyPb.Any();
  details.pack(detail.serializeBinary(), detailType);
  return new statusPb.Status().setCode(code).setMessage(message).setDetails(details);
}

function readEventResponse(event: StoredEvent, uuid: UuidForm): ReadResp {
  const { ReadResp } = streamsPb;
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(toWireUuid(event.id, uuid))
    .setStreamIdentifier(streamIdentifier(event.streamId))
    .setStreamRevision(String(event.revision))
    .setCommitPosition(String(event.position.commit))
    .setPreparePosition(String(event.position.prepare))
    .setData(event.data)
    .setCustomMetadata(event.metadata);
  recorded.getMetadataMap().set('type', event.type).set('created', String(event.created)).set('content-type', event.contentType);
  return new ReadResp().setEvent(new ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(String(event.position.commit)));
}

function checkpointResponse(position: LogPosition): ReadResp {
  const checkpoint = new streamsPb.ReadResp.Checkpoint()
    .setCommitPosition(String(position.commit))
    .setPreparePosition(String(position.prepare))
    .setTimestamp(timestampPb.Timestamp.fromDate(new Date()));
  return new streamsPb.ReadResp().setCheckpoint(checkpoint);
}

function readPosition(position: LogPosition): ReadResp.Position {
  return new streamsPb.ReadResp.Position().setCommitPosition(String(position.commit)).setPreparePosition(String(position.prepare));
}

function streamName(identifier: StreamIdentifier | undefined): string {
  if (identifier === undefined) throw new Error('Missing stream identifier');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

function streamIdentifier(streamId: string): StreamIdentifier {
  return new sharedPb.StreamIdentifier().setStreamName(Buffer.from(streamId, 'utf8'));
}

// UUIDs travel as a string or as two signed 64-bit halves of the canonical form (Uuid.ToDto).
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidToString(uuid: UUID | undefined): string {
  if (uuid === undefined) throw new Error('Missing UUID');
  const structured = uuid.getStructured();
  const text = structured
    ? [structured.getMostSignificantBits(), structured.getLeastSignificantBits()]
        .map((half) => BigInt.asUintN(64, BigInt(half)).toString(16).padStart(16, '0'))
        .join('')
    : uuid.getString().toLowerCase().replaceAll('-', '');
  const canonical = `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  if (!UUID_PATTERN.test(canonical)) throw new Error(`Not a UUID: ${uuid.getString()}`);
  return canonical;
}

function toWireUuid(id: string, form: UuidForm): UUID {
  if (form === 'string') return new sharedPb.UUID().setString(id);
  const hex = id.replaceAll('-', '');
  const half = (digits: string) => BigInt.asIntN(64, BigInt(`0x${digits}`)).toString();
  return new sharedPb.UUID().setStructured(
    new sharedPb.UUID.Structured().setMostSignificantBits(half(hex.slice(0, 16))).setLeastSignificantBits(half(hex.slice(16))),
  );
}
