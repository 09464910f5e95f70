/**
 * Linearizable reads by ReadIndex: Raft thesis §6.4 (and §6.4.1 for follower reads).
 */
import { describe, expect, it } from 'vitest';
import { storageWith, voters } from './support/fixtures.js';
import { Network, drain } from './support/network.js';

function leaderNet(ids = [1, 2, 3]): Network {
  const net = new Network(ids);
  net.elect(1);
  net.propose(1, 'a');
  return net;
}

describe('ReadIndex on the leader', () => {
  it('records the commit index and answers after a quorum acknowledged a heartbeat carrying the request id', () => {
    const net = leaderNet();
    net.raw(1).readIndex('r1');
    net.processAll();
    const hbs = net.queue.filter((m) => m.type === 'heartbeat');
    expect(hbs).toMatchObject([
      { to: 2, context: '1:r1' },
      { to: 3, context: '1:r1' },
    ]);
    expect(net.get(1).readStates).toEqual([]);
    net.stabilize();
    expect(net.get(1).readStates).toEqual([{ requestId: 'r1', index: 2 }]);
    // Reference: thesis §6.4 steps 1-3
  });

  it('does not answer until a majority acknowledged (one ack of four is not enough in five nodes)', () => {
    const net = leaderNet([1, 2, 3, 4, 5]);
    net.raw(1).readIndex('r');
    net.processAll();
    net.deliverOne((m) => m.type === 'heartbeat' && m.to === 2);
    net.processAll();
    net.deliverOne((m) => m.type === 'heartbeatResp');
    net.processAll();
    expect(net.get(1).readStates).toEqual([]);
    net.deliverOne((m) => m.type === 'heartbeat' && m.to === 3);
    net.processAll();
    net.deliverOne((m) => m.type === 'heartbeatResp');
    net.processAll();
    expect(net.get(1).readStates).toEqual([{ requestId: 'r', index: 2 }]);
    // Reference: thesis §6.4 step 3
  });

  it('one heartbeat round confirms every read issued before it', () => {
    const net = leaderNet();
    for (const id of ['a', 'b', 'c']) net.raw(1).readIndex(id);
    net.processAll();
    expect(net.queue.filter((m) => m.type === 'heartbeat')).toHaveLength(2);
    net.stabilize();
    expect(net.get(1).readStates.map((r) => r.requestId)).toEqual(['a', 'b', 'c']);
  });

  it('a new leader serves no read before it commits an entry of its term', () => {
    const net = new Network([]);
    for (const id of [1, 2, 3]) net.add(id, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1], { term: 1, commit: 1 }));
    // Node 1 wins term 2 but its no-op (index 3) reaches nobody yet.
    net.dropIf = (m) => m.from === 1 && m.type === 'app';
    net.elect(1);
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', commit: 1 });
    net.raw(1).readIndex('early');
    net.stabilize();
    expect(net.get(1).readStates).toEqual([]);
    expect(net.get(1).rejectedReads).toEqual([]);
    // Once the no-op commits, the queued read is confirmed and served at the new commit index.
    net.dropIf = undefined;
    net.tickAll(2);
    expect(net.raw(1).status().commit).toBe(3);
    expect(net.get(1).readStates).toEqual([{ requestId: 'early', index: 3 }]);
    // Reference: thesis §6.4 step 1
  });

  it('a read whose heartbeat round was lost is confirmed by the next periodic heartbeat', () => {
    const net = leaderNet();
    net.raw(1).readIndex('r');
    net.processAll();
    expect(net.take((m) => m.type === 'heartbeat')).toHaveLength(2);
    net.stabilize();
    expect(net.get(1).readStates).toEqual([]);
    net.tickAll(1);
    expect(net.get(1).readStates).toEqual([{ requestId: 'r', index: 2 }]);
    // Reference: thesis §6.4
  });

  it('a single-voter cluster answers at once', () => {
    const net = new Network([1]);
    net.elect(1);
    net.raw(1).readIndex('solo');
    const rd = net.raw(1).ready();
    expect(rd.readStates).toEqual([{ requestId: 'solo', index: 1 }]);
    expect(rd.messages).toEqual([]);
    // Reference: thesis §6.4
  });

  it('pending reads fail with leadershipLost when the leader steps down', () => {
    const net = leaderNet();
    net.isolate(1);
    net.raw(1).readIndex('lost');
    for (let k = 0; k < 25; k++) {
      net.raw(1).tick();
      net.processAll();
    }
    expect(net.raw(1).status().role).toBe('follower');
    expect(net.get(1).readStates).toEqual([]);
    expect(net.get(1).rejectedReads).toEqual([{ requestId: 'lost', reason: 'leadershipLost' }]);
    // Reference: thesis §6.4 (a deposed leader must not answer)
  });

  it('a leader partitioned away never answers a read, while the new majority moves on', () => {
    const net = leaderNet([1, 2, 3, 4, 5]);
    net.isolate(1);
    net.raw(1).readIndex('stale?');
    net.tickAll(40);
    const l = net.leaderOf()!;
    expect(l).not.toBe(1);
    net.propose(l, 'b');
    expect(net.get(1).readStates).toEqual([]);
    // Reference: thesis §6.4
  });
});

describe('ReadIndex from a follower (thesis §6.4.1)', () => {
  it('forwards the request and turns the answer into a read state', () => {
    const net = leaderNet();
    net.raw(2).readIndex('f1');
    net.processAll();
    expect(net.queue).toMatchObject([{ type: 'readIndex', from: 2, to: 1, requestId: 'f1' }]);
    net.stabilize();
    expect(net.get(2).readStates).toEqual([{ requestId: 'f1', index: 2 }]);
    expect(net.transcript.some((l) => l.startsWith('1->2 readIndexResp') && l.includes('index=2'))).toBe(true);
  });

  it('request ids only need to be unique per node: equal ids from two nodes are both answered', () => {
    const net = leaderNet();
    net.raw(1).readIndex('same');
    net.raw(2).readIndex('same');
    net.raw(3).readIndex('same');
    net.stabilize();
    for (const id of [1, 2, 3]) expect(net.get(id).readStates).toEqual([{ requestId: 'same', index: 2 }]);
  });

  it('a node without a leader rejects at once', () => {
    const net = new Network([1, 2, 3]);
    net.raw(1).readIndex('x');
    expect(net.raw(1).ready().rejectedReads).toEqual([{ requestId: 'x', reason: 'noLeader' }]);
  });

  it('a forwarded read fails when the follower loses its leader', () => {
    const net = leaderNet();
    net.raw(2).readIndex('f');
    net.processAll();
    net.take(() => true);
    net.raw(2).step({ type: 'vote', from: 3, to: 2, term: 9, lastIndex: 99, lastTerm: 9, transfer: true });
    drain(net.get(2));
    expect(net.get(2).rejectedReads).toEqual([{ requestId: 'f', reason: 'leadershipLost' }]);
  });

  it('a forwarded read whose answer is lost expires after two election timeouts', () => {
    const net = leaderNet();
    net.dropIf = (m) => m.type === 'readIndex';
    net.raw(2).readIndex('gone');
    net.tickAll(19);
    expect(net.get(2).rejectedReads).toEqual([]);
    expect(net.raw(2).status().leader).toBe(1);
    net.tickAll(1);
    expect(net.get(2).rejectedReads).toEqual([{ requestId: 'gone', reason: 'leadershipLost' }]);
  });

  it('a node that is not leader refuses a forwarded request', () => {
    const s = storageWith(voters(1, 2, 3), [1], { term: 1 });
    const net = new Network([]);
    net.add(1, voters(1, 2, 3), 1, s);
    net.raw(1).step({ type: 'readIndex', from: 2, to: 1, term: 1, requestId: 'q' });
    expect(drain(net.get(1))).toMatchObject([{ type: 'readIndexResp', to: 2, requestId: 'q', reject: true }]);
  });
});
