/**
 * The network a cluster's nodes talk over, behind one interface so that the faults a test or a
 * nemesis asks for do not depend on how they are made:
 *
 * - `DirectNetwork`: nodes dial each other directly; no faults (`pnpm cluster`, benchmarks).
 * - `ProxyNetwork`: every peer connection passes through a proxy the harness owns, which knows
 *   the dialer from its handshake and so applies each *directed* link's state (no root needed).
 * - `NetnsNetwork` (Linux, root): each node in its own network namespace on a bridge the harness
 *   creates, links cut by iptables DROP/REJECT rules in the kernel. It chooses each node's
 *   addresses (`addNode`) and wraps the command that starts it (`command`: `ip netns exec`).
 *
 * A directed cut `from -> to` means that `to` receives nothing from `from`, whichever of the two
 * dialed the connection; bytes from `to` to `from` are not affected. Heal restores every link.
 */

/**
 * How a cut link fails:
 * - `blackhole`: connections stay open and nothing gets through, like a pulled cable; new
 *   connections are accepted but carry nothing across the cut.
 * - `reset`: connections between the two nodes are reset and new ones are refused (TCP needs both
 *   directions for a connection, so a reset cut breaks connections dialed either way). In the
 *   netns network an end is reset when it next sends (see `netns/rules.ts`).
 */
export type CutMode = 'blackhole' | 'reset';

export const CUT_MODES: readonly CutMode[] = ['blackhole', 'reset'];

/** The networks `Cluster.start({ network })` builds by name (the Jepsen runner's `--net`). */
export type NetworkKind = 'direct' | 'proxy' | 'netns';

export const NETWORK_KINDS: readonly NetworkKind[] = ['direct', 'proxy', 'netns'];

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
  /** 'direct', 'proxy', 'netns', … (for reports). */
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

/** Throws a TypeError unless `from -> to` is a link between two nodes and `mode` a cut mode. */
export function checkCut(from: number, to: number, mode: CutMode): void {
  if (!CUT_MODES.includes(mode)) throw new TypeError(`cut mode must be ${CUT_MODES.join(' or ')}, got ${String(mode)}`);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from <= 0 || to <= 0 || from === to) {
    throw new TypeError(`cut needs two different node ids, got ${from} -> ${to}`);
  }
}

/** "127.0.0.1:7001" -> { host, port }. */
export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}
