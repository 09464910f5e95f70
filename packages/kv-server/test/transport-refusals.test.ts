/**
 * Issue 9 item 9 (handshake part): a second process started with a member's id made the two
 * replace each other's connection to every peer, 230 reconnects in 10 s logged at INFO. A
 * duplicate id must be refused at the handshake with an ERROR on both sides, the refused node
 * must back off, and the refusal must be visible per peer (`peerState(id).refusal`) so the node
 * can say why a member does not catch up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PEER_PROTOCOL_VERSION } from '@keel/protocol';
import type { Message, NodeId } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { PeerTransport, type PeerTransportOptions } from '../src/transport/index.js';
import { activity, RawFrameSocket, recordingLogger } from './transport-test-helpers.js';

const CLUSTER = 'refusals';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

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
    clusterId: CLUSTER,
    nodeId: id,
    listen: { host: '127.0.0.1', port: 0 },
    peers: new Map(),
    logger,
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

function refusals(node: Node): Array<Record<string, unknown>> {
  return node.logger.records.filter((r) => r.event === 'peer.handshake.refused').map((r) => ({ level: r.level, ...r.fields }));
}

describe('handshake refusals', () => {
  it('refuses a second process claiming the id of a connected node, logs ERROR on both sides, and the refused one backs off', async () => {
    const n1 = await startNode(1);
    const first = await startNode(2);
    const impostor = await startNode(2);
    first.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));
    await waitForProgress(() => first.transport.peerState(1)?.connected === true, activity, 'the first node 2 connected');
    impostor.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));

    await waitForProgress(() => refusals(impostor).length >= 4, activity, 'several refused attempts by the impostor');
    // The node that was there first keeps its connection: no flapping.
    expect(first.transport.peerState(1)?.connected).toBe(true);
    expect(first.logger.records.filter((r) => r.event === 'peer.connected')).toHaveLength(1);
    expect(n1.logger.has('peer.inbound.replaced')).toBe(false);
    first.transport.send([{ type: 'heartbeat', from: 2, to: 1, term: 1, commit: 5 }]);
    await waitForProgress(() => n1.received.length === 1, activity, 'the first node 2 still delivers');

    const byNode1 = refusals(n1);
    expect(byNode1.length).toBeGreaterThan(0);
    expect(byNode1.every((r) => r['level'] === 'error')).toBe(true);
    expect(String(byNode1[0]!['error'])).toMatch(/node 2 is already connected/);
    const byImpostor = refusals(impostor);
    expect(byImpostor.every((r) => r['level'] === 'error')).toBe(true);
    expect(impostor.transport.peerState(1)?.connected).toBe(false);
    expect(impostor.transport.peerState(1)?.refusal).toMatchObject({ by: 'peer', code: 'CLUSTER_MISMATCH' });
    expect(impostor.transport.peerState(1)?.refusal?.message).toMatch(/already connected/);
    // Each retry waits at least as long as the one before (exponential backoff with equal jitter).
    const delays = byImpostor.map((r) => Number(r['retryInMs']));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[delays.length - 1]).toBeGreaterThan(delays[0]!);
  });

  it('accepts the same node again once its old connection is gone (a restart is not a duplicate)', async () => {
    const n1 = await startNode(1);
    const before = await startNode(2);
    before.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));
    await waitForProgress(() => before.transport.peerState(1)?.connected === true, activity, 'connected');
    await before.transport.close();
    const after = await startNode(2);
    after.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));
    await waitForProgress(() => after.transport.peerState(1)?.connected === true, activity, 'the restarted node connected');
    expect(refusals(n1)).toEqual([]);
  });

  it('refuses, at ERROR, a connection that claims this node’s own id', async () => {
    const n1 = await startNode(1);
    const raw = await RawFrameSocket.connect(n1.port);
    cleanup.push(() => raw.destroy());
    raw.send({ type: 'hello', clusterId: CLUSTER, nodeId: 1, to: 1, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: 'x' });
    await waitForProgress(() => raw.frames.length === 1, activity, 'the answer');
    expect(raw.frames[0]).toMatchObject({ type: 'helloResult', ok: false, error: { code: 'CLUSTER_MISMATCH' } });
    expect(refusals(n1)).toEqual([expect.objectContaining({ level: 'error', error: expect.stringMatching(/own id 1/) })]);
  });

  it('remembers per peer who refused whom and why, until a handshake succeeds', async () => {
    const leader = await startNode(1);
    const wrong = await startNode(4, { clusterId: 'another-cluster' });
    leader.transport.setPeers(new Map([[4, `127.0.0.1:${wrong.port}`]]));
    wrong.transport.setPeers(new Map([[1, `127.0.0.1:${leader.port}`]]));
    await waitForProgress(() => leader.transport.peerState(4)?.refusal !== undefined, activity, 'refusal recorded by node 1');
    // Node 1 dialled node 4 and node 4 refused it; node 4 dialled node 1 and node 1 refused it.
    await waitForProgress(
      () => refusals(leader).some((r) => r['peer'] === 4 && r['by'] === 'local') && refusals(leader).some((r) => r['peer'] === 4 && r['by'] === 'peer'),
      activity,
      'both refusals logged by node 1',
    );
    const state = leader.transport.peerState(4)!;
    expect(state.connected).toBe(false);
    expect(state.refusal?.code).toBe('CLUSTER_MISMATCH');
    expect(state.refusal?.message).toMatch(/another-cluster/);
    expect(leader.transport.peerState(9)).toBeUndefined();
  });
});
