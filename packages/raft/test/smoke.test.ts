import { describe, expect, it } from 'vitest';
import { Network } from './support/network.js';

describe('smoke', () => {
  it('elects a leader by timeout and replicates', () => {
    const net = new Network([1, 2, 3]);
    net.tickAll(30);
    const leader = net.leaderOf();
    expect(leader).toBeDefined();
    const r = net.propose(leader!, 'hello');
    expect(r.ok).toBe(true);
    net.tickAll(2);
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(['hello']);
  });
});
