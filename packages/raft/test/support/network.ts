import {
  MemoryStorage,
  RawNode,
  SeededRng,
  describeMessage,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
  type RejectedRead,
  type Snapshot,
} from '@keel/raft';

/** Options shared by every node of a test network. */
export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'rng'>>;

export type NodeFactory = (config: RaftConfig) => RawNode;

/** One node of the test network: the RawNode plus its "disk" and what it applied. */
export class TestNode {
  node: RawNode;
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  readonly rejectedReads: RejectedRead[] = [];
  /** The state machine: applied data payloads in order (restored from snapshots). */
  state: string[] = [];
  /** Index of the last applied entry (or installed snapshot). */
  appliedIndex = 0;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    private readonly config: RaftConfig,
    private readonly factory: NodeFactory,
  ) {
    this.node = factory(config);
  }

  /** Crash and restart from what was persisted (every Ready is fully persisted here). */
  restart(): void {
    this.node = this.factory({ ...this.config, applied: this.appliedIndex });
  }

  /** Membership as of applied index `index` (last applied conf entry at or below it, else the snapshot's). */
  confAt(index: number): ConfState {
    const base = this.storage.snapshot().meta;
    let conf = base.conf;
    for (const e of this.applied) if (e.index > base.index && e.index <= index && e.type === 'confChange') conf = e.conf;
    return conf;
  }

  /** Take a snapshot at the applied index and compact the log up to it. */
  compact(): void {
    if (this.appliedIndex > this.storage.snapshot().meta.index) {
      this.storage.createSnapshot(this.appliedIndex, this.confAt(this.appliedIndex), enc(JSON.stringify(this.state)));
    }
  }

  /** Committed data payloads as strings (no-ops and conf entries skipped). */
  appliedData(): string[] {
    return this.state;
  }

  /** Install a snapshot's state machine contents. */
  installSnapshot(snapshot: Snapshot): void {
    this.storage.applySnapshot(snapshot);
    this.appliedIndex = snapshot.meta.index;
    this.state = snapshot.data.byteLength === 0 ? [] : (JSON.parse(textDecoder.decode(snapshot.data)) as string[]);
  }

  /** Apply one committed entry. */
  apply(e: Entry): void {
    if (e.index !== this.appliedIndex + 1) throw new Error(`node ${this.id} applies ${e.index} after ${this.appliedIndex}`);
    this.applied.push(e);
    this.appliedIndex = e.index;
    if (e.type === 'normal' && e.data.byteLength > 0) this.state.push(dec(e));
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
export const enc = (s: string): Uint8Array => textEncoder.encode(s);
export const dec = (e: Entry): string => (e.type === 'normal' ? textDecoder.decode(e.data) : `conf:${e.change.type}:${e.change.nodeId}`);

/**
 * A small synchronous network for unit tests. Each node's Ready is handled exactly as the
 * contract says (queue `messages`, install the snapshot and persist entries and hard state into
 * `MemoryStorage`, then queue `messagesAfterPersist`, apply, advance), so tests exercise the real
 * order. Messages wait in a FIFO until delivered; tests can drop, inspect or take them.
 */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, oldest first. */
  queue: Message[] = [];
  /** Every message sent, rendered by `describeMessage`. */
  readonly transcript: string[] = [];
  /** Links that drop messages, as "from->to". */
  private readonly cut = new Set<string>();
  /** Extra drop rule. */
  dropIf: ((m: Message) => boolean) | undefined;

  constructor(
    ids: readonly NodeId[],
    readonly options: NodeOptions = {},
    readonly factory: NodeFactory = (c) => new RawNode(c),
    conf: ConfState = { voters: [...ids], learners: [] },
    seed = 1,
  ) {
    for (const id of ids) this.add(id, conf, seed);
  }

  /** Add a node whose storage starts with membership `conf`. */
  add(id: NodeId, conf: ConfState, seed = 1, storage = new MemoryStorage(conf)): TestNode {
    const config: RaftConfig = { electionTick: 10, heartbeatTick: 1, ...this.options, id, storage, rng: new SeededRng(seed * 1000 + id) };
    const n = new TestNode(id, storage, config, this.factory);
    this.nodes.set(id, n);
    return n;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).node;
  }

  /** Handle one Ready of node `id` per the contract; returns it (or undefined if none). */
  handleReady(id: NodeId): Ready | undefined {
    const n = this.get(id);
    if (!n.node.hasReady()) return undefined;
    const rd = n.node.ready();
    for (const m of rd.messages) this.send(m);
    persist(n, rd);
    for (const m of rd.messagesAfterPersist) this.send(m);
    for (const e of rd.committedEntries) n.apply(e);
    n.readStates.push(...rd.readStates);
    n.rejectedReads.push(...rd.rejectedReads);
    n.node.advance(rd);
    return rd;
  }

  /** Handle Readies of every node until none has one. */
  processAll(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const id of this.nodes.keys()) {
        if (this.handleReady(id) !== undefined) any = true;
      }
      if (!any) return;
    }
    throw new Error('processAll: no quiescence');
  }

  private send(m: Message): void {
    this.transcript.push(describeMessage(m));
    if (this.cut.has(`${m.from}->${m.to}`) || this.dropIf?.(m) === true || !this.nodes.has(m.to)) {
      if (m.type === 'snap') this.nodes.get(m.from)?.node.reportSnapshot(m.to, 'failure');
      return;
    }
    this.queue.push(m);
  }

  /** Deliver one message (the oldest, or the first matching `pred`). */
  deliverOne(pred: (m: Message) => boolean = () => true): Message | undefined {
    const at = this.queue.findIndex(pred);
    if (at < 0) return undefined;
    const [m] = this.queue.splice(at, 1);
    this.get(m!.to).node.step(m!);
    if (m!.type === 'snap') this.get(m!.from).node.reportSnapshot(m!.to, 'finish');
    return m;
  }

  /** Remove and return queued messages matching `pred` without delivering them. */
  take(pred: (m: Message) => boolean): Message[] {
    const taken = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return taken;
  }

  /** Process and deliver until nothing is left in flight. */
  stabilize(maxMessages = 100_000): void {
    this.processAll();
    for (let k = 0; k < maxMessages; k++) {
      if (this.deliverOne() === undefined) {
        this.processAll();
        if (this.queue.length === 0) return;
      }
      this.processAll();
    }
    throw new Error('stabilize: too many messages');
  }

  tick(id: NodeId, times = 1): void {
    for (let k = 0; k < times; k++) this.raw(id).tick();
  }

  /** Tick every node `times` times, stabilizing after each round. */
  tickAll(times = 1): void {
    for (let k = 0; k < times; k++) {
      for (const n of this.nodes.values()) n.node.tick();
      this.stabilize();
    }
  }

  /** Make `id` campaign and run the election to completion. */
  elect(id: NodeId): void {
    this.raw(id).campaign();
    this.stabilize();
  }

  /** Propose `data` at `id` and stabilize; returns the result. */
  propose(id: NodeId, data: string): ReturnType<RawNode['propose']> {
    const r = this.raw(id).propose(enc(data));
    this.stabilize();
    return r;
  }

  /** Cut both directions between `a` and `b`. */
  isolatePair(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  /** Cut `id` off from every other node. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.isolatePair(id, other);
  }

  /** Cut the one-way link from `from` to `to`. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
    this.dropIf = undefined;
  }

  leaderOf(): NodeId | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.node.status().role === 'leader');
    if (leaders.length === 0) return undefined;
    // The one with the highest term: a deposed leader may not know it yet.
    leaders.sort((a, b) => b.node.status().term - a.node.status().term);
    return leaders[0]!.id;
  }
}

/** Step 2 of the Ready contract: install the snapshot, persist entries and hard state. */
function persist(n: TestNode, rd: Ready): void {
  if (rd.snapshot !== undefined) n.installSnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
}

/** All of a Ready's messages in the order they leave: `messages`, then `messagesAfterPersist`. */
export function sent(rd: Ready): Message[] {
  return [...rd.messages, ...rd.messagesAfterPersist];
}

/**
 * Handle a node's Readies until it has none, persisting into its storage, and return every
 * message they carried, in sending order (for single-node tests).
 */
export function drain(n: TestNode): Message[] {
  const out: Message[] = [];
  while (n.node.hasReady()) {
    const rd = n.node.ready();
    persist(n, rd);
    out.push(...sent(rd));
    for (const e of rd.committedEntries) n.apply(e);
    n.readStates.push(...rd.readStates);
    n.rejectedReads.push(...rd.rejectedReads);
    n.node.advance(rd);
  }
  return out;
}
