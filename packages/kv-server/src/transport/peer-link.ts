/**
 * The outbound half of one peer pair: this node's single connection to one peer, used to send
 * Raft messages. It dials the peer's DIAL address (which may be a proxy), performs the handshake,
 * and then writes queued frames — all frames queued by one `send()` call in one socket write.
 *
 * States: connecting (dialing or handshaking: messages are queued) -> ready (queue flushed;
 * writes wait for 'drain' when the socket pushes back) -> on any failure, backoff (messages are
 * dropped and reported unreachable; a timer redials) -> connecting … ; closed is final.
 *
 * Liveness (`liveness.ts`): while ready, the link pings the peer every ping interval (`tick()`)
 * and the peer answers each ping with a pong; a link that hears no pong for the liveness timeout
 * — its writes are not getting through, or the answers are not — is torn down and redialled.
 *
 * Invariant: `queue.byteLength <= sendQueueBytesMax`; messages that do not fit are dropped (the
 * newest first) and the peer is reported unreachable — Raft retransmits.
 */
import type net from 'node:net';
import type { Logger, NodeId } from '@keel/raft';
import {
  FrameBatch,
  FrameDecoder,
  checkPeerHelloResult,
  describeTlsFailure,
  encodeFrame,
  packPayload,
  validatePeerHelloResult,
} from '@keel/protocol';
import { dial, type TlsCredentials } from '../tls/index.js';
import { parseAddress } from './address.js';
import { malformedFrameError, tlsFailedError } from './errors.js';
import { helloFor, refusalOf, type HandshakeRefusal, type LocalIdentity, type PeerAddresses } from './hello.js';
import { Backoff } from './backoff.js';
import { PING_FRAME, Silence, isPong } from './liveness.js';

/**
 * Longest delay before redialing a peer that refused the handshake, in ms (unless
 * `reconnectDelayMsMax` is longer). A refusal names a configuration error that a person has to
 * fix; retrying it fast only floods both logs.
 */
export const REFUSED_RECONNECT_DELAY_MS_MAX = 10_000;

export interface PeerLinkSettings {
  readonly identity: LocalIdentity;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly sendQueueBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  /** A ready link that hears nothing for this long is torn down and redialled. */
  readonly livenessTimeoutMs: number;
  /** The addresses this node advertises in its hello (read at every dial). */
  readonly advertised: () => PeerAddresses | undefined;
  /** Called when messages to the peer were dropped or its connection broke. */
  readonly onUnreachable: (id: NodeId) => void;
  /** Called after each handshake this link completes: `null` when it succeeded, else the refusal. */
  readonly onHandshake: (id: NodeId, refusal: HandshakeRefusal | null) => void;
  /** Dial over mutual TLS with these credentials. */
  readonly tls: TlsCredentials | undefined;
}

type LinkState = 'connecting' | 'ready' | 'backoff' | 'closed';

const NONE: readonly number[] = [];

export class PeerLink {
  private state: LinkState = 'backoff';
  private socket: net.Socket | null = null;
  private readonly queue: FrameBatch;
  /** True while the socket has pushed back (write() returned false) and 'drain' has not come. */
  private blocked = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  /** Delays after a refused handshake: they grow to a longer ceiling. */
  private readonly refusedBackoff: Backoff;
  /** Set when the queue overflowed; cleared by the next successful flush (log once per episode). */
  private overflowing = false;
  /** Consecutive failed attempts, for log levels (first failure warns, the rest are debug). */
  private failures = 0;
  /** Ping intervals without a pong on the current connection. */
  private silence = new Silence();
  private readonly pingPayload = packPayload(PING_FRAME);

  constructor(
    readonly peerId: NodeId,
    readonly address: string,
    private readonly settings: PeerLinkSettings,
  ) {
    parseAddress(address); // fail fast on a bad address
    this.queue = new FrameBatch(settings.maxFrameBytes);
    this.backoff = new Backoff(settings.reconnectDelayMsMin, settings.reconnectDelayMsMax);
    this.refusedBackoff = new Backoff(settings.reconnectDelayMsMin, Math.max(settings.reconnectDelayMsMax, REFUSED_RECONNECT_DELAY_MS_MAX));
    this.connect();
  }

  /** True once the handshake succeeded and until the connection breaks. */
  get connected(): boolean {
    return this.state === 'ready';
  }

  /** False while the link is down (backoff) or closed: `send()` would drop everything. */
  get accepting(): boolean {
    return this.state === 'connecting' || this.state === 'ready';
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.queue.byteLength;
  }

  /**
   * Queues packed message payloads and writes them (one write) if the connection is ready.
   * Returns the positions of the payloads dropped (queue full, or the link is down): none when
   * every one was queued.
   */
  send(payloads: readonly Buffer[]): readonly number[] {
    if (this.state === 'backoff' || this.state === 'closed') return payloads.map((_, i) => i);
    let droppedAt: number[] | undefined;
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i]!;
      if (this.queue.byteLength + payload.length + 4 > this.settings.sendQueueBytesMax) {
        (droppedAt ??= []).push(i);
        continue;
      }
      this.queue.addPayload(payload);
    }
    const dropped = droppedAt?.length ?? 0;
    if (dropped > 0 && !this.overflowing) {
      this.overflowing = true;
      this.settings.logger.log('warn', 'peer.queue.full', {
        peer: this.peerId,
        queuedBytes: this.queue.byteLength,
        limitBytes: this.settings.sendQueueBytesMax,
        dropped,
      });
    }
    this.flush();
    return droppedAt ?? NONE;
  }

  /**
   * Called once per ping interval: a ready link that has heard nothing for the liveness timeout is
   * torn down (and redialled after the backoff); otherwise it pings the peer.
   */
  tick(): void {
    if (this.state !== 'ready' || this.socket === null) return;
    if (this.silence.endInterval()) {
      this.fail(this.socket, 'warn', 'peer.link.silent', { livenessTimeoutMs: this.settings.livenessTimeoutMs, queuedBytes: this.queue.byteLength });
      return;
    }
    // A full queue means the socket pushes back: the pong that is not coming says enough.
    if (this.queue.byteLength + this.pingPayload.length + 4 > this.settings.sendQueueBytesMax) return;
    this.queue.addPayload(this.pingPayload);
    this.flush();
  }

  /** Closes the connection and stops redialing. */
  close(): void {
    this.state = 'closed';
    this.clearTimer();
    this.socket?.destroy();
    this.socket = null;
    this.queue.take();
  }

  private flush(): void {
    if (this.state !== 'ready' || this.blocked || this.queue.count === 0 || this.socket === null) return;
    const socket = this.socket;
    if (!socket.write(this.queue.take())) {
      this.blocked = true;
      socket.once('drain', () => {
        if (this.socket !== socket) return;
        this.blocked = false;
        this.flush();
      });
    } else {
      this.overflowing = false;
    }
  }

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const { host, port } = parseAddress(this.address);
    const { socket, ready } = dial(host, port, this.settings.tls);
    this.socket = socket;
    this.blocked = false;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.settings.livenessTimeoutMs);
    this.silence = new Silence();
    const decoder = new FrameDecoder({ maxFrameBytes: this.settings.maxFrameBytes, plainValues: true });
    this.timer = setTimeout(() => {
      this.fail(socket, 'warn', 'peer.handshake.timeout', { timeoutMs: this.settings.handshakeTimeoutMs });
    }, this.settings.handshakeTimeoutMs);

    socket.once(ready, () => {
      socket.write(encodeFrame(helloFor(this.settings.identity, this.peerId, 'raft', this.settings.advertised())));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (value) => this.onFrame(socket, value));
      } catch (error) {
        this.fail(socket, 'warn', 'peer.frame.rejected', { error: (error as Error).message });
      }
    });
    socket.on('error', (error) => {
      const tlsFailure = describeTlsFailure(error);
      if (tlsFailure !== undefined && this.state === 'connecting') {
        // A configuration error, like a refused hello: recorded for peerState, backed off longer.
        const by = /ALERT/.test(String((error as NodeJS.ErrnoException).code)) ? 'peer' : 'local'; // an alert: the peer refused
        const refusal = refusalOf(by, tlsFailedError(tlsFailure));
        this.settings.onHandshake(this.peerId, refusal);
        this.fail(socket, 'error', 'peer.handshake.refused', { by: refusal.by, code: refusal.code, error: refusal.message });
        return;
      }
      this.fail(socket, this.failures === 0 ? 'info' : 'debug', 'peer.connection.failed', { error: tlsFailure ?? error.message });
    });
    socket.on('close', () => this.fail(socket, 'info', 'peer.disconnected', {}));
  }

  private onFrame(socket: net.Socket, value: unknown): void {
    if (this.state === 'ready' && isPong(value)) {
      this.silence.heard();
      return;
    }
    if (this.state !== 'connecting') {
      throw malformedFrameError('unexpected frame from the peer on an outbound connection');
    }
    const result = validatePeerHelloResult(value);
    const refusal = checkPeerHelloResult(result, this.settings.identity, this.peerId);
    if (refusal !== null) {
      // The peer refused this node's hello, or accepted it but is not the node this link dials.
      this.settings.onHandshake(this.peerId, refusalOf('peer', refusal));
      this.fail(socket, 'error', 'peer.handshake.refused', { by: 'peer', code: refusal.code, error: refusal.message });
      return;
    }
    this.settings.onHandshake(this.peerId, null);
    this.clearTimer();
    this.state = 'ready';
    this.failures = 0;
    this.backoff.reset();
    this.refusedBackoff.reset();
    this.settings.logger.log('info', 'peer.connected', { peer: this.peerId, address: this.address });
    this.flush();
  }

  /** Tears down `socket` (if it is still the current one) and schedules a redial. */
  private fail(socket: net.Socket, level: 'debug' | 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>): void {
    if (this.socket !== socket || this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    const refused = event === 'peer.handshake.refused';
    const lostBytes = this.queue.byteLength;
    this.socket = null;
    socket.destroy();
    this.clearTimer();
    this.queue.take();
    this.failures++;
    this.state = 'backoff';
    const delayMs = (refused ? this.refusedBackoff : this.backoff).next();
    const quiet = !wasReady && this.failures > 1 && !refused;
    this.settings.logger.log(quiet ? 'debug' : level, event, { peer: this.peerId, address: this.address, retryInMs: delayMs, ...fields });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
    if (wasReady || lostBytes > 0) this.settings.onUnreachable(this.peerId);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
