import type { SeededRng } from '../rng.js';
import type { Message, NodeId } from '../types.js';

/**
 * How one directed link treats a message: a delay drawn uniformly from `[delayMin, delayMax]`
 * time units (random delays reorder messages), then loss and duplication probabilities.
 */
export interface LinkParams {
  readonly delayMin: number;
  readonly delayMax: number;
  /** Probability that a message is lost. */
  readonly loss: number;
  /** Probability that a message is delivered twice (the copy with its own delay). */
  readonly duplicate: number;
}

/** A clean, fast link: what the liveness phase gives the healed majority. */
export const CLEAN_LINK: LinkParams = { delayMin: 1, delayMax: 6, loss: 0, duplicate: 0 };

/** A clogged link: messages still arrive, 3 to 15 ticks late (in time units). */
export const CLOGGED_LINK: LinkParams = { delayMin: 30, delayMax: 150, loss: 0, duplicate: 0 };

/**
 * The simulated network (after TigerBeetle's packet_simulator): per directed link parameters and
 * a Jepsen-style "grudge" of blocked links. Partitions are link filters checked both when a
 * message is sent and when it arrives, so a partition also cuts messages already in flight.
 * The network only decides fates; the simulator owns the event queue that carries messages.
 */
export class SimNetwork {
  private readonly blocked = new Set<number>();
  private readonly params = new Map<number, LinkParams>();

  constructor(
    private readonly rng: SeededRng,
    private defaults: LinkParams,
  ) {}

  /** Replace the parameters of every link (per-link overrides are cleared). */
  setDefaults(params: LinkParams): void {
    this.defaults = params;
    this.params.clear();
  }

  setLink(from: NodeId, to: NodeId, params: LinkParams): void {
    this.params.set(linkKey(from, to), params);
  }

  /** Drop the override of one link: it uses the defaults again. */
  resetLink(from: NodeId, to: NodeId): void {
    this.params.delete(linkKey(from, to));
  }

  /** Drop every per-link override (clogs): all links use the defaults again. */
  unclogAll(): void {
    this.params.clear();
  }

  link(from: NodeId, to: NodeId): LinkParams {
    return this.params.get(linkKey(from, to)) ?? this.defaults;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /** Cut the link `from -> to` only (an asymmetric partition when the reverse stays up). */
  blockOneWay(from: NodeId, to: NodeId): void {
    if (from !== to) this.blocked.add(linkKey(from, to));
  }

  blockBoth(a: NodeId, b: NodeId): void {
    this.blockOneWay(a, b);
    this.blockOneWay(b, a);
  }

  /** Symmetric partition: no link between nodes of different groups. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (let g = 0; g < groups.length; g++) {
      for (let h = g + 1; h < groups.length; h++) {
        for (const a of groups[g]!) for (const b of groups[h]!) this.blockBoth(a, b);
      }
    }
  }

  /** Cut `id` off from every node in `all`. */
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) this.blockBoth(id, other);
  }

  /** Remove every partition. Link parameters stay. */
  heal(): void {
    this.blocked.clear();
  }

  /** Remove the partitions between members of `ids` (links to other nodes are untouched). */
  healAmong(ids: readonly NodeId[]): void {
    for (const a of ids) for (const b of ids) this.blocked.delete(linkKey(a, b));
  }

  /** Number of blocked directed links (for traces and scenario decisions). */
  blockedLinks(): number {
    return this.blocked.size;
  }

  /**
   * The fate of a message handed to the network: the delays (in time units) of each copy that
   * will arrive. Empty when the message is lost or the link is cut.
   */
  route(message: Message): number[] {
    if (this.isBlocked(message.from, message.to)) return [];
    const link = this.link(message.from, message.to);
    if (link.loss > 0 && this.rng.chance(link.loss)) return [];
    // A snapshot is big: it takes longer than a heartbeat to arrive.
    const scale = message.type === 'snap' ? 3 : 1;
    const delays = [this.delay(link) * scale];
    if (link.duplicate > 0 && this.rng.chance(link.duplicate)) delays.push(this.delay(link) * scale + 1);
    return delays;
  }

  private delay(link: LinkParams): number {
    return link.delayMin + this.rng.nextInt(link.delayMax - link.delayMin + 1);
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * 1024 + to;
}
