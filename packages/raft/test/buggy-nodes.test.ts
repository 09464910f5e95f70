/**
 * The test-only buggy variants each break exactly the rule they are named after (and the real
 * core does not): the same scenario, run against both, must differ. The simulator's
 * injected-bugs test then shows that it catches each of them.
 */
import { RawNode, type RaftConfig, type Snapshot } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import * as bugs from './support/buggy-nodes.js';
import { entry, msg, storageWith, voters } from './support/fixtures.js';
import { Network, drain, enc, type NodeFactory } from './support/network.js';

const correct: NodeFactory = (c: RaftConfig) => new RawNode(c);

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.voteWithoutLogCheck, true],
])('voteWithoutLogCheck: %s', (_name, factory, buggy) => {
  it(buggy ? 'grants a vote to a stale log' : 'refuses a vote to a stale log', () => {
    const net = new Network([], { preVote: false }, factory);
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 2, 2], { term: 2 }));
    net.raw(1).step(msg.vote(2, 1, 3, 1, 1));
    expect(drain(net.get(1))).toMatchObject([{ type: 'voteResp', reject: !buggy }]);
    // Reference: §5.4.1
  });
});

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.commitPreviousTermByCounting, true],
])('commitPreviousTermByCounting: %s', (_name, factory, buggy) => {
  it(buggy ? 'commits an old-term entry by counting' : 'waits for an entry of its term', () => {
    const net = new Network([], { preVote: false }, factory);
    for (const id of [1, 2, 3]) net.add(id, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1, 2], { term: 2, commit: 1 }));
    net.raw(1).campaign();
    drain(net.get(1));
    net.raw(1).step(msg.voteResp(2, 1, 3, false));
    drain(net.get(1));
    net.raw(1).step(msg.appResp(2, 1, 3, 3));
    drain(net.get(1));
    expect(net.raw(1).status().commit).toBe(buggy ? 3 : 1);
    // Reference: §5.4.2
  });
});

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.readIndexWithoutHeartbeat, true],
])('readIndexWithoutHeartbeat: %s', (_name, factory, buggy) => {
  it(buggy ? 'answers before confirming leadership' : 'confirms leadership first', () => {
    const net = new Network([1, 2, 3], {}, factory);
    net.elect(1);
    net.raw(1).readIndex('r');
    const rd = net.raw(1).ready();
    expect(rd.readStates.length).toBe(buggy ? 1 : 0);
    expect(rd.messages.some((m) => m.type === 'heartbeat' && m.context === '1:r')).toBe(!buggy);
    // Reference: thesis §6.4
  });
});

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.concurrentConfChanges, true],
])('concurrentConfChanges: %s', (_name, factory, buggy) => {
  it(buggy ? 'accepts a second change while one is pending' : 'refuses a second pending change', () => {
    const net = new Network([1, 2, 3], {}, factory);
    net.elect(1);
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 }).ok).toBe(true);
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 3 }).ok).toBe(buggy);
    // Reference: thesis §4.1
  });
});

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.installStaleSnapshot, true],
])('installStaleSnapshot: %s', (_name, factory, buggy) => {
  it(buggy ? 'installs a snapshot older than its commit index' : 'ignores a snapshot older than its commit index', () => {
    const net = new Network([], {}, factory);
    net.add(2, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1, 1, 1], { term: 1, commit: 4 }));
    drain(net.get(2));
    const stale: Snapshot = { meta: { index: 2, term: 1, conf: voters(1, 2, 3) }, data: enc('[]') };
    net.raw(2).step({ type: 'snap', from: 1, to: 2, term: 1, snapshot: stale });
    const rd = net.raw(2).ready();
    expect(rd.snapshot !== undefined).toBe(buggy);
    // Reference: thesis §5.1
  });
});

describe.each<[string, NodeFactory, boolean]>([
  ['the real core', correct, false],
  ['the buggy variant', bugs.acksBeforePersist, true],
])('acksBeforePersist: %s', (_name, factory, buggy) => {
  it(buggy ? 'lets an acknowledgement leave before the entries are durable' : 'holds acknowledgements until the Ready is durable', () => {
    const net = new Network([], {}, factory);
    net.add(2, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1], { term: 1, commit: 1 }));
    drain(net.get(2));
    net.raw(2).step(msg.app(1, 2, 1, 1, 1, [entry(2, 1)], 1));
    const rd = net.raw(2).ready();
    const ack = { type: 'appResp', index: 2, reject: false };
    expect(rd.messages).toMatchObject(buggy ? [ack] : []);
    expect(rd.messagesAfterPersist).toMatchObject(buggy ? [] : [ack]);
    // Reference: §5.3; thesis §10.2.1 (only the leader's own write may trail its messages)
  });
});
