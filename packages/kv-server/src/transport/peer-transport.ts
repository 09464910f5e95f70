/**
 * PeerTransport: Raft messages and snapshot streams between nodes over TCP.
 *
 * - One outbound connection per peer (`PeerLink`), dialed at the peer's DIAL address, which is
 *   configured apart from the address the peer listens on (a test harness may put a proxy in
 *   between). Inbound connections (`InboundPeerConnection`) only receive.
 * - Every connection starts with the handshake (cluster id, node id, protocol version,
 *   incarnation); a node of another cluster is refused with an ERROR log line on both sides, and
 *   so is a second process claiming the id of a node whose raft connection is alive (a reconnect
 *   of the same process, same incarnation, replaces its older connection instead). The last
 *   refusal per peer is kept for `peerState()`; a refused dialer backs off up to
 *   `REFUSED_RECONNECT_DELAY_MS_MAX`.
 * - `send()` never blocks: it packs each message once, queues it on its peer's bounded queue and
 *   writes each peer's frames in one socket write; full queues drop messages and report the peer
 *   unreachable (Raft retransmits).
 * - Snapshots stream over a dedicated connection per `sendSnapshot()` call, one acknowledged chunk
 *   at a time with a timeout per chunk.
 * - Raft connections are watched for liveness (`liveness.ts`): one timer pings every outbound link
 *   and counts silence on every connection; a connection silent for `livenessTimeoutMs` is torn
 *   down (and an outbound link redialled), so a path that silently dropped packets heals as soon
 *   as new connections work, not when the kernel's retransmission backoff gets around to it.
 * - With `tls` (peer credentials with a CA), every connection, both ways, is mutual TLS: a peer
 *   whose certificate is not signed by the CA is refused before its hello is read, and a plaintext
 *   peer gets a TLS_FAILED refusal. Reloaded credentials apply to new connections.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Logger, Message, NodeId, SnapshotMeta } from '@keel/raft';
import type { PeerHello, PeerHelloResult } from '@keel/protocol';
import { KeelError, LIMITS, PlainPacker, checkPeerHelloResult, encodeFrame, packPayload, validatePeerHelloResult } from '@keel/protocol';
import {
  duplicateNodeError,
  noPeerAddressError,
  plaintextPeerAtTlsPortError,
  transportClosedError,
  untrustedPeerError,
} from './errors.js';
import { closeGracefully } from './graceful-close.js';
import { helloFor, refusalOf, type HandshakeRefusal, type LocalIdentity, type PeerAddresses } from './hello.js';
import { FrameChannel } from './frame-channel.js';
import { InboundPeerConnection } from './inbound-peer.js';
import { ListenError, formatAddress } from './listen-error.js';
import { LIVENESS_PINGS } from './liveness.js';
import { TlsAcceptor, type TlsCredentials } from '../tls/index.js';
import { PeerLink, type PeerLinkSettings } from './peer-link.js';
import { streamSnapshot } from './snapshot-stream.js';

export interface PeerTransportOptions {
  clusterId: string;
  nodeId: NodeId;
  /** Where this node listens for peers; port 0 picks an ephemeral port. */
  listen: { host: string; port: number };
  /** DIAL address "host:port" per peer (may be a proxy!). Entries for this node are ignored. */
  peers: ReadonlyMap<NodeId, string>;
  logger: Logger;
  /** Mutual TLS on every peer connection, with these credentials (their CA is required). Default: plaintext. */
  tls?: TlsCredentials;
  /** Largest frame, in bytes. Default `LIMITS.frameBytesMax` (16 MiB). */
  maxFrameBytes?: number;
  /** Most bytes queued for one peer before messages are dropped. Default 64 MiB. */
  sendQueueBytesMax?: number;
  /** Time allowed for each snapshot chunk's acknowledgement (and the handshake, and the final result), in ms. Default 10 000. */
  snapshotChunkTimeoutMs?: number;
  /**
   * Time allowed for a peer handshake (connecting included), in ms, both ways. Default: the
   * liveness timeout, so that a dial that went into a partition is retried as soon after the heal
   * as a silent connection would be.
   */
  handshakeTimeoutMs?: number;
  /** First reconnect delay, in ms. Default 50. */
  reconnectDelayMsMin?: number;
  /** Longest reconnect delay, in ms. Default 2 000. */
  reconnectDelayMsMax?: number;
  /**
   * A raft connection that receives nothing (not even the transport's pings or pongs) for this
   * long is torn down, and an outbound one redialled; pings go out every quarter of it. About an
   * election timeout: see `peerLivenessTimeoutMs`. Default 2 000.
   */
  livenessTimeoutMs?: number;
  /**
   * The addresses this node advertises in every hello: where OTHER nodes can reach it (not the
   * dial overrides). Read at each dial, so it may change (e.g. once the bound port is known).
   */
  advertised?: () => PeerAddresses | undefined;
  /**
   * A peer's accepted hello carried its advertised addresses ('' for one it left out). Called on
   * every accepted connection; the callee decides whether they are news.
   */
  onPeerAddresses?(nodeId: NodeId, addresses: PeerAddresses): void;
  /** Every Raft message received (already validated structurally). */
  onMessage(m: Message): void;
  /** Receiver side of a snapshot stream; resolve once installed. Each chunk is acknowledged after the iterator moves past it. */
  onSnapshot(from: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** Sees every message queued, dropped and received, and every snapshot sent (for metrics). */
  traffic?: PeerTraffic;
}

/** What the transport tells about its traffic (`PeerTransportOptions.traffic`). Called synchronously; must not throw. */
export interface PeerTraffic {
  /** A message to `to` was queued for its connection. */
  messageQueued(to: NodeId, type: Message['type']): void;
  /** A message to `to` was dropped: link down, queue full, unknown peer, or too large to send. */
  messageDropped(to: NodeId, type: Message['type']): void;
  /** A message arrived from `from`. */
  messageReceived(from: NodeId, type: Message['type']): void;
  /** A snapshot stream to `to` ended: installed by the receiver, or failed. */
  snapshotSent(to: NodeId, ok: boolean): void;
}

/**
 * Most inbound connections waiting for their hello at once. A peer sends its hello as soon as it
 * connects, so when more are waiting the oldest is closed to make room: connections that never
 * complete a handshake cannot pile up (each also times out after `handshakeTimeoutMs`).
 */
export const PENDING_HANDSHAKES_MAX = 64;

export const PEER_TRANSPORT_DEFAULTS = {
  sendQueueBytesMax: 64 * 1024 * 1024,
  snapshotChunkTimeoutMs: 10_000,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 2_000,
  livenessTimeoutMs: 2_000,
} as const;

/** What the transport knows about one peer (`PeerTransport.peerState`). */
export interface PeerState {
  /** The outbound link's handshake is done and its connection up. */
  readonly connected: boolean;
  /** Bytes waiting to be written to the peer. */
  readonly queuedBytes: number;
  /** The last refused handshake with the peer, either way, until a handshake with it succeeds. */
  readonly refusal?: HandshakeRefusal;
}

export class PeerTransport {
  /**
   * Called when messages to a peer were dropped or its connection broke (once per peer per batch,
   * from a microtask, never inside `send()`). Assign before `listen()`.
   */
  onUnreachable?: (id: NodeId) => void;

  private readonly identity: LocalIdentity;
  private readonly logger: Logger;
  private readonly maxFrameBytes: number;
  private readonly snapshotChunkTimeoutMs: number;
  private readonly linkSettings: PeerLinkSettings;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<InboundPeerConnection>();
  private readonly raftChannels = new Map<NodeId, InboundPeerConnection>();
  private readonly snapshotChannels = new Set<FrameChannel>();
  /** The last refused handshake per peer (peers in `peers` only, so that strangers cannot grow it). */
  private readonly refusals = new Map<NodeId, HandshakeRefusal>();
  private peers: ReadonlyMap<NodeId, string> = new Map();
  private server: net.Server | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** Connections closed unheard to make room since the last time there was room (for one warning per burst). */
  private evictedInBurst = 0;
  private closed = false;
  /** Peers to report unreachable at the next microtask. */
  private readonly unreachable = new Set<NodeId>();
  /** Scratch space for `send()`: payloads per peer (reused to avoid allocating per call). */
  private readonly outgoing = new Map<NodeId, Buffer[]>();
  /** Scratch space for `send()`: the message types of `outgoing`, position by position. */
  private readonly outgoingTypes = new Map<NodeId, Array<Message['type']>>();
  /**
   * Raft messages are plain values: packed by `PlainPacker` (msgpackr's bytes, about half its CPU;
   * msgpackr's `pack` was 5-7% of a leader's main thread at 256 puts in flight), msgpackr only
   * for anything outside its subset.
   */
  private readonly packer = new PlainPacker();

  constructor(private readonly opts: PeerTransportOptions) {
    if (typeof opts.clusterId !== 'string' || opts.clusterId.length === 0) throw new TypeError('clusterId must be a non-empty string');
    if (!Number.isSafeInteger(opts.nodeId) || opts.nodeId <= 0) throw new TypeError(`nodeId must be a positive integer, got ${opts.nodeId}`);
    this.identity = { clusterId: opts.clusterId, nodeId: opts.nodeId, incarnation: randomBytes(8).toString('hex') };
    this.logger = opts.logger;
    this.maxFrameBytes = positive(opts.maxFrameBytes ?? LIMITS.frameBytesMax, 'maxFrameBytes');
    this.snapshotChunkTimeoutMs = positive(opts.snapshotChunkTimeoutMs ?? PEER_TRANSPORT_DEFAULTS.snapshotChunkTimeoutMs, 'snapshotChunkTimeoutMs');
    const livenessTimeoutMs = positive(opts.livenessTimeoutMs ?? PEER_TRANSPORT_DEFAULTS.livenessTimeoutMs, 'livenessTimeoutMs');
    this.linkSettings = {
      identity: this.identity,
      logger: opts.logger,
      maxFrameBytes: this.maxFrameBytes,
      sendQueueBytesMax: positive(opts.sendQueueBytesMax ?? PEER_TRANSPORT_DEFAULTS.sendQueueBytesMax, 'sendQueueBytesMax'),
      handshakeTimeoutMs: positive(opts.handshakeTimeoutMs ?? livenessTimeoutMs, 'handshakeTimeoutMs'),
      reconnectDelayMsMin: positive(opts.reconnectDelayMsMin ?? PEER_TRANSPORT_DEFAULTS.reconnectDelayMsMin, 'reconnectDelayMsMin'),
      reconnectDelayMsMax: positive(opts.reconnectDelayMsMax ?? PEER_TRANSPORT_DEFAULTS.reconnectDelayMsMax, 'reconnectDelayMsMax'),
      livenessTimeoutMs,
      onUnreachable: (id) => this.reportUnreachable(id),
      onHandshake: (id, refusal) => this.noteHandshake(id, refusal),
      advertised: () => this.opts.advertised?.(),
      tls: opts.tls,
    };
    if (opts.tls !== undefined && opts.tls.paths.ca === undefined) throw new TypeError('peer TLS credentials need a CA (mutual TLS)');
    this.peers = opts.peers;
  }

  /** Starts listening for peers and dialing them. Resolves with the bound port; rejects with `ListenError`. */
  listen(): Promise<{ port: number }> {
    if (this.server !== null) throw new Error('PeerTransport.listen() called twice');
    if (this.closed) return Promise.reject(transportClosedError());
    const acceptor = this.tlsAcceptor();
    const server = net.createServer((socket) => (acceptor !== undefined ? acceptor.accept(socket) : this.accept(socket)));
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (error: Error): void => reject(new ListenError('peers', formatAddress(this.opts.listen.host, this.opts.listen.port), error));
      server.once('error', failed);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', failed);
        server.on('error', (error) => this.logger.log('error', 'peer.server.error', { error: error.message }));
        const address = server.address() as net.AddressInfo;
        this.logger.log('info', 'peer.listening', { host: address.address, port: address.port });
        this.pingTimer = setInterval(() => this.tick(), this.linkSettings.livenessTimeoutMs / LIVENESS_PINGS);
        this.setPeers(this.peers);
        resolve({ port: address.port });
      });
    });
  }

  /** Replaces the dial addresses (membership changed): new peers are dialed, removed ones closed. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    this.peers = new Map(peers);
    for (const id of this.refusals.keys()) if (!peers.has(id)) this.refusals.delete(id);
    if (this.closed || this.server === null) return;
    for (const [id, link] of this.links) {
      if (peers.get(id) !== link.address) {
        link.close();
        this.links.delete(id);
      }
    }
    for (const [id, address] of peers) {
      if (id === this.identity.nodeId || this.links.has(id)) continue;
      try {
        this.links.set(id, new PeerLink(id, address, this.linkSettings));
      } catch (error) {
        this.logger.log('error', 'peer.address.invalid', { peer: id, address, error: (error as Error).message });
      }
    }
  }

  /**
   * The outbound link to `id` (whether its handshake is done, bytes waiting to be written) and the
   * last refused handshake with it; `undefined` for a node the transport knows nothing about.
   */
  peerState(id: NodeId): PeerState | undefined {
    const link = this.links.get(id);
    const refusal = this.refusals.get(id);
    if (link === undefined && refusal === undefined) return undefined;
    return { connected: link?.connected ?? false, queuedBytes: link?.queuedBytes ?? 0, ...(refusal !== undefined ? { refusal } : {}) };
  }

  /**
   * Sends messages without blocking: each is packed once and queued for its peer; each peer's
   * frames from this call go out in one socket write. Messages to unknown or unreachable peers,
   * or beyond a full queue, are dropped and the peer reported via `onUnreachable`.
   */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const { outgoing, outgoingTypes } = this;
    const traffic = this.opts.traffic;
    for (const message of messages) {
      const link = this.links.get(message.to);
      if (link === undefined || !link.accepting) {
        // Not worth packing: the link is down (it redials on its own) or the peer is unknown.
        if (link === undefined) this.logger.log('debug', 'peer.unknown', { peer: message.to, type: message.type });
        traffic?.messageDropped(message.to, message.type);
        this.reportUnreachable(message.to);
        continue;
      }
      let payload: Buffer;
      try {
        payload = this.packer.pack(message, this.maxFrameBytes) ?? packPayload(message, this.maxFrameBytes);
      } catch (error) {
        this.logger.log('error', 'peer.message.unsendable', { peer: message.to, type: message.type, error: (error as Error).message });
        traffic?.messageDropped(message.to, message.type);
        this.reportUnreachable(message.to);
        continue;
      }
      let list = outgoing.get(message.to);
      let types = outgoingTypes.get(message.to);
      if (list === undefined || types === undefined) {
        outgoing.set(message.to, (list = []));
        outgoingTypes.set(message.to, (types = []));
      }
      list.push(payload);
      types.push(message.type);
    }
    for (const [to, payloads] of outgoing) {
      if (payloads.length === 0) continue;
      const types = outgoingTypes.get(to)!;
      const dropped = this.links.get(to)?.send(payloads) ?? payloads.map((_, i) => i);
      if (dropped.length > 0) this.reportUnreachable(to);
      if (traffic !== undefined) {
        const lost = new Set(dropped);
        types.forEach((type, i) => (lost.has(i) ? traffic.messageDropped(to, type) : traffic.messageQueued(to, type)));
      }
      payloads.length = 0;
      types.length = 0;
    }
  }

  /**
   * Streams a snapshot to `to` over a dedicated connection, one chunk at a time; each chunk must
   * be acknowledged within `snapshotChunkTimeoutMs`. Resolves once the receiver installed it;
   * rejects (`KeelError`: TIMEOUT, CONNECTION_LOST, CLUSTER_MISMATCH, TLS_FAILED, UNAVAILABLE, or the
   * receiver's install error) on any failure.
   */
  async sendSnapshot(to: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.closed) throw transportClosedError();
    const address = this.peers.get(to);
    if (address === undefined || to === this.identity.nodeId) throw noPeerAddressError(to);
    const timeoutMs = this.snapshotChunkTimeoutMs;
    const channel = await FrameChannel.connect(address, this.maxFrameBytes, timeoutMs, this.opts.tls);
    this.snapshotChannels.add(channel);
    try {
      channel.send(helloFor(this.identity, to, 'snapshot', this.opts.advertised?.()));
      const result = validatePeerHelloResult(await channel.next(timeoutMs, 'handshake answer'));
      const refusal = checkPeerHelloResult(result, this.identity, to);
      this.noteHandshake(to, refusal === null ? null : refusalOf('peer', refusal));
      if (refusal !== null) {
        this.logger.log('error', 'peer.handshake.refused', { peer: to, by: 'peer', address, channel: 'snapshot', code: refusal.code, error: refusal.message });
        throw refusal;
      }
      this.logger.log('info', 'peer.snapshot.sending', { peer: to, index: meta.index, term: meta.term });
      const count = await streamSnapshot(channel, meta, chunks, timeoutMs);
      this.logger.log('info', 'peer.snapshot.sent', { peer: to, index: meta.index, chunks: count });
      this.opts.traffic?.snapshotSent(to, true);
    } catch (error) {
      this.logger.log('warn', 'peer.snapshot.send.failed', { peer: to, index: meta.index, error: (error as Error).message });
      this.opts.traffic?.snapshotSent(to, false);
      throw error;
    } finally {
      channel.close();
      this.snapshotChannels.delete(channel);
    }
  }

  /** Stops listening, closes every connection and stops redialing. Snapshot transfers in progress fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const channel of this.snapshotChannels) channel.close();
    for (const connection of [...this.inbound]) connection.close('debug', 'peer.inbound.closed', { reason: 'shutdown' });
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** One ping interval: every outbound link pings (or gives up on a silent connection), every inbound one counts silence. */
  private tick(): void {
    for (const link of this.links.values()) link.tick();
    for (const connection of [...this.inbound]) connection.tick();
  }

  /** The TLS side of the peer port, when the node has peer credentials. */
  private tlsAcceptor(): TlsAcceptor | undefined {
    if (this.opts.tls === undefined) return undefined;
    return new TlsAcceptor({
      credentials: this.opts.tls,
      requireCertificate: true,
      handshakeTimeoutMs: this.linkSettings.handshakeTimeoutMs,
      onSecure: (socket) => this.accept(socket),
      onPlaintext: (socket) => this.refuseTls(socket, plaintextPeerAtTlsPortError(this.identity.nodeId)),
      onUntrusted: (socket, why) => this.refuseTls(socket, untrustedPeerError(this.identity.nodeId, why)),
      // Before any hello, the peer's node id is unknown. Every refusal is an ERROR; the dialer backs off, so they do not flood.
      onHandshakeFailed: (remote, why) => this.logger.log('error', 'peer.handshake.refused', { by: 'local', remote, code: 'TLS_FAILED', error: why }),
    });
  }

  /** Refuses a connection before its hello is read: a TLS_FAILED handshake answer, and close. */
  private refuseTls(socket: net.Socket, refusal: KeelError): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const result: PeerHelloResult = { type: 'helloResult', ok: false, error: refusal.toWire() };
    this.logger.log('error', 'peer.handshake.refused', { by: 'local', remote, code: refusal.code, error: refusal.message });
    closeGracefully(socket, encodeFrame(result));
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.makeRoomForHandshake();
    const connection = new InboundPeerConnection(socket, {
      identity: this.identity,
      logger: this.logger,
      maxFrameBytes: this.maxFrameBytes,
      handshakeTimeoutMs: this.linkSettings.handshakeTimeoutMs,
      snapshotChunkTimeoutMs: this.snapshotChunkTimeoutMs,
      livenessTimeoutMs: this.linkSettings.livenessTimeoutMs,
      clientAddress: () => this.opts.advertised?.()?.clientAddress ?? '',
      onMessage: (m) => {
        this.opts.traffic?.messageReceived(m.from, m.type);
        this.opts.onMessage(m);
      },
      onSnapshot: (from, meta, chunks) => this.opts.onSnapshot(from, meta, chunks),
      admitRaftChannel: (hello, c) => this.admitRaftChannel(hello, c),
      onHandshake: (peer, refusal) => this.noteHandshake(peer, refusal),
      onRaftChannel: (peer, c) => {
        // The newest raft connection from a peer wins: an older one is a leftover of a
        // connection that peer already gave up on (restart, partition through a proxy).
        const previous = this.raftChannels.get(peer);
        this.raftChannels.set(peer, c);
        previous?.close('info', 'peer.inbound.replaced', {});
      },
      onClosed: (c) => {
        this.inbound.delete(c);
        if (this.raftChannels.get(c.peerId) === c) this.raftChannels.delete(c.peerId);
      },
      onPeerAddresses: (peer, addresses) => {
        if (this.closed || this.opts.onPeerAddresses === undefined) return;
        try {
          this.opts.onPeerAddresses(peer, addresses);
        } catch (error) {
          this.logger.log('error', 'peer.onPeerAddresses.failed', { peer, error: String(error) });
        }
      },
    });
    this.inbound.add(connection);
  }

  /** Closes the oldest connection still waiting for its hello when `PENDING_HANDSHAKES_MAX` are. */
  private makeRoomForHandshake(): void {
    let waiting = 0;
    let oldest: InboundPeerConnection | undefined;
    for (const connection of this.inbound) {
      if (!connection.awaitingHello) continue;
      oldest ??= connection;
      waiting++;
    }
    if (waiting < PENDING_HANDSHAKES_MAX || oldest === undefined) {
      this.evictedInBurst = 0;
      return;
    }
    if (this.evictedInBurst++ === 0) this.logger.log('warn', 'peer.handshakes.full', { waiting, max: PENDING_HANDSHAKES_MAX });
    oldest.close('debug', 'peer.handshake.evicted', {});
  }

  /**
   * A raft hello from a node whose raft connection is alive: the same process reconnecting (same
   * incarnation: the newer connection wins) or a second process with the same node id (refused,
   * so that the two do not take turns replacing each other's connection).
   */
  private admitRaftChannel(hello: PeerHello, connection: InboundPeerConnection): KeelError | null {
    const current = this.raftChannels.get(hello.nodeId);
    if (current === undefined || current.incarnation === hello.incarnation || !current.live) return null;
    return duplicateNodeError(hello.nodeId, connection.remote, current.remote);
  }

  private noteHandshake(peer: NodeId, refusal: HandshakeRefusal | null): void {
    if (refusal === null) this.refusals.delete(peer);
    else if (this.peers.has(peer)) this.refusals.set(peer, refusal);
  }

  /**
   * Reports `id` unreachable: deferred to a microtask and deduplicated, so the callback never runs
   * inside `send()` (the caller may be in the middle of handling a Ready) and runs once per peer
   * per batch of drops.
   */
  private reportUnreachable(id: NodeId): void {
    if (this.onUnreachable === undefined || this.closed) return;
    this.unreachable.add(id);
    if (this.unreachable.size > 1) return;
    queueMicrotask(() => {
      const ids = [...this.unreachable];
      this.unreachable.clear();
      const callback = this.onUnreachable;
      if (callback === undefined || this.closed) return;
      for (const peer of ids) {
        try {
          callback(peer);
        } catch (error) {
          this.logger.log('error', 'peer.onUnreachable.failed', { peer, error: String(error) });
        }
      }
    });
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, got ${value}`);
  return value;
}
