/**
 * One client connection: decode frames, validate each request, run `handle()` for many requests
 * at once (pipelining; responses carry the request id and may leave out of order), and write all
 * responses ready in one event-loop turn with one socket write.
 *
 * Memory is bounded by bytes, whatever the client does (it may pipeline thousands of large reads
 * and never read the answers):
 * - `accepted` counts requests taken off the wire and not yet answered (queued or running) and
 *   never exceeds `inflightMax`; more get OVERLOADED without running.
 * - Accepted requests start in arrival order. Each running request reserves its worst-case
 *   response size (`responseBytesBound`). A request starts only while `reserved + unsent + its
 *   bound <= responseBytesMax`, where `unsent` is output not yet taken by the kernel (the socket's
 *   `writableLength` plus the batch for the next write) — or, so that a budget smaller than one
 *   response still makes progress, when nothing runs and the socket has taken all output without
 *   pushing back. So `reserved + unsent` stays within `responseBytesMax` plus one response (and
 *   the socket's high-water mark); a response larger than its bound only delays the next start.
 * - While a request waits to start, or unsent output exceeds the budget, the connection stops
 *   reading from the socket (checked after every chunk read), so requests taken off the wire are
 *   limited to one chunk beyond that point. Error answers to invalid requests reserve nothing, so
 *   they may pass the budget by the answers to one chunk (64 KiB) of requests.
 * Waiting requests start as running ones finish, the batch is written, or the socket drains.
 *
 * Watches (`watch`, `watchCancel`) are served by the node's watch hub (watch/watch-hub.ts): a
 * watch is a request that stays accepted while it runs, pushing `WatchEventsFrame`s through this
 * connection (only while less than `WATCH_SINK_BYTES` of output is unsent) until it ends with
 * one response. At most `LIMITS.watchesPerConnectionMax` per connection; closing the connection
 * ends them, and `drain()` (shutdown) ends them with SHUTTING_DOWN.
 *
 * Time limits (checked by the server's sweep, `sweep(now)`), so that no connection holds its slot
 * without using it:
 * - a frame once started must be complete within `frameTimeoutMs` (slowloris): the connection gets
 *   a TIMEOUT error frame (id -1) and closes (the wait does not count while this side stops reading);
 * - a new connection must send its first request within `firstRequestTimeoutMs`;
 * - a connection with nothing in flight, nothing unsent and no partial frame is closed after
 *   `idleTimeoutMs` without an answer (a request it sends meanwhile is never read, so it is
 *   certainly not applied).
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '@keel/raft';
import type { ClientRequest, ClientResponse, ClientResults, PeerHelloResult, WatchEventsFrame, WireError } from '@keel/protocol';
import {
  FrameBatch,
  FrameDecoder,
  KeelError,
  LIMITS,
  NO_REQUEST_ID,
  RequestValidationError,
  TLS_HANDSHAKE_RECORD,
  encodeFrame,
  validateClientRequest,
} from '@keel/protocol';
import {
  asKeelError,
  frameTimeoutError,
  handlerFailedError,
  inflightFullError,
  peerAtClientPortError,
  tlsClientAtPlaintextPortError,
  unsendableResponseError,
} from '../transport/errors.js';
import { closeGracefully } from '../transport/graceful-close.js';
import { responseBytesBound } from './response-cost.js';
import { tooManyWatchesError, watchesShutDownError } from '../watch/watch-errors.js';
import type { WatchHub } from '../watch/watch-hub.js';
import { WATCH_SINK_BYTES, type WatchSink, type Watcher } from '../watch/watcher.js';

export type ClientHandler = (request: ClientRequest, identity: ConnectionIdentity) => Promise<ClientResults[ClientRequest['op']]>;

/** Who is at the other end of a connection, as far as auth knows (the auth gate reads and sets it). */
export interface ConnectionIdentity {
  /** Common name of the client certificate the port verified (on ports that require client certificates). */
  readonly certificateName: string | undefined;
  /** The user the connection authenticated as, with the revision of the password it used. */
  user: { readonly name: string; readonly passwordRevision: number } | undefined;
  /** An `authenticate` is running on the connection. */
  authenticating: boolean;
}

export interface ClientConnectionSettings {
  readonly logger: Logger;
  readonly handle: ClientHandler;
  readonly maxFrameBytes: number;
  readonly inflightMax: number;
  /** Budget of response bytes held per connection (reserved for running requests + unsent). */
  readonly responseBytesMax: number;
  /** Where this node listens for peers ('' when unknown), named to a node that dialled the client port. */
  readonly peerAddress: () => string;
  readonly frameTimeoutMs: number;
  readonly firstRequestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** The connection's first frame arrived: it is no longer a candidate for eviction. */
  readonly onFirstFrame: (connection: ClientConnection) => void;
  readonly onClosed: (connection: ClientConnection) => void;
  /** Serves `watch` requests; absent: they go to `handle` like any request (which refuses them). */
  readonly watches?: Pick<WatchHub, 'open'> | undefined;
  /**
   * Checks a watch against the auth state (the auth gate): throws when it may not open, else
   * returns a check that throws once it may no longer read its range (run before each frame).
   * Absent: watches are not checked.
   */
  readonly authorizeWatch?: ((request: Extract<ClientRequest, { op: 'watch' }>, identity: ConnectionIdentity) => () => void) | undefined;
}

/** The clock of the time limits: monotonic milliseconds. */
export function nowMs(): number {
  return performance.now();
}

export class ClientConnection {
  private readonly decoder: FrameDecoder;
  readonly identity: ConnectionIdentity;
  private readonly batch: FrameBatch;
  /** Requests accepted and not yet answered: waiting in `queue` or running. */
  private accepted = 0;
  /** Accepted requests waiting to start, oldest first from `queueHead`. */
  private queue: ClientRequest[] = [];
  private queueHead = 0;
  private running = 0;
  /** Sum of `responseBytesBound` over running requests. */
  private reserved = 0;
  private peakHeld = 0;
  private flushScheduled = false;
  private readingPaused = false;
  private drainAwaited = false;
  private closed = false;
  /** Set by `drain()`: called whenever a request finishes. */
  private drained: (() => void) | undefined;
  /** When the connection was accepted (`nowMs()`). */
  readonly openedAtMs = nowMs();
  private framesReceived = 0;
  /** Last time a frame arrived, responses were written, or the last request finished. */
  private lastActiveMs = this.openedAtMs;
  /** Since when the decoder holds part of a frame (while reading), or null. */
  private partialSinceMs: number | null = null;
  /** Open watches by request id. */
  private readonly watches = new Map<number, Watcher>();
  /** Watchers waiting for the unsent output to fall below `WATCH_SINK_BYTES`. */
  private roomWaiters: Array<() => void> = [];
  private roomDrainAwaited = false;
  private readonly watchSink: WatchSink = {
    send: (frame) => this.push(frame),
    hasRoom: () => this.closed || this.unsentBytes < WATCH_SINK_BYTES,
    room: () => (this.watchSink.hasRoom() ? Promise.resolve() : new Promise<void>((resolve) => this.roomWaiters.push(resolve))),
  };
  private readonly flushBound = (): void => this.flush();
  private readonly onDrainBound = (): void => {
    this.drainAwaited = false;
    this.pump();
  };

  constructor(
    readonly socket: net.Socket,
    private readonly settings: ClientConnectionSettings,
  ) {
    socket.setNoDelay(true);
    this.identity = { certificateName: certificateName(socket), user: undefined, authenticating: false };
    this.decoder = new FrameDecoder({ maxFrameBytes: settings.maxFrameBytes, plainValues: true });
    this.batch = new FrameBatch(settings.maxFrameBytes, { plainValues: true });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      settings.logger.log('debug', 'client.connection.error', { remote: socket.remoteAddress, error: error.message });
      this.close();
    });
    socket.on('close', () => this.close());
  }

  /** Requests running in `handle()`. */
  get inflightCount(): number {
    return this.running;
  }

  /** Requests accepted and waiting to start (their connection stops reading meanwhile). */
  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /** Response bytes not yet taken by the kernel: the socket's buffer plus the next batch. */
  get unsentBytes(): number {
    return this.socket.writableLength + this.batch.byteLength;
  }

  /** Response bytes reserved for the requests running now. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** Largest `reservedBytes + unsentBytes` seen on this connection. */
  get peakHeldBytes(): number {
    return this.peakHeld;
  }

  /** Frames read from the client so far (requests, valid or not). */
  get framesRead(): number {
    return this.framesReceived;
  }

  /** True while the connection does not read from its socket (a request waits for budget). */
  get readPaused(): boolean {
    return this.readingPaused;
  }

  /**
   * Stop reading, answer every request already accepted, then close gracefully (the client reads
   * the answers before the end of the stream). Resolves once the last answer was handed to the
   * socket. The requests' handlers must settle (the node fails them when it shuts down).
   */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.socket.pause();
    this.readingPaused = true;
    this.endWatches(watchesShutDownError());
    return new Promise<void>((resolve) => {
      this.drained = () => {
        if (this.accepted > 0 || this.closed) return;
        this.closed = true;
        closeGracefully(this.socket, this.batch.count > 0 ? this.batch.take() : undefined);
        this.settings.onClosed(this);
        resolve();
      };
      this.socket.once('close', resolve);
      this.drained();
    });
  }

  /** True until the first frame arrives. */
  get fresh(): boolean {
    return this.framesReceived === 0;
  }

  /**
   * Closes the connection if it broke a time limit (see the class comment). Called periodically
   * by the server with the current `nowMs()`.
   */
  sweep(now: number): void {
    if (this.closed) return;
    const s = this.settings;
    if (this.partialSinceMs !== null && !this.readingPaused && now - this.partialSinceMs > s.frameTimeoutMs) {
      this.reject(frameTimeoutError(s.frameTimeoutMs), 'debug');
      return;
    }
    const idle = this.accepted === 0 && this.batch.count === 0 && this.socket.writableLength === 0 && this.partialSinceMs === null;
    if (!idle) return;
    if (this.fresh) {
      if (now - this.openedAtMs > s.firstRequestTimeoutMs) this.closeQuietly('client.connection.silent', { timeoutMs: s.firstRequestTimeoutMs });
    } else if (now - this.lastActiveMs > s.idleTimeoutMs) {
      this.closeQuietly('client.connection.idle', { timeoutMs: s.idleTimeoutMs });
    }
  }

  /** Makes room for another connection: one error frame (id -1) with `why` (OVERLOADED), then close. */
  evict(why: KeelError): void {
    if (this.closed) return;
    this.reject(why, 'debug', 'client.connection.evicted');
  }

  /** Closes the connection at once; answers still running are discarded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.endWatches();
    this.settings.onClosed(this);
  }

  /** Open watches on this connection. */
  get watchCount(): number {
    return this.watches.size;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.framesReceived === 0 && this.decoder.pendingBytes === 0 && chunk[0] === TLS_HANDSHAKE_RECORD) {
      // A TLS client at a plaintext port (over TLS, the first decrypted byte cannot be this: no
      // frame is that long). Its TLS layer cannot read the answer but reports that the port does
      // not speak TLS; the log here says what happened.
      this.reject(tlsClientAtPlaintextPortError());
      return;
    }
    try {
      this.decoder.push(chunk, (value, bytes) => this.onFrame(value, bytes));
    } catch (error) {
      this.reject(asKeelError(error));
      return;
    }
    if (this.decoder.pendingBytes === 0) this.partialSinceMs = null;
    else this.partialSinceMs ??= nowMs();
    // Error answers to this chunk may have passed the budget: stop reading before the next chunk
    // (the socket may deliver several in one turn, before the batch is written).
    this.pump();
  }

  private onFrame(value: unknown, bytes: number): void {
    if (this.closed) return;
    this.lastActiveMs = nowMs();
    if (this.framesReceived++ === 0) this.settings.onFirstFrame(this);
    if (isPeerHello(value)) {
      this.refusePeer();
      return;
    }
    let request: ClientRequest;
    try {
      request = validateClientRequest(value, bytes);
    } catch (error) {
      if (!(error instanceof RequestValidationError)) throw error;
      if (error.requestId === NO_REQUEST_ID) throw error; // not a request at all: close
      this.respond({ id: error.requestId, ok: false, error: error.toWire() });
      return;
    }
    if (this.accepted >= this.settings.inflightMax) {
      this.respond({ id: request.id, ok: false, error: inflightFullError(this.settings.inflightMax).toWire() });
      return;
    }
    this.accepted++;
    this.queue.push(request);
    this.pump();
  }

  /** Starts waiting requests, in order, while the response budget allows; reads only when none waits. */
  private pump(): void {
    if (this.closed) return;
    const budget = this.settings.responseBytesMax;
    while (this.queueHead < this.queue.length) {
      const request = this.queue[this.queueHead]!;
      const cost = responseBytesBound(request);
      const idle = this.running === 0 && this.batch.count === 0 && !this.socket.writableNeedDrain;
      // Idle: no event would end the wait (the socket will not emit 'drain'), and one response fits anyway.
      if (this.reserved + this.unsentBytes + cost > budget && !idle) break;
      this.queueHead++;
      this.start(request, cost);
    }
    if (this.queueHead === this.queue.length && this.queueHead > 0) {
      this.queue = [];
      this.queueHead = 0;
    }
    // Read only while nothing waits and the output fits the budget (error answers take no
    // reservation) or the socket took it all without pushing back.
    const pushedBack = this.batch.count > 0 || this.socket.writableNeedDrain;
    const read = this.drained === undefined && this.queue.length === 0 && (this.unsentBytes <= budget || !pushedBack);
    if (read === this.readingPaused) {
      this.readingPaused = !read;
      if (read) {
        this.socket.resume();
        // The wait for the rest of a frame starts again: this side was not reading.
        if (this.partialSinceMs !== null) this.partialSinceMs = nowMs();
      } else {
        this.socket.pause();
      }
    }
    // Output the socket holds leaves silently except for 'drain'; finishing requests and flushes call pump() themselves.
    if (!read && this.socket.writableNeedDrain && !this.drainAwaited) {
      this.drainAwaited = true;
      this.socket.once('drain', this.onDrainBound);
    }
  }

  private start(request: ClientRequest, cost: number): void {
    const id = request.id;
    this.running++;
    this.reserved += cost;
    this.notePeak();
    let pending: Promise<ClientResults[ClientRequest['op']]>;
    try {
      const hub = this.settings.watches;
      if (hub !== undefined && request.op === 'watch') pending = this.openWatch(hub, request);
      else if (hub !== undefined && request.op === 'watchCancel') pending = Promise.resolve(this.cancelWatch(request.watchId));
      else pending = this.settings.handle(request, this.identity);
    } catch (error) {
      pending = Promise.reject(error);
    }
    const finish = (response: ClientResponse): void => {
      this.running--;
      this.accepted--;
      this.lastActiveMs = nowMs();
      this.reserved -= cost;
      this.respond(response);
      this.pump();
      this.drained?.();
    };
    pending.then(
      (result) => finish({ id, ok: true, result }),
      (error: unknown) => finish({ id, ok: false, error: this.toWire(request, error) }),
    );
  }

  private openWatch(hub: Pick<WatchHub, 'open'>, request: Extract<ClientRequest, { op: 'watch' }>): Promise<ClientResults['watch']> {
    if (this.watches.size >= LIMITS.watchesPerConnectionMax) return Promise.reject(tooManyWatchesError(LIMITS.watchesPerConnectionMax));
    if (this.watches.has(request.id)) return Promise.reject(new KeelError('INVALID_ARGUMENT', `a watch with request id ${request.id} is already open on this connection`));
    let recheck: (() => void) | undefined;
    try {
      recheck = this.settings.authorizeWatch?.(request, this.identity);
    } catch (error) {
      return Promise.reject(error);
    }
    const watcher = hub.open(request, recheck === undefined ? this.watchSink : this.checkedSink(recheck, () => watcher));
    this.watches.set(request.id, watcher);
    return watcher.done.finally(() => this.watches.delete(request.id));
  }

  /**
   * The connection's sink for one watch whose every frame is checked first: once its user may no
   * longer read the range (a role revoked, the user deleted), the frame is dropped and the watch
   * ends with that refusal, so no event leaks after a revocation.
   */
  private checkedSink(recheck: () => void, watcher: () => Watcher): WatchSink {
    let refused = false;
    return {
      send: (frame) => {
        if (refused) return;
        try {
          recheck();
        } catch (error) {
          refused = true;
          queueMicrotask(() => watcher().end(asKeelError(error, 'watch')));
          return;
        }
        this.watchSink.send(frame);
      },
      hasRoom: () => this.watchSink.hasRoom(),
      room: () => this.watchSink.room(),
    };
  }

  private cancelWatch(watchId: number): ClientResults['watchCancel'] {
    const watcher = this.watches.get(watchId);
    watcher?.end();
    return { canceled: watcher !== undefined };
  }

  /** End every watch of this connection (ok without `error`). */
  private endWatches(error?: KeelError): void {
    for (const w of [...this.watches.values()]) w.end(error);
    this.wakeWatchers();
  }

  /** A watch's frame, in this turn's write. A frame that cannot be encoded ends its watch. */
  private push(frame: WatchEventsFrame): void {
    if (this.closed) return;
    try {
      this.batch.add(frame);
    } catch (error) {
      this.settings.logger.log('warn', 'client.watch.unencodable', { id: frame.id, error: (error as Error).message });
      this.watches.get(frame.id)?.end(unsendableResponseError(error));
      return;
    }
    this.notePeak();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Wake the watchers waiting for room once there is some (after a write, or the socket's 'drain'). */
  private wakeWatchers(): void {
    if (this.roomWaiters.length === 0) return;
    if (this.watchSink.hasRoom()) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    } else if (this.socket.writableNeedDrain && !this.roomDrainAwaited) {
      this.roomDrainAwaited = true;
      this.socket.once('drain', () => {
        this.roomDrainAwaited = false;
        this.wakeWatchers();
      });
    }
  }

  private notePeak(): void {
    const held = this.reserved + this.unsentBytes;
    if (held > this.peakHeld) this.peakHeld = held;
  }

  private toWire(request: ClientRequest, error: unknown): WireError {
    if (error instanceof KeelError) return error.toWire();
    let message: string;
    try {
      message = error instanceof Error ? error.message : String(error);
    } catch {
      message = 'the handler failed with a value that has no text form';
    }
    this.settings.logger.log('error', 'client.handler.failed', { op: request.op, id: request.id, error: message });
    return handlerFailedError(message).toWire();
  }

  /** Queues a response for this turn's write. A response that cannot be encoded becomes an error. */
  private respond(response: ClientResponse): void {
    if (this.closed) return;
    try {
      this.batch.add(response);
    } catch (error) {
      this.settings.logger.log('warn', 'client.response.unencodable', { id: response.id, error: (error as Error).message });
      this.batch.add({ id: response.id, ok: false, error: unsendableResponseError(error).toWire() } satisfies ClientResponse);
    }
    this.notePeak();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** One socket write for every response queued since the last flush. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.batch.count === 0) return;
    this.lastActiveMs = nowMs();
    this.socket.write(this.batch.take());
    this.pump();
    this.wakeWatchers();
  }

  /** A node dialled the client port as a peer: refuse its handshake in the peer protocol, naming the peer port, and close. */
  private refusePeer(): void {
    this.closed = true;
    const peerAddress = this.settings.peerAddress();
    const result: PeerHelloResult = { type: 'helloResult', ok: false, error: peerAtClientPortError(peerAddress).toWire() };
    this.settings.logger.log('warn', 'client.peer_hello', { remote: this.socket.remoteAddress, peerAddress });
    closeGracefully(this.socket, encodeFrame(result));
    this.settings.onClosed(this);
  }

  /** Closes without a word (nothing is in flight), reading and discarding whatever still comes. */
  private closeQuietly(event: string, fields: Record<string, unknown>): void {
    this.closed = true;
    this.settings.logger.log('debug', event, { remote: this.socket.remoteAddress, ...fields });
    closeGracefully(this.socket);
    this.settings.onClosed(this);
  }

  /**
   * A bad frame (or a broken limit): answer with its error (id NO_REQUEST_ID) after the queued
   * responses, then close. The error is definite only when no accepted request is left unanswered
   * (one running may apply).
   */
  private reject(error: KeelError, level: 'debug' | 'warn' = 'warn', event = 'client.frame.rejected'): void {
    if (this.closed) return;
    this.closed = true;
    this.settings.logger.log(level, event, { remote: this.socket.remoteAddress, code: error.code, error: error.message });
    this.endWatches();
    const definite = this.accepted === 0;
    const response: ClientResponse = { id: NO_REQUEST_ID, ok: false, error: { code: error.code, message: error.message, definite } };
    try {
      this.batch.add(response);
    } catch {
      // An error frame always fits; nothing else to send.
    }
    closeGracefully(this.socket, this.batch.take());
    this.settings.onClosed(this);
  }
}

/** The common name of the verified certificate of a TLS client, if any. */
function certificateName(socket: net.Socket): string | undefined {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}

/** The first frame of a node dialling this port as its peer port. */
function isPeerHello(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'hello';
}
