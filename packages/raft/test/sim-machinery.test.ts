/**
 * Unit tests of the simulator's own parts: event queue, network, disk/driver crash model and the
 * invariant checker. The checker is fed hand-made histories, so each invariant is shown to fire
 * on exactly the situation it names and to stay quiet on a legal one.
 */
import { RawNode, SeededRng, type Entry, type Message, type Ready } from '@keel/raft';
import {
  EventQueue,
  InvariantChecker,
  SimNetwork,
  SimNode,
  SimStateMachine,
  encodeAscii,
  entryKey,
  type NodeFactory,
  type NodeObserver,
} from '@keel/raft/testing';
import { describe, expect, it } from 'vitest';

const normal = (index: number, term: number, data: string): Entry => ({ type: 'normal', index, term, data: encodeAscii(data) });

describe('EventQueue', () => {
  it('pops by time, then in insertion order', () => {
    const q = new EventQueue<string>();
    const rng = new SeededRng(7);
    const pushed: { time: number; item: string }[] = [];
    for (let i = 0; i < 500; i++) {
      const time = rng.nextInt(20);
      q.push(time, `e${i}`);
      pushed.push({ time, item: `e${i}` });
    }
    const expected = [...pushed].sort((a, b) => a.time - b.time); // Array.prototype.sort is stable
    const popped: { time: number; item: string }[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e);
    expect(popped).toEqual(expected);
    expect(q.peekTime()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('SimNetwork', () => {
  const heartbeat = (from: number, to: number): Message => ({ type: 'heartbeat', from, to, term: 1, commit: 0 });

  it('delivers within the link delay bounds; loss 1 drops all; duplicate 1 doubles all', () => {
    const net = new SimNetwork(new SeededRng(1), { delayMin: 3, delayMax: 9, loss: 0, duplicate: 0 });
    for (let i = 0; i < 200; i++) {
      const delays = net.route(heartbeat(1, 2));
      expect(delays).toHaveLength(1);
      expect(delays[0]).toBeGreaterThanOrEqual(3);
      expect(delays[0]).toBeLessThanOrEqual(9);
    }
    net.setLink(1, 2, { delayMin: 1, delayMax: 1, loss: 1, duplicate: 0 });
    expect(net.route(heartbeat(1, 2))).toEqual([]);
    expect(net.route(heartbeat(2, 1))).toHaveLength(1); // per directed link
    net.setLink(1, 3, { delayMin: 1, delayMax: 1, loss: 0, duplicate: 1 });
    expect(net.route(heartbeat(1, 3))).toHaveLength(2);
  });

  it('partitions symmetrically, one way, by isolation, and heals', () => {
    const net = new SimNetwork(new SeededRng(2), { delayMin: 1, delayMax: 1, loss: 0, duplicate: 0 });
    net.partition([[1], [2, 3]]);
    expect(net.isBlocked(1, 2) && net.isBlocked(2, 1) && net.isBlocked(3, 1)).toBe(true);
    expect(net.isBlocked(2, 3)).toBe(false);
    expect(net.route(heartbeat(1, 2))).toEqual([]);
    net.heal();
    expect(net.blockedLinks()).toBe(0);
    net.blockOneWay(1, 2);
    expect([net.isBlocked(1, 2), net.isBlocked(2, 1)]).toEqual([true, false]);
    net.isolate(3, [1, 2, 3]);
    expect([net.isBlocked(3, 1), net.isBlocked(2, 3), net.isBlocked(1, 2)]).toEqual([true, true, true]);
    net.healAmong([1, 2]);
    expect([net.isBlocked(1, 2), net.isBlocked(3, 1)]).toEqual([false, true]);
  });
});

describe('SimNode (driver + disk)', () => {
  /** A single-voter node whose fsync takes `delay` units; disk completions are run by hand. */
  function singleNode(delay: number) {
    const sent: Message[] = [];
    const pendingDisk: number[] = [];
    const observer: NodeObserver = {
      readyReceived: (_n: SimNode, _r: Ready) => {},
      persisted: () => {},
      send: (_n, messages) => sent.push(...messages),
      scheduleDiskDone: (_n, _d, incarnation) => pendingDisk.push(incarnation),
      entryApplied: () => {},
      snapshotInstalled: () => {},
      snapshotTaken: () => {},
      readState: () => {},
      readServed: () => {},
      readRejected: () => {},
      contractBroken: (_n, _kind, message) => {
        throw new Error(message);
      },
    };
    const factory: NodeFactory = (config) => new RawNode(config);
    const driver = { ackBeforePersist: false, stepDuringPersist: true, snapshotEvery: 0, fsyncDelay: () => delay };
    const node = new SimNode(1, { voters: [1], learners: [] }, driver, observer, factory, { electionTick: 10 }, new SeededRng(3));
    node.start();
    const flushDisk = () => {
      while (pendingDisk.length > 0) node.diskDone(pendingDisk.shift()!);
    };
    return { node, sent, flushDisk, pendingDisk };
  }

  it('makes a write durable only when its fsync completes; a crash before that loses it', () => {
    const { node, flushDisk, pendingDisk } = singleNode(5);
    node.campaign();
    flushDisk();
    expect(node.role).toBe('leader');
    const before = node.disk.storage.lastIndex();
    const result = node.propose(encodeAscii('x'));
    expect(result?.ok).toBe(true);
    expect(node.persisting).toBe(true);
    expect(pendingDisk).toHaveLength(1);
    expect(node.disk.storage.lastIndex()).toBe(before); // not on disk yet
    node.crash();
    flushDisk(); // the completion of the dead incarnation is ignored
    node.start();
    expect(node.disk.storage.lastIndex()).toBe(before);
    expect(node.raw!.status().lastIndex).toBe(before);
  });

  it('recovers the durable log, hard state and applied index through a new RawNode', () => {
    const { node, flushDisk } = singleNode(0);
    node.campaign();
    flushDisk();
    for (const w of ['a', 'b', 'c']) node.propose(encodeAscii(w));
    flushDisk();
    const applied = node.disk.stateMachine.applied;
    const hard = node.disk.storage.hardState();
    expect(applied).toBe(node.disk.storage.lastIndex());
    node.crash();
    node.start();
    const status = node.raw!.status();
    expect(status.applied).toBe(applied);
    expect(status.commit).toBe(hard.commit);
    expect(status.term).toBe(hard.term);
  });
});

describe('InvariantChecker', () => {
  it('flags two leaders in one term, not one leader per term (§5.2)', () => {
    const c = new InvariantChecker();
    const none = () => undefined;
    c.leaderElected(1, 2, 0, none);
    c.leaderElected(2, 3, 0, none);
    c.leaderElected(1, 2, 0, none); // the same leader announced again is fine
    expect(c.violations).toEqual([]);
    c.leaderElected(3, 3, 0, none);
    expect(c.violations.map((v) => v.kind)).toEqual(['electionSafety']);
  });

  it('flags a leader lacking an entry committed in an earlier term (§5.4)', () => {
    const c = new InvariantChecker();
    const sm = new SimStateMachine({ voters: [1], learners: [] });
    const e1 = normal(1, 1, 'a');
    sm.apply(e1);
    c.applied(1, e1, sm.digest, 1);
    c.leaderElected(2, 2, 0, (i) => (i === 0 ? 0 : i === 1 ? 1 : undefined));
    expect(c.ok).toBe(true);
    c.leaderElected(3, 3, 0, (i) => (i === 0 ? 0 : undefined));
    expect(c.violations.map((v) => v.kind)).toEqual(['leaderCompleteness']);
  });

  it('does not demand an entry from the leader of a term not after the one that committed it', () => {
    const c = new InvariantChecker();
    c.applied(1, normal(1, 3, 'a'), 1, 3);
    c.leaderElected(2, 3, 0, () => undefined); // term 3 is not later than 3
    expect(c.ok).toBe(true);
  });

  it('flags same index and term with different entries or different predecessors (§5.3)', () => {
    const c = new InvariantChecker();
    const termsA = [0, 1, 1];
    c.durableEntries(1, [normal(1, 1, 'a'), normal(2, 1, 'b')], 1, (i) => termsA[i]!);
    c.durableEntries(2, [normal(1, 1, 'a'), normal(2, 1, 'b')], 1, (i) => termsA[i]!);
    expect(c.ok).toBe(true);
    c.durableEntries(3, [normal(2, 1, 'c')], 1, (i) => termsA[i]!);
    expect(c.violations.map((v) => v.kind)).toEqual(['logMatching']);
    const d = new InvariantChecker();
    d.durableEntries(1, [normal(2, 2, 'x')], 1, () => 1);
    d.durableEntries(2, [normal(2, 2, 'x')], 1, () => 0); // same entry, different predecessor term
    expect(d.violations.map((v) => v.kind)).toEqual(['logMatching']);
  });

  it('flags two nodes applying different entries at one index (§5.4.3)', () => {
    const c = new InvariantChecker();
    const a = new SimStateMachine({ voters: [1], learners: [] });
    const b = new SimStateMachine({ voters: [1], learners: [] });
    a.apply(normal(1, 1, 'x'));
    b.apply(normal(1, 1, 'x'));
    expect(c.applied(1, normal(1, 1, 'x'), a.digest, 1)).toBe(true);
    expect(c.applied(2, normal(1, 1, 'x'), b.digest, 1)).toBe(false);
    expect(c.ok).toBe(true);
    c.applied(3, normal(1, 2, 'y'), 0, 2);
    expect(c.violations.map((v) => v.kind)).toEqual(['stateMachineSafety']);
  });

  it('flags commit and term regressions, and stale snapshot installs', () => {
    const c = new InvariantChecker();
    c.hardState(1, { term: 2, vote: 1, commit: 5 }, { term: 2, vote: 1, commit: 4 });
    expect(c.ok).toBe(true);
    expect(c.maxCommitSeen).toBe(5);
    c.hardState(1, { term: 2, vote: 1, commit: 3 }, { term: 2, vote: 1, commit: 5 });
    c.hardState(1, { term: 1, vote: 1, commit: 5 }, { term: 2, vote: 1, commit: 5 });
    c.durableHardState(2, { term: 1, vote: 0, commit: 7 }, 7);
    c.durableHardState(2, { term: 1, vote: 0, commit: 6 }, 7);
    c.snapshotInstalled(3, 10, 1, 0, 12);
    expect(c.violations.map((v) => v.kind)).toEqual(['commitRegressed', 'termRegressed', 'commitRegressed', 'staleSnapshot']);
  });

  it('keys entries by term and content', () => {
    expect(entryKey(normal(4, 2, 'w1'))).not.toBe(entryKey(normal(4, 3, 'w1')));
    expect(entryKey(normal(4, 2, ''))).toBe('2:-');
  });
});
