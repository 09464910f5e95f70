/**
 * ProxyNetwork against stand-in nodes: plain TCP servers on the addresses the network gives the
 * nodes to listen on, and dialers that open every connection with a peer hello, as keel-server
 * does. Checks the contract of a directed cut: `cut(1, 2)` means node 2 receives nothing from
 * node 1, whichever of the two dialed, while node 1 keeps hearing node 2.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PEER_PROTOCOL_VERSION, encodeFrame, type PeerHello } from '@keel/protocol';
import { DirectNetwork, ProxyNetwork, splitAddress, waitForProgress, type NodeAddresses } from '@keel/test-support';

/** Chunks received and connections ended on every `End` so far: what the waits below watch move. */
let endEvents = 0;
const moved = (): number => endEvents;

/** One end of a TCP connection: everything it received, and how it ended. */
class End {
  received = '';
  readonly ended: Promise<string>;

  constructor(readonly socket: net.Socket) {
    endEvents++;
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      endEvents++;
    });
    this.ended = new Promise((resolve) => {
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.on('close', () => {
        endEvents++;
        resolve('closed');
      });
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }
}

/** A stand-in node: accepts peer connections on its listen address. */
class StandIn {
  readonly accepted: End[] = [];
  private constructor(private readonly server: net.Server) {}

  static listen(address: string): Promise<StandIn> {
    return new Promise((resolve, reject) => {
      let node: StandIn;
      const server = net.createServer((socket) => node.accepted.push(new End(socket)));
      node = new StandIn(server);
      server.once('error', reject);
      server.listen(splitAddress(address), () => resolve(node));
    });
  }

  close(): Promise<void> {
    for (const e of this.accepted) e.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A hello as keel-server sends it (typed, so that a change of the hello shows here). */
function helloFrame(from: number, to: number): Buffer {
  const hello: PeerHello = { type: 'hello', clusterId: 'test', nodeId: from, to, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: `stand-in-${from}` };
  return encodeFrame(hello);
}

/** Node `from` dials node `to` through its proxy and sends its hello (and `then`, if given). */
function dial(from: number, to: NodeAddresses, toId: number, then = ''): End {
  const end = new End(net.connect(splitAddress(to.peerAddress)));
  end.socket.write(Buffer.concat([helloFrame(from, toId), Buffer.from(then, 'latin1')]));
  return end;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A proxy network with stand-in nodes 1 and 2, and one connection each way already talking. */
async function twoNodes(network = new ProxyNetwork()) {
  cleanups.push(() => network.close());
  const a1 = await network.addNode(1);
  const a2 = await network.addNode(2);
  const n1 = await StandIn.listen(a1.listenPeer);
  const n2 = await StandIn.listen(a2.listenPeer);
  cleanups.push(() => n1.close(), () => n2.close());
  // 1 dials 2, and 2 dials 1; each side says hello back.
  const from1 = dial(1, a2, 2, 'one-dialed');
  await waitForProgress(() => n2.accepted[0]?.received.includes('one-dialed') === true, moved, 'node 2 accepts');
  const at2 = n2.accepted[0]!;
  at2.send('two-answers');
  await waitForProgress(() => from1.received === 'two-answers', moved, 'node 1 hears node 2');
  const from2 = dial(2, a1, 1, 'two-dialed');
  await waitForProgress(() => n1.accepted[0]?.received.includes('two-dialed') === true, moved, 'node 1 accepts');
  const at1 = n1.accepted[0]!;
  at1.send('one-answers');
  await waitForProgress(() => from2.received === 'one-answers', moved, 'node 2 hears node 1');
  return { network, a1, a2, n1, n2, from1, at2, from2, at1 };
}

describe('ProxyNetwork', () => {
  it('knows the dialer from its hello and counts the bytes of each directed link', async () => {
    const { network } = await twoNodes();
    const hello = helloFrame(1, 2).length;
    expect(network.bytes(1, 2)).toBe(hello + 'one-dialed'.length + 'one-answers'.length);
    expect(network.bytes(2, 1)).toBe(hello + 'two-answers'.length + 'two-dialed'.length);
    expect(network.cuts()).toEqual([]);
  });

  it('blackhole: node 2 receives nothing from node 1 on connections dialed either way, node 1 still hears node 2; heal delivers what was held', async () => {
    const { network, a2, n2, from1, at2, from2, at1 } = await twoNodes();
    const before = network.bytes(1, 2);
    network.cut(1, 2, 'blackhole');
    expect(network.cuts()).toEqual([{ from: 1, to: 2, mode: 'blackhole' }]);

    from1.send('1-to-2 on 1s connection');
    at1.send('1-to-2 on 2s connection');
    const late = dial(1, a2, 2, 'hello on a new connection');
    at2.send('2-to-1 on 1s connection');
    from2.send('2-to-1 on 2s connection');
    // The other direction flows.
    await waitForProgress(() => from1.received.endsWith('2-to-1 on 1s connection'), moved, 'node 1 hears node 2');
    await waitForProgress(() => at1.received.endsWith('2-to-1 on 2s connection'), moved, 'node 1 hears node 2 on its own connection');
    // Everything node 1 sent is held by the proxies, none of it delivered.
    const held = 2 * '1-to-2 on 1s connection'.length + helloFrame(1, 2).length + 'hello on a new connection'.length;
    await waitForProgress(() => network.held(1, 2) === held, () => network.held(1, 2), 'the proxies hold what node 1 sent');
    expect(network.bytes(1, 2)).toBe(before);
    expect(at2.received).not.toContain('1-to-2');
    expect(from2.received).not.toContain('1-to-2');
    expect(n2.accepted).toHaveLength(1); // the new connection never reached node 2
    expect(network.held(2, 1)).toBe(0);

    network.heal();
    expect(network.cuts()).toEqual([]);
    await waitForProgress(() => at2.received.endsWith('1-to-2 on 1s connection') && from2.received.endsWith('1-to-2 on 2s connection'), moved, 'held bytes delivered');
    await waitForProgress(() => n2.accepted[1]?.received.endsWith('hello on a new connection') === true, moved, 'the new connection reaches node 2');
    expect(network.held(1, 2)).toBe(0);
    // And the connections carry on.
    from1.send('after heal');
    await waitForProgress(() => at2.received.endsWith('after heal'), moved, 'traffic after heal');
    late.socket.destroy();
  });

  it('reset: connections between the two nodes are reset whoever dialed, new ones from node 1 are refused', async () => {
    const { network, a1, a2, n1, n2, from1, from2 } = await twoNodes();
    network.cut(1, 2, 'reset');
    expect(await from1.ended).toBe('ECONNRESET');
    expect(await from2.ended).toBe('ECONNRESET');

    const refused = dial(1, a2, 2, 'anyone there?');
    expect(await refused.ended).toBe('ECONNRESET');
    expect(n2.accepted.filter((e) => e.received.includes('anyone there?'))).toEqual([]);

    // Node 2 may still reach node 1, but node 1's answer would cross the cut: reset then.
    const fromTwo = dial(2, a1, 1, 'two again');
    await waitForProgress(() => n1.accepted.some((e) => e.received.includes('two again')), moved, 'node 1 hears node 2');
    n1.accepted.at(-1)!.send('answer');
    expect(await fromTwo.ended).toBe('ECONNRESET');
    expect(fromTwo.received).toBe('');

    network.heal();
    const healed = dial(1, a2, 2, 'healed');
    await waitForProgress(() => n2.accepted.some((e) => e.received.includes('healed')), moved, 'node 2 hears node 1 again');
    healed.socket.destroy();
  });

  it("afterHeal 'stall': a blackholed connection stays silent both ways after the heal; a new one carries traffic", async () => {
    const { network, a2, n2, from1, at2 } = await twoNodes(new ProxyNetwork({ afterHeal: 'stall' }));
    network.cut(1, 2, 'blackhole');
    from1.send('during');
    await waitForProgress(() => network.held(1, 2) === 'during'.length, () => network.held(1, 2), 'held');
    network.heal();
    expect(network.held(1, 2)).toBe(0); // dropped, never delivered
    from1.send('after');
    at2.send('back');
    const bytes12 = network.bytes(1, 2);
    const bytes21 = network.bytes(2, 1);

    const fresh = dial(1, a2, 2, 'fresh');
    await waitForProgress(() => n2.accepted[1]?.received.endsWith('fresh') === true, moved, 'a new connection reaches node 2');
    n2.accepted[1]!.send('fresh back');
    await waitForProgress(() => fresh.received === 'fresh back', moved, 'and carries the answer');
    expect(network.bytes(1, 2)).toBe(bytes12 + helloFrame(1, 2).length + 'fresh'.length);
    expect(network.bytes(2, 1)).toBe(bytes21 + 'fresh back'.length);
    expect(at2.received).not.toContain('during');
    expect(at2.received).not.toContain('after');
    expect(from1.received).not.toContain('back');
    fresh.socket.destroy();
  });

  it('never cuts a connection whose first frame is not a peer hello', async () => {
    const { network, a2, n2 } = await twoNodes();
    network.cut(1, 2, 'reset');
    network.cut(2, 1, 'blackhole');
    const stranger = new End(net.connect(splitAddress(a2.peerAddress)));
    stranger.socket.write(Buffer.concat([encodeFrame({ op: 'status', id: 1 }), Buffer.from('more')]));
    await waitForProgress(() => n2.accepted.some((e) => e.received.endsWith('more')), moved, 'node 2 hears the stranger');
    stranger.socket.destroy();
  });

  it('refuses a cut it cannot make', async () => {
    const network = new ProxyNetwork();
    expect(() => network.cut(1, 1, 'reset')).toThrow(TypeError);
    expect(() => network.cut(1, 2, 'drop' as 'reset')).toThrow(/blackhole or reset/);
    expect(() => new DirectNetwork().cut(1, 2, 'reset')).toThrow(/cannot cut links/);
    await network.close();
  });
});
