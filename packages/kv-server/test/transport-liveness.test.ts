/**
 * Issue 9 item 0: after a partition that dropped packets (iptables DROP), the peer TCP connection
 * stayed open and the kernel's retransmission backoff kept a follower cut off for 25–94 s after
 * the heal, although any new connection worked at once. Modelled as the application sees it: a
 * relay that, once partitioned, discards every byte both ways on every connection it carried or
 * accepts during the partition, forever; after the heal only newly accepted connections forward.
 * The transport must notice a link that hears nothing for its liveness timeout, tear it down and
 * redial.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { PeerTransport, type PeerTransportOptions } from '../src/transport/index.js';
import { LIVENESS_PINGS } from '../src/transport/liveness.js';
import { activity, recordingLogger } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/**
 * A TCP relay to one port whose connections go silent at a partition and stay silent after the
 * heal: bytes are discarded both ways, and so are closes (a FIN is a packet too).
 */
class SilencingRelay {
  private partitioned = false;
  private readonly silenced = new WeakSet<net.Socket>();
  private readonly sockets = new Set<net.Socket>();
  accepted = 0;
  /** Chunks forwarded from the dialer to the target, and back. */
  readonly forwarded = { toTarget: 0, back: 0 };

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<SilencingRelay> {
    let relay: SilencingRelay | undefined;
    const server = net.createServer((client) => relay!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    relay = new SilencingRelay(server, (server.address() as net.AddressInfo).port);
    cleanup.push(() => relay!.close());
    return relay;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Every connection open now, and every one accepted until `heal()`, goes silent for good. */
  partition(): void {
    this.partitioned = true;
    for (const socket of this.sockets) this.silenced.add(socket);
  }

  /** New connections forward again; the silenced ones stay silent. */
  heal(): void {
    this.partitioned = false;
  }

  private accept(client: net.Socket, targetPort: number): void {
    this.accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      if (this.partitioned) this.silenced.add(from);
      from.on('data', (chunk: Buffer) => {
        if (this.silenced.has(from)) return;
        to.write(chunk);
        this.forwarded[from === client ? 'toTarget' : 'back']++;
      });
      from.on('error', () => {
        if (!this.silenced.has(from)) to.destroy();
      });
      from.on('close', () => {
        if (!this.silenced.has(from)) to.destroy();
      });
    }
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Node {
  id: NodeId;
  transport: PeerTransport;
  port: number;
  received: Message[];
  logger: ReturnType<typeof recordingLogger>;
}

async function startNode(id: NodeId, overrides: Partial<PeerTransportOptions> = {}): Promise<Node> {
  const received: Message[] = [];
  const logger = recordingLogger(`n${id}`);
  const transport = new PeerTransport({
    clusterId: 'liveness',
    nodeId: id,
    listen: { host: '127.0.0.1', port: 0 },
    peers: new Map(),
    logger,
    reconnectDelayMsMax: 100,
    onMessage: (m) => received.push(m),
    onSnapshot: async () => {
      throw new Error('no snapshots expected');
    },
    ...overrides,
  });
  cleanup.push(() => transport.close());
  const { port } = await transport.listen();
  return { id, transport, port, received, logger };
}

function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  return { type: 'heartbeat', from, to, term: 1, commit };
}

/** Sends a heartbeat every few ms (as a Raft leader would keep doing) until `to` receives one numbered `from` or later. */
async function deliverAfter(sender: Node, receiver: Node, first: number): Promise<void> {
  let next = first;
  await waitForProgress(
    () => {
      sender.transport.send([heartbeat(sender.id, receiver.id, next++)]);
      return receiver.received.some((m) => m.type === 'heartbeat' && m.commit >= first);
    },
    activity,
    `node ${receiver.id} hearing node ${sender.id} after the heal`,
  );
}

describe('peer link liveness', () => {
  it('redials a link whose connection went silent in a partition, in both directions, after the heal', async () => {
    const options = { livenessTimeoutMs: 400 };
    const n1 = await startNode(1, options);
    const n2 = await startNode(2, options);
    const to2 = await SilencingRelay.start(n2.port);
    const to1 = await SilencingRelay.start(n1.port);
    n1.transport.setPeers(new Map([[2, to2.address]]));
    n2.transport.setPeers(new Map([[1, to1.address]]));
    await deliverAfter(n1, n2, 0);
    await deliverAfter(n2, n1, 0);

    to2.partition();
    to1.partition();
    for (let i = 0; i < 20; i++) n1.transport.send([heartbeat(1, 2, 1_000 + i)]); // lost in the partition
    to2.heal();
    to1.heal();

    await deliverAfter(n1, n2, 10_000);
    await deliverAfter(n2, n1, 10_000);
    expect(n1.logger.has('peer.link.silent', 'warn')).toBe(true);
    expect(n2.logger.has('peer.link.silent', 'warn')).toBe(true);
    expect(to2.accepted).toBeGreaterThanOrEqual(2);
    // Nothing sent into the partition arrived.
    expect(n2.received.some((m) => m.type === 'heartbeat' && m.commit >= 1_000 && m.commit < 1_020)).toBe(false);
  });

  it('recovers after the heal when the link redialled into the partition (a handshake that never completes)', async () => {
    const options = { livenessTimeoutMs: 400 };
    const n1 = await startNode(1, options);
    const n2 = await startNode(2, options);
    const to2 = await SilencingRelay.start(n2.port);
    n1.transport.setPeers(new Map([[2, to2.address]]));
    await deliverAfter(n1, n2, 0);
    to2.partition();
    // The silent link is torn down and redialled; the new connection is silent too.
    await waitForProgress(() => to2.accepted >= 2 && n1.logger.has('peer.link.silent'), activity, 'a redial during the partition');
    to2.heal();
    await deliverAfter(n1, n2, 10_000);
    expect(n1.logger.has('peer.handshake.timeout')).toBe(true);
  });

  it('keeps an idle link up: a link with no Raft traffic is not mistaken for a dead one', async () => {
    const options = { livenessTimeoutMs: 200 };
    const n1 = await startNode(1, options);
    const n2 = await startNode(2, options);
    // Through relays that never cut anything, to count what crosses the links.
    const to2 = await SilencingRelay.start(n2.port);
    const to1 = await SilencingRelay.start(n1.port);
    n1.transport.setPeers(new Map([[2, to2.address]]));
    n2.transport.setPeers(new Map([[1, to1.address]]));
    await waitForProgress(() => n1.transport.peerState(2)?.connected === true && n2.transport.peerState(1)?.connected === true, activity, 'both links up');
    // Idle for several liveness timeouts, counted as the transport counts them (in ping intervals,
    // not wall time): only the transport's own pings and pongs cross the links.
    const crossed = (relay: SilencingRelay) => Math.min(relay.forwarded.toTarget, relay.forwarded.back);
    await waitForProgress(
      () => crossed(to1) >= 3 * LIVENESS_PINGS && crossed(to2) >= 3 * LIVENESS_PINGS,
      () => [to1.forwarded, to2.forwarded],
      'pings and pongs for three liveness timeouts each way',
    );
    expect(n1.transport.peerState(2)?.connected).toBe(true);
    expect(n2.transport.peerState(1)?.connected).toBe(true);
    for (const node of [n1, n2]) {
      expect(node.logger.records.filter((r) => r.event === 'peer.connected')).toHaveLength(1);
      expect(node.logger.has('peer.link.silent')).toBe(false);
      expect(node.logger.has('peer.inbound.silent')).toBe(false);
    }
    expect(n1.received).toEqual([]);
    expect(n2.received).toEqual([]);
  });

  it('closes an inbound connection that hears nothing (not even pings) for the liveness timeout', async () => {
    const n1 = await startNode(1, { livenessTimeoutMs: 200 });
    const n2 = await startNode(2, { livenessTimeoutMs: 200 });
    const to1 = await SilencingRelay.start(n1.port);
    n2.transport.setPeers(new Map([[1, to1.address]]));
    await waitForProgress(() => n2.transport.peerState(1)?.connected === true, activity, 'link up');
    to1.partition();
    await waitForProgress(() => n1.logger.has('peer.inbound.silent', 'info'), activity, 'silent inbound connection closed by node 1');
  });
});
