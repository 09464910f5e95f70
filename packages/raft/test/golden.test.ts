/**
 * Golden transcripts (etcd's interaction tests): a scenario printed with the same describe*
 * functions the logger uses. A behaviour change shows up as a readable diff of the protocol.
 */
import { describeReady, type NodeId } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { Network, enc } from './support/network.js';

/** Run every node's Readies and deliveries to quiescence, printing each Ready and delivery. */
function settle(net: Network, out: string[]): void {
  for (let round = 0; round < 100; round++) {
    let any = false;
    for (const id of net.nodes.keys()) {
      const rd = net.handleReady(id);
      if (rd === undefined) continue;
      any = true;
      out.push(`> ${id} ready`, ...describeReady(rd).split('\n').map((l) => `  ${l}`));
    }
    if (net.queue.length > 0) {
      any = true;
      const batch = net.queue.length;
      for (let k = 0; k < batch; k++) net.deliverOne();
    }
    if (!any) return;
  }
  throw new Error('no quiescence');
}

function step(out: string[], what: string): void {
  out.push('', `# ${what}`);
}

describe('golden transcripts', () => {
  it('election with PreVote, a proposal, a read and a leadership transfer', async () => {
    const net = new Network([1, 2, 3]);
    const out: string[] = [];
    const on = (id: NodeId): ReturnType<Network['raw']> => net.raw(id);
    step(out, 'node 1 campaigns (PreVote first)');
    on(1).campaign();
    settle(net, out);
    step(out, 'node 1 proposes "x"');
    on(1).propose(enc('x'));
    settle(net, out);
    step(out, 'node 3 reads through the leader');
    on(3).readIndex('read-1');
    settle(net, out);
    step(out, 'node 1 hands leadership to node 2');
    on(1).transferLeadership(2);
    settle(net, out);
    await expect(out.join('\n') + '\n').toMatchFileSnapshot('./support/golden/election-read-transfer.txt');
  });

  it('a follower that needs compacted entries catches up by snapshot', async () => {
    const net = new Network([1, 2, 3]);
    const out: string[] = [];
    net.elect(1);
    net.isolate(3);
    for (const v of ['a', 'b']) net.propose(1, v);
    net.tickAll(1);
    for (const id of [1, 2]) net.get(id).compact();
    net.heal();
    step(out, 'the leader compacted up to 3 while node 3 was away; a heartbeat brings it back');
    net.raw(1).tick();
    settle(net, out);
    await expect(out.join('\n') + '\n').toMatchFileSnapshot('./support/golden/snapshot-catch-up.txt');
  });
});
