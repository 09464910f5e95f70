/**
 * One peer connection through a node's proxy: the dialer's socket (`downstream`) and the proxy's
 * own connection to the node (`upstream`, opened only once a byte may cross to the node).
 *
 * The proxy learns who dialed from the first frame, the peer hello (`nodeId`), so it knows which
 * directed link each direction of the connection belongs to: bytes from the dialer travel
 * `from -> to`, bytes from the node travel `to -> from`. Each chunk is delivered, held or causes a
 * reset according to its link's state at that moment:
 *
 * - no cut: delivered;
 * - `blackhole`: held, and the proxy stops reading that side until the heal, so the sender's
 *   socket buffer fills as it would while TCP retransmits into a dead link. Nothing crosses;
 * - `reset`: both sockets are reset.
 *
 * When the links heal, held bytes are delivered (TCP retransmitted them) — or, when the network
 * models the kernel's retransmission backoff, a connection that was blackholed stays silent both
 * ways for good (`stall()`), and only connections dialed after the heal carry traffic.
 *
 * A connection whose first frame is not a peer hello keeps `from` = 0 and is never cut.
 */
import net from 'node:net';
import { FRAME_HEADER_BYTES, FrameDecoder, validatePeerHello } from '@keel/protocol';
import type { CutMode } from './network.js';

/** A hello is small; a first frame larger than this is not one. */
const HELLO_BYTES_MAX = 64 * 1024;

type Direction = 'forward' | 'backward';

/** What a connection asks of the network it belongs to. */
export interface ConnectionHost {
  /** The state of the directed link `from -> to` now. */
  mode(from: number, to: number): CutMode | undefined;
  /** Where node `to` listens for peers now. */
  target(to: number): { host: string; port: number };
  /** `bytes` crossed from `from` to `to`. */
  delivered(from: number, to: number, bytes: number): void;
  closed(connection: ProxiedConnection): void;
}

export class ProxiedConnection {
  /** The dialer, once its hello was read; 0 when the first frame was not a hello. */
  from = 0;
  /** Whether any direction of this connection was blackholed since it opened. */
  blackholed = false;
  private identified = false;
  private stalled = false;
  private closed = false;
  private upstream: net.Socket | null = null;
  /** Bytes read before the dialer was known (the hello). */
  private head: Buffer[] = [];
  private readonly held: Record<Direction, Buffer[]> = { forward: [], backward: [] };

  constructor(
    readonly to: number,
    private readonly downstream: net.Socket,
    private readonly host: ConnectionHost,
  ) {
    downstream.setNoDelay(true);
    downstream.on('data', (chunk: Buffer) => (this.identified ? this.onData('forward', chunk) : this.onHead(chunk)));
    downstream.on('error', () => this.close());
    downstream.on('close', () => this.close());
  }

  /** Re-reads the state of both links (a cut or a heal happened). */
  apply(): void {
    if (!this.identified || this.stalled || this.closed) return;
    for (const dir of ['forward', 'backward'] as const) {
      const mode = this.modeOf(dir);
      if (mode === 'reset') return this.reset();
      if (mode === 'blackhole') this.blackholed = true; // the next chunk read is held, and reading stops
      else this.release(dir);
    }
  }

  /** Bytes held back now on their way from `from` to `to` (0 unless that link is blackholed). */
  heldBytes(from: number, to: number): number {
    if (this.from === 0) return 0;
    const dir: Direction | undefined =
      from === this.from && to === this.to ? 'forward' : from === this.to && to === this.from ? 'backward' : undefined;
    return dir === undefined ? 0 : this.held[dir].reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** Silent both ways from now on: nothing read, nothing delivered (a connection in TCP backoff). */
  stall(): void {
    if (this.closed) return;
    this.stalled = true;
    this.held.forward = [];
    this.held.backward = [];
    this.downstream.pause();
    this.upstream?.pause();
  }

  /** Resets both sockets (the peers see ECONNRESET). */
  reset(): void {
    if (this.closed) return;
    this.downstream.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.downstream.destroy();
    this.upstream?.destroy();
    this.host.closed(this);
  }

  private onHead(chunk: Buffer): void {
    this.head.push(chunk);
    const buffered = Buffer.concat(this.head);
    if (buffered.length < FRAME_HEADER_BYTES) return;
    const length = buffered.readUInt32BE(0);
    if (length <= HELLO_BYTES_MAX && buffered.length < FRAME_HEADER_BYTES + length) return;
    this.from = length <= HELLO_BYTES_MAX ? helloSender(buffered.subarray(0, FRAME_HEADER_BYTES + length)) : 0;
    this.identified = true;
    this.head = [];
    this.onData('forward', buffered);
  }

  private onData(dir: Direction, chunk: Buffer): void {
    if (this.stalled || this.closed) return;
    const mode = this.modeOf(dir);
    if (mode === 'reset') return this.reset();
    if (mode === 'blackhole') {
      this.blackholed = true;
      this.held[dir].push(chunk);
      this.source(dir)?.pause();
      return;
    }
    this.deliver(dir, chunk);
  }

  /** Delivers what a healed direction held and reads on. */
  private release(dir: Direction): void {
    const held = this.held[dir];
    this.held[dir] = [];
    for (const chunk of held) this.deliver(dir, chunk);
    this.source(dir)?.resume();
  }

  private deliver(dir: Direction, chunk: Buffer): void {
    const sink = dir === 'forward' ? this.openUpstream() : this.downstream;
    sink.write(chunk);
    const [from, to] = this.ends(dir);
    this.host.delivered(from, to, chunk.length);
  }

  /** The connection to the node, opened at the first byte allowed across. */
  private openUpstream(): net.Socket {
    if (this.upstream !== null) return this.upstream;
    const socket = net.connect(this.host.target(this.to));
    this.upstream = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData('backward', chunk));
    // The node is down: the dialer sees the connection reset, as it would dialing the node.
    socket.on('error', () => this.reset());
    socket.on('close', () => this.close());
    return socket;
  }

  private source(dir: Direction): net.Socket | null {
    return dir === 'forward' ? this.downstream : this.upstream;
  }

  /** [sender, receiver] of the bytes travelling in `dir`. */
  private ends(dir: Direction): [number, number] {
    return dir === 'forward' ? [this.from, this.to] : [this.to, this.from];
  }

  private modeOf(dir: Direction): CutMode | undefined {
    if (this.from === 0) return undefined;
    const [from, to] = this.ends(dir);
    return this.host.mode(from, to);
  }
}

/** The dialer's node id from a complete first frame, or 0 when it is not a valid peer hello. */
function helloSender(frame: Buffer): number {
  let sender = 0;
  try {
    new FrameDecoder({ maxFrameBytes: HELLO_BYTES_MAX }).push(frame, (value) => {
      sender = validatePeerHello(value).nodeId;
    });
  } catch {
    sender = 0;
  }
  return sender;
}
