/**
 * The accepting half: a connection a peer dialed to this node. The first frame must be a valid
 * hello for this cluster and node; then the connection carries either Raft messages from that
 * peer (channel 'raft', read-only from here) or one snapshot stream (channel 'snapshot').
 *
 * A client request sent here by mistake (a client given the peer port) gets one client-protocol
 * error frame, WRONG_PORT with id -1 naming the client port, and the connection is closed.
 * A TLS handshake reaching this plaintext port (the dialler has `--peer-cert`, this node not) gets
 * a TLS_FAILED refusal and is logged as such, rather than as an oversized frame.
 * A malformed or oversized frame closes only this connection. A structurally invalid Raft
 * message (or one whose `from`/`to` contradict the handshake) is dropped and logged; the
 * connection stays up.
 *
 * Liveness (`liveness.ts`): on a raft channel every ping is answered with a pong, and a channel
 * that receives no frame for the liveness timeout is closed (`tick()`). A snapshot channel must
 * begin its stream within the handshake timeout; the stream then has its own per-chunk timeouts.
 */
import type net from 'node:net';
import type { Logger, Message, NodeId, SnapshotMeta } from '@keel/raft';
import type { ClientResponse, PeerHello, PeerHelloResult, PeerIdentity } from '@keel/protocol';
import {
  FrameDecoder,
  KeelError,
  NO_REQUEST_ID,
  PEER_PROTOCOL_VERSION,
  TLS_HANDSHAKE_RECORD,
  checkPeerHello,
  encodeFrame,
  requestIdOf,
  validatePeerHello,
} from '@keel/protocol';
import { asKeelError, clientAtPeerPortError, connectionLostError, malformedFrameError, tlsPeerAtPlaintextPortError } from './errors.js';
import { refusalOf, type HandshakeRefusal, type PeerAddresses } from './hello.js';
import { closeGracefully } from './graceful-close.js';
import { PONG_FRAME, Silence, isPing } from './liveness.js';
import { validateMessage } from './message-codec.js';
import { ChunkStream, validateSnapshotFrame, type SnapshotReply } from './snapshot-stream.js';

export interface InboundSettings {
  readonly identity: PeerIdentity;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly snapshotChunkTimeoutMs: number;
  /** Where this node listens for clients ('' when unknown), named to a client that reached the peer port. */
  readonly clientAddress: () => string;
  /** Keepalive delay for the socket (the raft channel's own liveness is counted by `tick()`). */
  readonly livenessTimeoutMs: number;
  readonly onMessage: (m: Message) => void;
  readonly onSnapshot: (from: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>) => Promise<void>;
  /**
   * The transport's decision on a raft channel whose hello passed `checkPeerHello`: `null` to
   * accept, or the error to refuse it with (a second process claiming a connected node's id).
   */
  readonly admitRaftChannel: (hello: PeerHello, connection: InboundPeerConnection) => KeelError | null;
  /** A raft channel from `peer` is up; the transport closes any older one from the same peer. */
  readonly onRaftChannel: (peer: NodeId, connection: InboundPeerConnection) => void;
  /** A hello from `peer` was accepted (`null`) or refused. */
  readonly onHandshake: (peer: NodeId, refusal: HandshakeRefusal | null) => void;
  readonly onClosed: (connection: InboundPeerConnection) => void;
  /** An accepted hello from `peer` advertised where it listens (at least one address non-empty). */
  readonly onPeerAddresses: (peer: NodeId, addresses: PeerAddresses) => void;
}

type Phase = 'hello' | 'raft' | 'snapshot' | 'closed';

const PONG = encodeFrame(PONG_FRAME);

export class InboundPeerConnection {
  private phase: Phase = 'hello';
  private peer: NodeId = 0;
  private readonly decoder: FrameDecoder;
  private handshakeTimer: NodeJS.Timeout | null;
  private stream: ChunkStream | null = null;
  private dropped = 0;
  private readonly silence = new Silence();
  private peerIncarnation = '';

  constructor(
    private readonly socket: net.Socket,
    private readonly settings: InboundSettings,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, settings.livenessTimeoutMs);
    this.decoder = new FrameDecoder({ maxFrameBytes: settings.maxFrameBytes, copyBuffers: true, plainValues: true });
    this.handshakeTimer = setTimeout(() => this.close('warn', 'peer.handshake.timeout', {}), settings.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.close('debug', 'peer.inbound.error', { error: error.message }));
    socket.on('close', () => this.close('debug', 'peer.inbound.closed', {}));
  }

  /** The peer this connection comes from (0 before the handshake). */
  get peerId(): NodeId {
    return this.peer;
  }

  /** True until the first frame (the hello) is handled. */
  get awaitingHello(): boolean {
    return this.phase === 'hello';
  }

  /** The incarnation the peer's hello carried ('' before the handshake). */
  get incarnation(): string {
    return this.peerIncarnation;
  }

  /** "host:port" the connection comes from. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** True while the connection hears its peer: a frame arrived in this ping interval or the last one. */
  get live(): boolean {
    return this.phase !== 'closed' && this.silence.silentIntervals < 2;
  }

  /** Called once per ping interval: closes a raft channel that heard nothing for the liveness timeout. */
  tick(): void {
    if (this.phase === 'raft' && this.silence.endInterval()) {
      this.close('info', 'peer.inbound.silent', { livenessTimeoutMs: this.settings.livenessTimeoutMs });
    }
  }

  /** Closes the connection; a snapshot stream in progress fails. */
  close(level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, unknown>): void {
    if (this.phase === 'closed') return;
    const phase = this.phase;
    this.phase = 'closed';
    this.clearHandshakeTimer();
    this.socket.destroy();
    this.stream?.fail(connectionLostError(`snapshot connection from node ${this.peer} closed`));
    this.settings.logger.log(level, event, { peer: this.peer, channel: phase, remote: this.socket.remoteAddress, ...fields });
    this.settings.onClosed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'hello' && this.decoder.pendingBytes === 0 && chunk[0] === TLS_HANDSHAKE_RECORD) return this.refuseTls();
    try {
      this.decoder.push(chunk, (value) => this.onFrame(value));
    } catch (error) {
      const keel = asKeelError(error);
      this.close('warn', 'peer.frame.rejected', { code: keel.code, error: keel.message });
    }
  }

  private onFrame(value: unknown): void {
    this.silence.heard();
    switch (this.phase) {
      case 'hello':
        if (isClientRequest(value)) return this.answerClient();
        return this.onHello(validatePeerHello(value));
      case 'raft':
        return this.onRaftFrame(value);
      case 'snapshot':
        return this.onSnapshotFrame(value);
      case 'closed':
        return;
    }
  }

  private onHello(hello: PeerHello): void {
    const refusal =
      checkPeerHello(hello, this.settings.identity) ?? (hello.channel === 'raft' ? this.settings.admitRaftChannel(hello, this) : null);
    if (refusal !== null) {
      const result: PeerHelloResult = { type: 'helloResult', ok: false, error: refusal.toWire() };
      this.phase = 'closed';
      this.clearHandshakeTimer();
      closeGracefully(this.socket, encodeFrame(result));
      // Every refusal is a configuration error a person must fix; the dialer backs off.
      this.settings.logger.log('error', 'peer.handshake.refused', {
        peer: hello.nodeId,
        by: 'local',
        clusterId: hello.clusterId,
        protocolVersion: hello.protocolVersion,
        remote: this.remote,
        code: refusal.code,
        error: refusal.message,
      });
      if (hello.nodeId !== this.settings.identity.nodeId) this.settings.onHandshake(hello.nodeId, refusalOf('local', refusal));
      this.settings.onClosed(this);
      return;
    }
    this.settings.onHandshake(hello.nodeId, null);
    this.peer = hello.nodeId;
    this.peerIncarnation = hello.incarnation;
    const result: PeerHelloResult = {
      type: 'helloResult',
      ok: true,
      clusterId: this.settings.identity.clusterId,
      nodeId: this.settings.identity.nodeId,
      protocolVersion: PEER_PROTOCOL_VERSION,
    };
    this.socket.write(encodeFrame(result));
    this.phase = hello.channel;
    if (hello.peerAddress !== undefined || hello.clientAddress !== undefined) {
      this.settings.onPeerAddresses(hello.nodeId, { peerAddress: hello.peerAddress ?? '', clientAddress: hello.clientAddress ?? '' });
    }
    // A snapshot channel keeps the handshake timer until its stream begins.
    if (hello.channel === 'raft') {
      this.clearHandshakeTimer();
      this.settings.onRaftChannel(hello.nodeId, this);
    }
  }

  /** A TLS handshake on this plaintext port: refuse in the peer protocol (the dialler's TLS layer reports it cannot read it) and close. */
  private refuseTls(): void {
    const refusal = tlsPeerAtPlaintextPortError(this.settings.identity.nodeId);
    const result: PeerHelloResult = { type: 'helloResult', ok: false, error: refusal.toWire() };
    this.phase = 'closed';
    this.clearHandshakeTimer();
    closeGracefully(this.socket, encodeFrame(result));
    this.settings.logger.log('error', 'peer.handshake.refused', { by: 'local', remote: this.remote, code: refusal.code, error: refusal.message });
    this.settings.onClosed(this);
  }

  /** A client reached the peer port: tell it where the client port is, in its own protocol, and close. */
  private answerClient(): void {
    const clientAddress = this.settings.clientAddress();
    const response: ClientResponse = { id: NO_REQUEST_ID, ok: false, error: clientAtPeerPortError(clientAddress).toWire() };
    this.phase = 'closed';
    this.clearHandshakeTimer();
    closeGracefully(this.socket, encodeFrame(response));
    this.settings.logger.log('info', 'peer.client_request', { remote: this.remote, clientAddress });
    this.settings.onClosed(this);
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private onRaftFrame(value: unknown): void {
    if (isPing(value)) {
      this.socket.write(PONG);
      return;
    }
    let message: Message;
    try {
      message = validateMessage(value);
      if (message.from !== this.peer || message.to !== this.settings.identity.nodeId) {
        throw malformedFrameError(`message from ${message.from} to ${message.to} on the channel from node ${this.peer}`);
      }
    } catch (error) {
      // Log the first few, then every 1000th, so a babbling peer cannot flood the log.
      if (this.dropped++ < 10 || this.dropped % 1000 === 0) {
        this.settings.logger.log('warn', 'peer.message.dropped', { peer: this.peer, dropped: this.dropped, error: (error as Error).message });
      }
      return;
    }
    try {
      this.settings.onMessage(message);
    } catch (error) {
      this.settings.logger.log('error', 'peer.onMessage.failed', { peer: this.peer, type: message.type, error: String(error) });
    }
  }

  private onSnapshotFrame(value: unknown): void {
    const frame = validateSnapshotFrame(value);
    if (frame.type === 'snapBegin') {
      if (this.stream !== null) throw malformedFrameError('a second snapBegin on one snapshot connection');
      this.clearHandshakeTimer();
      const stream = new ChunkStream((seq) => this.reply({ type: 'snapAck', seq }), 2 * this.settings.snapshotChunkTimeoutMs);
      this.stream = stream;
      const from = this.peer;
      this.settings.logger.log('info', 'peer.snapshot.receiving', { peer: from, index: frame.meta.index, term: frame.meta.term });
      let installing: Promise<void>;
      try {
        installing = Promise.resolve(this.settings.onSnapshot(from, frame.meta, stream));
      } catch (error) {
        installing = Promise.reject(error);
      }
      installing.then(
        () => {
          this.settings.logger.log('info', 'peer.snapshot.received', { peer: from, index: frame.meta.index, chunks: stream.count });
          this.reply({ type: 'snapDone', ok: true });
        },
        (error: unknown) => {
          const keel = asKeelError(error, 'snapshot install failed');
          this.settings.logger.log('warn', 'peer.snapshot.failed', { peer: from, index: frame.meta.index, error: keel.message });
          this.reply({ type: 'snapDone', ok: false, error: keel.toWire() });
        },
      );
      return;
    }
    if (this.stream === null) throw malformedFrameError(`${frame.type} before snapBegin`);
    if (frame.type === 'snapChunk') this.stream.push(frame.seq, frame.data);
    else this.stream.end(frame.chunks);
  }

  private reply(reply: SnapshotReply): void {
    if (this.phase === 'closed') return;
    this.socket.write(encodeFrame(reply));
  }
}

/** A frame of the client protocol: a request has a numeric `id` and an `op`, a hello neither. */
function isClientRequest(value: unknown): boolean {
  return requestIdOf(value) !== NO_REQUEST_ID && typeof (value as { op?: unknown }).op === 'string';
}
