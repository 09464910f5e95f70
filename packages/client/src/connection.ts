/**
 * One TCP connection to one node's client port (the Node adapter of the client), over TLS when
 * the client has TLS options: then the connection counts as open once the TLS handshake is done.
 *
 * Requests are pipelined: each gets a connection-unique `id`, responses are matched by `id` and may
 * arrive in any order. Frames produced in the same event-loop turn leave in ONE socket write.
 * There are no per-request timers: the owning client sweeps deadlines with {@link expire}.
 *
 * A node is judged by progress, not by the latency of one request. When, while requests wait, no
 * answer at all arrived for `stallMs`, or no answer to a request that needs a quorum (writes,
 * linearizable reads) arrived for `stallMs`, the node is probed with a status request: no answer
 * within `stallMs` (paused, partitioned) or a commit index that stands still between two probes
 * (a leader cut off from its quorum still answers local reads) gives up on the node. A busy
 * leader that keeps answering or committing is never abandoned, however long a queued request
 * waits: abandoning it would only add retries to its queue.
 *
 * A connection that ends before the node answered anything records why ({@link dialFailure}):
 * the router uses it to pace redials and to tell a misconfigured endpoint from a busy one. An
 * error frame with id -1 (`NO_REQUEST_ID`) answers the connection itself: every request on it
 * fails with the server's code and message, definitely when the server says none was processed.
 *
 * A watch is a request whose answer is a stream ({@link stream}): its event frames go to a
 * callback until the one response that ends it. It has no deadline and never makes the node look
 * stalled (the stream may be silent for as long as nothing changes).
 */
import { Socket, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameBatch, FrameDecoder, KeelError, LIMITS, NO_REQUEST_ID, PlainPacker, describeTlsFailure, encodeFrame, packPayload, validateServerFrame } from '@keel/protocol';
import type { ClientOp, ClientRequest, ClientResponse, ClientResults, WatchEventsFrame } from '@keel/protocol';
import { connectFailureKind, refusalKind } from './dial-failure.js';
import type { DialFailure } from './dial-failure.js';
import type { AuthOptions, ResolvedTls } from './options.js';
import { parseAddress } from './validate.js';

/** A request without its id (the connection assigns ids). */
export type RequestBody = DistributiveOmit<ClientRequest, 'id'>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Pending {
  readonly op: ClientOp;
  readonly deadlineMs: number;
  readonly startedMs: number;
  /** The frame, until it is handed to the socket. */
  payload: Buffer | undefined;
  /** True once the frame was handed to the socket: from then on the server may act on it. */
  sent: boolean;
  /** Counted against the server's in-flight limit (queued for sending, or sent). */
  admitted: boolean;
  /** How stall detection treats the request (see {@link Watch}). */
  readonly watch: Watch;
  /** A stream's event frames (see {@link NodeConnection.stream}). */
  readonly onFrame?: ((frame: WatchEventsFrame['watch']) => void) | undefined;
  resolve(result: unknown): void;
  reject(error: KeelError): void;
}

/** Packs requests (all connections of the process share its slabs). */
const packer = new PlainPacker();

/** Requests admitted onto the wire at once: the server's limit, less one slot kept for the probe. */
const PROBE_LIMIT = LIMITS.inflightPerConnectionMax;
const REQUEST_LIMIT = PROBE_LIMIT - 1;

/**
 * How a request takes part in stall detection: `quorum` requests need the cluster (writes,
 * linearizable reads); `local` ones are answered by the node alone (serializable reads, status);
 * `patient` ones may legitimately be held by the server until their deadline (membership and
 * leadership changes) and never make the node look stalled.
 */
export type Watch = 'quorum' | 'local' | 'patient';

export interface NodeConnectionOptions {
  /** Monotonic clock, in milliseconds. */
  readonly now: () => number;
  /** Called once when the connection is closed for good (the owner drops it). */
  readonly onClosed: (connection: NodeConnection) => void;
  /** Called once, when the node first answers a request on this connection. */
  readonly onAnswered: (connection: NodeConnection) => void;
  /** Give up on the node when it answers nothing for this long while requests wait, in ms (also the connect timeout). */
  readonly stallMs: number;
  /** Connect with TLS. */
  readonly tls: ResolvedTls | undefined;
  /** Authenticate as this user before sending anything else on the connection. */
  readonly auth: AuthOptions | undefined;
}

export class NodeConnection {
  readonly address: string;
  private readonly socket: Socket;
  private readonly options: NodeConnectionOptions;
  private readonly decoder = new FrameDecoder({ copyBuffers: true, plainValues: true });
  /** Requests awaiting an answer, by id. Insertion order = id order. */
  private readonly pending = new Map<number, Pending>();
  /** Ids whose frames wait for the next flush. */
  private unsent: number[] = [];
  /**
   * Ids waiting for room under `LIMITS.inflightPerConnectionMax` (the server would answer
   * OVERLOADED beyond it), admitted in order as answers arrive. Never sent yet: definite on failure.
   */
  private backlog: number[] = [];
  /** Index of the oldest id still in `backlog` (a queue without O(n) shifts). */
  private backlogHead = 0;
  /** Requests admitted and not finished. Invariant: = count of pending with `admitted`; <= PROBE_LIMIT. */
  private admitted = 0;
  private nextId = 1;
  /** Sent, unanswered requests by watch. Invariant: equal to the counts over `pending` with `sent`. */
  private readonly sentInFlight: Record<Watch, number> = { quorum: 0, local: 0, patient: 0 };
  /** Last time any answer arrived, or a busy period (sent quorum/local requests) began. */
  private progressMs: number;
  /** Last time a quorum request was answered, or a busy period of quorum requests began, or a probe showed commits. */
  private quorumProgressMs: number;
  /** A status probe is in flight (see {@link probe}). */
  private probing = false;
  /** The commit index the last probe saw since quorum answers stopped; undefined before the first. */
  private probeCommit: number | undefined;
  private readonly openedMs: number;
  private connected = false;
  /** A response to a request arrived: the node speaks the client protocol and accepted us. */
  private answered = false;
  private closed = false;
  /** The server's error frame with id -1, which fails every request on the connection. */
  private connectionError: KeelError | undefined;
  /** Why the connection could not be opened (the socket's error code), if it could not. */
  private connectErrorCode: string | undefined;
  /** Set when the connection ended before the node answered anything (see the module doc). */
  private failure: DialFailure | undefined;
  /** Whether the socket keeps the event loop alive (only while requests are pending). */
  private refd = true;
  private flushScheduled = false;
  /** Why the connection is going down, for the errors of the requests it takes with it. */
  private closeReason: string | undefined;
  /** The id of the connection's `authenticate` while it waits for its answer. */
  private authenticatingId: number | undefined;

  constructor(address: string, options: NodeConnectionOptions) {
    this.address = address;
    this.options = options;
    this.openedMs = options.now();
    this.progressMs = this.openedMs;
    this.quorumProgressMs = this.openedMs;
    const parsed = parseAddress(address);
    if (parsed === undefined) throw new Error(`invariant: address ${address} was validated`);
    const tls = options.tls;
    this.socket =
      tls === undefined
        ? new Socket()
        : tlsConnect({ host: parsed.host, port: parsed.port, ...tls, ...(isIP(parsed.host) === 0 ? { servername: parsed.host } : {}) });
    this.socket.setNoDelay(true);
    this.socket.on(tls === undefined ? 'connect' : 'secureConnect', () => {
      this.connected = true;
      if (options.auth !== undefined) this.authenticate(options.auth);
      else this.flush();
    });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      // Before any answer, a TLS failure is the connection's answer: the two ends' TLS set-ups do
      // not fit (an untrusted certificate, or one end not speaking TLS), and no retry changes that.
      const tlsFailure = this.answered ? undefined : describeTlsFailure(error);
      if (tlsFailure !== undefined) this.connectionError ??= new KeelError('TLS_FAILED', `TLS with ${this.address} failed: ${tlsFailure}`);
      if (!this.connected) this.connectErrorCode ??= error.code ?? error.message;
      this.closeReason ??= this.connected
        ? `failed (${error.code ?? error.message})`
        : `could not be opened (${error.code ?? error.message})`;
    });
    this.socket.on('close', () => this.shutDown(this.closeReason ?? 'was closed by the server'));
    if (tls === undefined) this.socket.connect({ host: parsed.host, port: parsed.port });
    this.socket.unref();
    this.refd = false;
  }

  /** Requests in flight (sent or waiting to be sent). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** True once the connection is down; the owner opens a new one for later requests. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Why the connection ended before the node answered anything; undefined otherwise (or while open). */
  get dialFailure(): DialFailure | undefined {
    return this.failure;
  }

  /**
   * Sends `body`; resolves with the server's result or rejects with a `KeelError`. `watch` says
   * how the request takes part in stall detection.
   */
  send(body: RequestBody, deadlineMs: number, watch: Watch): Promise<unknown> {
    return this.start(body, deadlineMs, watch, undefined).result;
  }

  /**
   * Sends a streaming request (a watch): `onFrame` receives each of its event frames, in order,
   * until `result` settles with the response that ends the stream (or the connection's end).
   * `id` is the request id the server tags the stream with (what `watchCancel` names).
   */
  stream(body: RequestBody, onFrame: (frame: WatchEventsFrame['watch']) => void): { readonly id: number; readonly result: Promise<unknown> } {
    return this.start(body, Infinity, 'patient', onFrame);
  }

  private start(
    body: RequestBody,
    deadlineMs: number,
    watch: Watch,
    onFrame: Pending['onFrame'],
  ): { readonly id: number; readonly result: Promise<unknown> } {
    let id = -1;
    const result = new Promise<unknown>((resolve, reject) => {
      if (this.closed) {
        reject(new KeelError('CONNECTION_LOST', `connection to ${this.address} ${this.closeReason ?? 'is closed'}`));
        return;
      }
      id = this.nextId++;
      let payload: Buffer;
      try {
        payload = packRequest(body, id);
      } catch (error) {
        reject(error instanceof KeelError ? error : new KeelError('INVALID_ARGUMENT', String(error)));
        return;
      }
      const p: Pending = {
        op: body.op,
        deadlineMs,
        startedMs: this.options.now(),
        payload,
        sent: false,
        admitted: false,
        watch,
        onFrame,
        resolve,
        reject,
      };
      this.pending.set(id, p);
      this.setRef(true);
      // One slot under the server's limit is kept for the status probe.
      if (this.admitted < (body.op === 'status' && this.probing ? PROBE_LIMIT : REQUEST_LIMIT)) this.admit(id, p);
      else this.backlog.push(id);
    });
    return { id, result };
  }

  /**
   * The sweep: fails requests whose deadline passed with `TIMEOUT`; probes a node that shows no
   * progress (see the module doc); abandons a connection that could not be opened within `stallMs`.
   */
  expire(nowMs: number): void {
    for (const [id, p] of this.pending) {
      if (p.deadlineMs > nowMs) continue;
      this.remove(id, p);
      p.reject(
        new KeelError('TIMEOUT', `no answer from ${this.address} to ${p.op} within ${Math.round(nowMs - p.startedMs)} ms`, {
          definite: !p.sent,
        }),
      );
    }
    this.checkProgress(nowMs);
    if (this.closed) return;
    // A connection that could not be opened in time (e.g. a blackholed address) is abandoned, so a
    // later attempt dials afresh instead of queueing behind it.
    if (!this.connected && !this.closed && nowMs - this.openedMs >= this.options.stallMs) {
      this.close(`could not be opened within ${this.options.stallMs} ms`);
      return;
    }
    this.idleCheck();
  }

  /** Closes the connection; requests in flight fail with `CONNECTION_LOST`. */
  close(reason = 'was closed by the client'): void {
    this.closeReason ??= reason;
    this.socket.destroy();
    this.shutDown(this.closeReason);
  }

  /**
   * Sends `authenticate` ahead of every other request: nothing else leaves until the node accepted
   * it (the node checks requests as they arrive, and would refuse those sent before it). A refusal
   * ends the connection and fails every request on it with the node's error (AUTH_FAILED),
   * definitely: none was sent.
   */
  private authenticate(auth: AuthOptions): void {
    const id = this.nextId++;
    this.authenticatingId = id;
    this.socket.write(encodeFrame({ id, op: 'authenticate', user: auth.user, password: auth.password }));
  }

  /** The answer to the connection's `authenticate`. */
  private authenticated(response: ClientResponse): void {
    this.authenticatingId = undefined;
    if (!response.ok) {
      const { code, message } = response.error;
      this.refuseConnection(new KeelError(code, `${this.address} refused the credentials: ${message}`, { definite: true }));
      return;
    }
    this.flush();
  }

  /** Writes every frame queued since the last flush in one socket write. */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.connected || this.closed || this.authenticatingId !== undefined || this.unsent.length === 0) return;
    const batch = new FrameBatch(LIMITS.frameBytesMax);
    const t = this.options.now();
    for (const id of this.unsent) {
      const p = this.pending.get(id);
      if (p === undefined || p.payload === undefined) continue; // expired before it could be sent
      batch.addPayload(p.payload);
      p.payload = undefined;
      p.sent = true;
      // A busy period starts: the node is judged from now on.
      if (p.watch !== 'patient' && this.sentInFlight.quorum + this.sentInFlight.local === 0) this.progressMs = t;
      if (p.watch === 'quorum' && this.sentInFlight.quorum === 0) {
        this.quorumProgressMs = t;
        this.probeCommit = undefined;
      }
      this.sentInFlight[p.watch]++;
    }
    this.unsent = [];
    if (batch.count > 0) this.socket.write(batch.take());
  }

  private receive(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, (value) => this.answer(value));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.answered) {
        this.close(`sent a bad response (${message})`);
        return;
      }
      // The first bytes from the other side are not the client protocol: whatever listens there
      // is not a Keel client port, and no attempt will change that.
      this.refuseConnection(
        new KeelError(
          'INVALID_ARGUMENT',
          `${this.address} is not a Keel client port: what answers there does not speak the client protocol (${message}); ` +
            `check the endpoints (a node's peer port, or another service?)`,
          { definite: false },
        ),
      );
    }
  }

  private answer(value: unknown): void {
    if (this.closed) return;
    const response = validateServerFrame(value);
    if ('watch' in response) {
      this.progressMs = this.options.now();
      this.pending.get(response.id)?.onFrame?.(response.watch);
      return;
    }
    if (response.id === NO_REQUEST_ID) {
      if (!response.ok) {
        const { code, message, definite } = response.error;
        this.refuseConnection(new KeelError(code, `${this.address} refused the connection: ${message}`, { definite }));
      }
      return;
    }
    if (response.id === this.authenticatingId) {
      this.authenticated(response);
      return;
    }
    if (!this.answered) {
      this.answered = true;
      this.options.onAnswered(this);
    }
    const t = this.options.now();
    this.progressMs = t;
    const p = this.pending.get(response.id);
    if (p === undefined) return; // answered after its deadline: the caller already moved on
    if (p.watch === 'quorum') {
      this.quorumProgressMs = t;
      this.probeCommit = undefined;
    }
    this.remove(response.id, p);
    if (response.ok) p.resolve(response.result);
    else p.reject(KeelError.fromWire(response.error));
    this.idleCheck();
  }

  /**
   * The connection itself was answered with an error (or with bytes that are not the protocol):
   * every request on it fails with that error, definite for those never sent or when the server
   * says it processed none.
   */
  private refuseConnection(error: KeelError): void {
    this.connectionError = error;
    this.close(`was refused (${error.code}: ${error.message})`);
  }

  private shutDown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = this.answered ? undefined : this.describeFailure();
    const failed = this.dropAllPending();
    const refusal = this.connectionError;
    for (const p of failed) {
      if (refusal !== undefined) {
        p.reject(new KeelError(refusal.code, refusal.message, { definite: refusal.definite || !p.sent }));
        continue;
      }
      p.reject(
        new KeelError('CONNECTION_LOST', `connection to ${this.address} ${reason}` + (p.sent ? ' after the request was sent' : ''), {
          definite: !p.sent,
        }),
      );
    }
    this.options.onClosed(this);
  }

  /** Why a connection on which nothing was answered ended. */
  private describeFailure(): DialFailure {
    if (this.connectionError !== undefined) {
      return { kind: refusalKind(this.connectionError.code), detail: this.connectionError.message };
    }
    if (!this.connected) {
      const code = this.connectErrorCode;
      return { kind: connectFailureKind(code), detail: code ?? this.closeReason ?? 'could not be opened' };
    }
    return { kind: 'dropped', detail: this.closeReason ?? 'was closed by the server' };
  }

  /** Forgets every request (pending, unsent and waiting) and returns them, to be failed by the caller. */
  private dropAllPending(): Pending[] {
    const dropped = [...this.pending.values()];
    this.pending.clear();
    this.unsent = [];
    this.backlog = [];
    this.backlogHead = 0;
    this.admitted = 0;
    this.sentInFlight.quorum = this.sentInFlight.local = this.sentInFlight.patient = 0;
    return dropped;
  }

  private remove(id: number, p: Pending): void {
    this.pending.delete(id);
    if (p.sent) this.sentInFlight[p.watch]--;
    if (!p.admitted) return;
    this.admitted--;
    // Room for the oldest waiting request (skipping those that expired while waiting).
    while (this.backlogHead < this.backlog.length && this.admitted < REQUEST_LIMIT) {
      const next = this.backlog[this.backlogHead++]!;
      const q = this.pending.get(next);
      if (q !== undefined) this.admit(next, q);
    }
    if (this.backlogHead > 1024 && this.backlogHead * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
  }

  /** Queues a request for the next flush (one socket write per event-loop turn). */
  private admit(id: number, p: Pending): void {
    p.admitted = true;
    this.admitted++;
    this.unsent.push(id);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Starts a probe when the node looks stuck: no answer at all for `stallMs` while requests wait,
   * or no answer to a quorum request for `stallMs` while such requests wait.
   */
  private checkProgress(nowMs: number): void {
    if (this.probing) return;
    const stallMs = this.options.stallMs;
    const silent = this.sentInFlight.quorum + this.sentInFlight.local > 0 && nowMs - this.progressMs >= stallMs;
    const noQuorum = this.sentInFlight.quorum > 0 && nowMs - this.quorumProgressMs >= stallMs;
    if (silent || noQuorum) this.probe();
  }

  /**
   * Is the node stuck, or just slow? Its status says. No answer to the probe within `stallMs`:
   * paused or partitioned, give up on it. A commit index that advances between two probes:
   * busy but committing, keep waiting. One that stands still while quorum requests wait: it
   * cannot commit (cut off from its quorum), give up on it.
   */
  private probe(): void {
    this.probing = true;
    const stallMs = this.options.stallMs;
    this.send({ op: 'status' }, this.options.now() + stallMs, 'local').then(
      (result) => {
        this.probing = false;
        if (this.closed) return;
        if (this.sentInFlight.quorum === 0) return; // alive, and no quorum request waits
        const commit = (result as ClientResults['status']).commit;
        const before = this.probeCommit;
        this.probeCommit = commit;
        if (this.options.now() - this.quorumProgressMs < stallMs) return; // a quorum answer arrived meanwhile
        if (before === undefined) {
          this.quorumProgressMs = this.options.now() - stallMs / 2; // a baseline; probe again soon
        } else if (commit > before) {
          this.quorumProgressMs = this.options.now(); // busy but committing
        } else {
          this.abandon(`committed nothing for ${stallMs * 1.5} ms (commit index stayed at ${commit}; cut off from its quorum?)`);
        }
      },
      (error: KeelError) => {
        this.probing = false;
        if (this.closed) return;
        if (error.code === 'TIMEOUT') {
          this.abandon(`answered nothing for ${stallMs * 2} ms, not even a status probe (paused or partitioned?)`);
          return;
        }
        // The node answered (with an error, e.g. OVERLOADED): alive. Look again in a while.
        this.quorumProgressMs = Math.max(this.quorumProgressMs, this.options.now() - stallMs / 2);
        this.progressMs = Math.max(this.progressMs, this.options.now() - stallMs / 2);
      },
    );
  }

  /** Gives up on the node: every request fails with `TIMEOUT` (definite if never sent) and the connection closes. */
  private abandon(reason: string): void {
    const failed = this.dropAllPending();
    for (const p of failed) p.reject(new KeelError('TIMEOUT', `${this.address} ${reason}`, { definite: !p.sent }));
    this.close(`was abandoned: it ${reason}`);
  }

  /** An idle connection does not keep the process alive. */
  private idleCheck(): void {
    if (this.pending.size === 0 && !this.closed) this.setRef(false);
  }

  /** (Un)refs the socket on changes only: before it connects, each call queues a listener. */
  private setRef(on: boolean): void {
    if (on === this.refd) return;
    this.refd = on;
    if (on) this.socket.ref();
    else this.socket.unref();
  }
}

/**
 * The frame payload of request `body` with `id`: the value `{ ...body, id }`, packed without
 * building it (PlainPacker); msgpackr packs the rare body PlainPacker leaves to it. Throws like
 * `packPayload`.
 */
function packRequest(body: RequestBody, id: number): Buffer {
  return packer.packWithId(body, id, LIMITS.requestBytesMax) ?? packPayload({ ...body, id }, LIMITS.requestBytesMax);
}
