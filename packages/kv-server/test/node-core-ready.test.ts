/**
 * The node core follows the Ready contract (`Ready` in @keel/raft): a leader's appends leave
 * before its own write of them is durable (Raft thesis §10.2.1), acknowledgements only after
 * (§5.3), and the leader's own copy counts towards commitment only once its write is done. The
 * stores are the production ones over LevelDB; the test holds the synced writes at the disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Member } from '@keel/protocol';
import { RawNode, SeededRng, type AppendMessage, type Message, type NodeId } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { NodeCore } from '../src/node/node-core.js';
import { levelDisk, openLevelDb } from '../src/storage/layout.js';
import { openNodeStores, type Disk, type NodeStores } from '../src/storage/index.js';
import { testCoreConfig } from './support/core-config.js';

const ELECTION_TICKS = 10;
const MEMBERS: readonly Member[] = [1, 2, 3].map((id) => ({ id, role: 'voter', peerAddress: `127.0.0.1:${id}`, clientAddress: `127.0.0.1:${id}` }));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** LevelDB, except that while `held` a synced write (with `heldUnsynced` an unsynced one) waits at the disk until `release()`. */
class GatedDisk implements Disk {
  held = false;
  heldUnsynced = false;
  private waiting: Array<() => void> = [];

  constructor(private readonly real: Disk) {}

  get waitingWrites(): number {
    return this.waiting.length;
  }

  async write(ops: Parameters<Disk['write']>[0], sync: boolean): Promise<void> {
    if (sync ? this.held : this.heldUnsynced) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.real.write(ops, sync);
  }

  clear(sublevel: string, range: Parameters<Disk['clear']>[1]): Promise<void> {
    return this.real.clear(sublevel, range);
  }

  release(): void {
    this.held = this.heldUnsynced = false;
    for (const go of this.waiting.splice(0)) go();
  }
}

interface Harness {
  readonly core: NodeCore;
  readonly disk: GatedDisk;
  readonly stores: NodeStores;
  readonly sent: Message[];
}

async function startNode(id: NodeId): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-core-'));
  const db = await openLevelDb(dir);
  const disk = new GatedDisk(levelDisk(db));
  const stores = await openNodeStores(db, disk);
  await stores.log.bootstrap(MEMBERS);
  const raw = new RawNode({
    id,
    storage: stores.log.raftStorage,
    applied: stores.state.appliedIndex(),
    rng: new SeededRng(id),
    electionTick: ELECTION_TICKS,
    heartbeatTick: 1,
    preVote: false,
    checkQuorum: false,
  });
  const config = testCoreConfig(id, ELECTION_TICKS);
  const sent: Message[] = [];
  const core = new NodeCore(config, raw, {
    log: stores.log,
    state: stores.state,
    peers: { send: (ms) => sent.push(...ms), sendSnapshot: () => new Promise(() => undefined), setPeers: () => undefined },
    scheduler: { soon: (run) => setImmediate(run) },
    rng: new SeededRng(100 + id),
    logger: { log: () => undefined },
    listening: { peerAddress: '', clientAddress: '' },
    onFatal: (err) => {
      throw err;
    },
  });
  cleanups.push(async () => {
    disk.release();
    await core.close();
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  });
  core.start();
  await waitForProgress(() => stores.state.appliedIndex() === MEMBERS.length, () => stores.state.appliedIndex(), 'the bootstrap entries are applied');
  return { core, disk, stores, sent };
}

/** What moves while a node works: its Raft state, what it sent, its log, its applied index, the disk. */
const moved = (h: Harness): unknown => [h.core.status(), h.sent.length, h.stores.log.raftStorage.lastIndex(), h.stores.state.appliedIndex(), h.disk.waitingWrites];

const appsTo = (ms: readonly Message[], to: NodeId): AppendMessage[] => ms.filter((m): m is AppendMessage => m.type === 'app' && m.to === to);

/** Node 1 leading a 3-node cluster, its first entry of the term acknowledged by both followers (both now replicating). */
async function leader(): Promise<Harness & { term: number }> {
  const h = await startNode(1);
  for (let i = 0; i < 2 * ELECTION_TICKS && h.core.status().role !== 'candidate'; i++) h.core.tick();
  const term = h.core.status().term;
  await waitForProgress(() => h.sent.some((m) => m.type === 'vote' && m.to === 2), () => moved(h), 'the vote request leaves');
  h.core.step({ type: 'voteResp', from: 2, to: 1, term, reject: false });
  await waitForProgress(() => h.core.status().role === 'leader' && appsTo(h.sent, 2).length > 0, () => moved(h), 'it leads and appends its empty entry');
  const empty = appsTo(h.sent, 2).at(-1)!;
  const emptyIndex = empty.prevIndex + empty.entries.length;
  for (const from of [2, 3]) h.core.step({ type: 'appResp', from, to: 1, term, index: emptyIndex, reject: false, hintIndex: 0, hintTerm: 0 });
  await waitForProgress(() => h.core.status().commit === emptyIndex && h.stores.state.appliedIndex() === emptyIndex, () => moved(h), 'its empty entry commits and applies');
  h.sent.length = 0;
  return { ...h, term };
}

describe('the node core and the Ready contract', () => {
  it("sends a leader's appends before its own write is durable, and commits only once it is", async () => {
    const h = await leader();
    const before = h.core.status().lastIndex;
    h.disk.held = true;
    let answered: unknown;
    void h.core
      .handle({ id: 1, op: 'put', key: new TextEncoder().encode('k'), value: new TextEncoder().encode('v'), session: { clientId: 'c', seq: 1, ackedBelow: 0 } })
      .then(
        (r) => (answered = r),
        (e: unknown) => (answered = e),
      );
    const index = before + 1;
    await waitForProgress(() => h.disk.waitingWrites === 1, () => moved(h), "the leader's write of the entry waits at the disk");
    // The write is not durable, and the entry is already on its way to both followers.
    expect(h.stores.log.raftStorage.lastIndex()).toBe(before);
    for (const to of [2, 3]) expect(appsTo(h.sent, to).flatMap((m) => m.entries.map((e) => e.index))).toContain(index);

    // One follower's acknowledgement is not a majority without the leader's own durable copy.
    h.core.step({ type: 'appResp', from: 2, to: 1, term: h.term, index, reject: false, hintIndex: 0, hintTerm: 0 });
    expect(h.core.status().commit).toBe(before);

    h.disk.release();
    await waitForProgress(() => answered !== undefined, () => moved(h), 'the write is answered');
    expect(answered).toEqual({ revision: index });
    expect(h.stores.log.raftStorage.lastIndex()).toBe(index);
    expect(h.core.status().commit).toBe(index);
  });

  it('applies and answers a committed entry an earlier Ready made durable while the next write waits at the disk', async () => {
    const h = await leader();
    const put = (key: string, seq: number) =>
      h.core.handle({ id: seq, op: 'put', key: new TextEncoder().encode(key), value: new TextEncoder().encode('v'), session: { clientId: 'c', seq, ackedBelow: 0 } });
    const first = h.core.status().lastIndex + 1;
    let answeredFirst: unknown;
    void put('a', 1).then((r) => (answeredFirst = r));
    await waitForProgress(() => h.stores.log.raftStorage.lastIndex() === first, () => moved(h), 'the first entry is durable on the leader');

    // The next Ready carries a new entry (a synced write, held at the disk) and the first entry's
    // commit: the first entry applies and is answered without waiting for that write.
    h.disk.held = true;
    void put('b', 2).catch(() => undefined); // answered SHUTTING_DOWN at cleanup
    h.core.step({ type: 'appResp', from: 2, to: 1, term: h.term, index: first, reject: false, hintIndex: 0, hintTerm: 0 });
    await waitForProgress(() => answeredFirst !== undefined, () => moved(h), 'the first write is answered');
    expect(answeredFirst).toEqual({ revision: first });
    expect(h.disk.waitingWrites).toBe(1);
    expect(h.stores.log.raftStorage.lastIndex()).toBe(first);
  });

  it("answers a write once its result is computed, before its apply's store batch is written; applied (what reads wait for) moves after", async () => {
    const h = await leader();
    const first = h.core.status().lastIndex + 1;
    let answered: unknown;
    void h.core
      .handle({ id: 1, op: 'put', key: new TextEncoder().encode('a'), value: new TextEncoder().encode('v'), session: { clientId: 'c', seq: 1, ackedBelow: 0 } })
      .then((r) => (answered = r));
    await waitForProgress(() => h.stores.log.raftStorage.lastIndex() === first, () => moved(h), 'the entry is durable on the leader');

    h.disk.heldUnsynced = true;
    h.core.step({ type: 'appResp', from: 2, to: 1, term: h.term, index: first, reject: false, hintIndex: 0, hintTerm: 0 });
    await waitForProgress(() => answered !== undefined, () => moved(h), 'the write is answered');
    expect(answered).toEqual({ revision: first });
    // The apply's batch still waits at the disk: the database and the applied index are behind
    // (a scan reads the database); a get already answers from the apply's value cache.
    expect(h.disk.waitingWrites).toBe(1);
    expect(h.core.status().applied).toBe(first - 1);
    expect(h.stores.state.appliedIndex()).toBe(first - 1);
    expect((await h.stores.state.scan({ prefix: new TextEncoder().encode('a') }, 10)).kvs).toEqual([]);
    expect(await h.stores.state.get(new TextEncoder().encode('a'))).toMatchObject({ modRevision: first });

    // The revision the client was just given may be compacted to at once: the compaction's own
    // entry comes after it in the log (the check is against the commit index, not the applied one).
    let compacted: unknown;
    h.core.handle({ id: 2, op: 'compact', revision: first }).then(
      (r) => (compacted = r),
      (e: unknown) => (compacted = e),
    );
    await waitForProgress(() => h.stores.log.raftStorage.lastIndex() === first + 1 || compacted !== undefined, () => moved(h), 'the compaction is proposed');
    expect(compacted).toBeUndefined();

    h.disk.release();
    await waitForProgress(() => h.core.status().applied === first, () => moved(h), 'the apply is written and the applied index moves');
    expect(await h.stores.state.get(new TextEncoder().encode('a'))).toMatchObject({ modRevision: first });
    h.core.step({ type: 'appResp', from: 2, to: 1, term: h.term, index: first + 1, reject: false, hintIndex: 0, hintTerm: 0 });
    await waitForProgress(() => compacted !== undefined, () => moved(h), 'the compaction is answered');
    expect(compacted).toEqual({ revision: first + 1, compactRevision: first });
  });

  it('acknowledges appended entries only once they are durable', async () => {
    const h = await startNode(2);
    const last = h.stores.log.raftStorage.lastIndex();
    h.disk.held = true;
    const entry = { type: 'normal' as const, index: last + 1, term: 2, data: new Uint8Array(0) };
    h.core.step({ type: 'app', from: 1, to: 2, term: 2, prevIndex: last, prevTerm: 1, entries: [entry], commit: last });
    await waitForProgress(() => h.disk.waitingWrites === 1, () => moved(h), 'the write of the entry waits at the disk');
    expect(h.sent.filter((m) => m.type === 'appResp')).toEqual([]);

    h.disk.release();
    await waitForProgress(() => h.sent.some((m) => m.type === 'appResp'), () => moved(h), 'the acknowledgement leaves');
    expect(h.sent.filter((m) => m.type === 'appResp')).toMatchObject([{ to: 1, index: last + 1, reject: false }]);
  });
});
