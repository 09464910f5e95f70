/**
 * The network a cluster's nodes talk over, behind one interface so that the faults a test or a
 * nemesis asks for do not depend on how they are made:
 *
 * - `DirectNetwork`: nodes dial each other directly; no faults (`pnpm cluster`, benchmarks).
 * - `ProxyNetwork`: every peer connection passes through a proxy the harness owns, which knows
 *   the dialer from its handshake and so applies each *directed* link's state (no root needed).
 * - A `netns` network (not built yet) would give each node its own network namespace on a bridge
 *   and cut links with iptables DROP/REJECT rules; it fits the same interface: it chooses each
 *   node's addresses (`addNode`) and wraps the command that starts it (`command`).
 *
 * A directed cut `from -> to` means that `to` receives nothing from `from`, whichever of the two
 * dialed the connection; bytes from `to` to `from` are not affected. Heal restores every link.
 */

/**
 * How a cut link fails:
 * - `blackhole`: connections stay open and nothing gets through, like a pulled cable; new
 *   connections are accepted but carry nothing across the cut.
 * - `reset`: connections between the two nodes are reset and new ones are refused (TCP needs both
 *   directions for a connection, so a reset cut breaks connections dialed either way).
 */
export type CutMode = 'blackhole' | 'reset';

export const CUT_MODES: readonly CutMode[] = ['blackhole', 'reset'];

/** Where a node listens, and where the other nodes and clients reach it ("host:port" each). */
export interface NodeAddresses {
  /** `--listen-peer`. */
  readonly listenPeer: string;
  /** `--listen-client`. */
  readonly listenClient: string;
  /** The peer address in the membership, which every other node dials (a proxy's, in the proxy network). */
  readonly peerAddress: string;
  /** The client address in the membership, which clients dial. */
  readonly clientAddress: string;
}

/** Fixed ports for a node's membership addresses (`pnpm cluster`); free ones are chosen otherwise. */
export interface FixedPorts {
  readonly peerPort: number;
  readonly clientPort: number;
}

export interface Cut {
  readonly from: number;
  readonly to: number;
  readonly mode: CutMode;
}

export interface Network {
  /** 'direct', 'proxy', … (for reports). */
  readonly kind: string;
  /** Chooses (and, for a proxy, opens) the addresses of node `id`. */
  addNode(id: number, ports?: FixedPorts): Promise<NodeAddresses>;
  /** Forgets node `id` (closing what `addNode` opened), so its addresses can be chosen again. */
  removeNode(id: number): Promise<void>;
  /** How to run node `id`: `argv` is node's arguments (the server script first). */
  command(id: number, argv: readonly string[]): { file: string; args: readonly string[] };
  /** From now on `to` receives nothing from `from` (see `CutMode`). Cutting a cut link changes its mode. */
  cut(from: number, to: number, mode: CutMode): void;
  /** Restores every link. */
  heal(): void;
  /** The links cut now. */
  cuts(): Cut[];
  /** Closes everything the network opened. */
  close(): Promise<void>;
}

/** "127.0.0.1:7001" -> { host, port }. */
export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}
