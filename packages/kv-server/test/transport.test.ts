import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, PEER_PROTOCOL_VERSION, encodeFrame } from '@keel/protocol';
import type { AppendMessage, Message, NodeId, SnapshotMeta } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { PeerTransport, type PeerTransportOptions } from '../src/transport/index.js';
import { activity, RawFrameSocket, recordingLogger } from './transport-test-helpers.js';

const CLUSTER = 'test-cluster';

interface Node {
  id: NodeId;
  transport: PeerTransport;
  port: number;
  received: Message[];
  unreachable: NodeId[];
  logger: ReturnType<typeof recordingLogger>;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function rawSocket(port: number): Promise<RawFrameSocket> {
  const socket = await RawFrameSocket.connect(port);
  cleanup.push(() => socket.destroy());
  return socket;
}

async function startNode(id: NodeId, overrides: Partial<PeerTransportOptions> = {}, port = 0): Promise<Node> {
  const received: Message[] = [];
  const unreachable: NodeId[] = [];
  const logger = recordingLogger(`n${id}`);
  const transport = new PeerTransport({
    clusterId: CLUSTER,
    nodeId: id,
    listen: { host: '127.0.0.1', port },
    peers: new Map(),
    logger,
    onMessage: (m) => received.push(m),
    onSnapshot: async () => {
      throw new Error('no snapshots expected');
    },
    ...overrides,
  });
  transport.onUnreachable = (peer) => unreachable.push(peer);
  cleanup.push(() => transport.close());
  const listening = await transport.listen();
  return { id, transport, port: listening.port, received, unreachable, logger };
}

function connect(nodes: Node[]): void {
  for (const node of nodes) {
    node.transport.setPeers(new Map(nodes.map((n) => [n.id, `127.0.0.1:${n.port}`])));
  }
}

function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  return { type: 'heartbeat', from, to, term: 3, commit, context: `ctx-${commit}` };
}

function append(from: NodeId, to: NodeId, dataBytes: number, seq = 0): AppendMessage {
  return {
    type: 'app',
    from,
    to,
    term: 2,
    prevIndex: seq,
    prevTerm: 1,
    commit: 0,
    entries: [
      { type: 'normal', index: seq + 1, term: 2, data: new Uint8Array(dataBytes).fill(seq % 251) },
      {
        type: 'confChange',
        index: seq + 2,
        term: 2,
        change: { type: 'addLearner', nodeId: 4, context: new Uint8Array([1, 2, 3]) },
        conf: { voters: [1, 2, 3], learners: [4] },
      },
    ],
  };
}

/** Byte strings as plain arrays, so that a received Buffer equals the Uint8Array sent. */
function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  return value;
}

async function connected(a: Node, b: Node): Promise<void> {
  await waitForProgress(() => a.transport.peerState(b.id)?.connected === true, activity, `node ${a.id} connected to ${b.id}`);
}

describe('PeerTransport', () => {
  it('delivers every kind of raft message intact, byte strings as Uint8Array, in order', async () => {
    const n1 = await startNode(1);
    const n2 = await startNode(2);
    connect([n1, n2]);
    await connected(n1, n2);
    const meta: SnapshotMeta = { index: 9, term: 2, conf: { voters: [1, 2], learners: [] } };
    const all: Message[] = [
      append(1, 2, 100),
      { type: 'appResp', from: 1, to: 2, term: 2, index: 5, reject: true, hintIndex: 3, hintTerm: 1 },
      heartbeat(1, 2, 7),
      { type: 'heartbeatResp', from: 1, to: 2, term: 3 },
      { type: 'vote', from: 1, to: 2, term: 4, lastIndex: 10, lastTerm: 3, transfer: false },
      { type: 'preVote', from: 1, to: 2, term: 5, lastIndex: 10, lastTerm: 3, transfer: true },
      { type: 'voteResp', from: 1, to: 2, term: 4, reject: false },
      { type: 'preVoteResp', from: 1, to: 2, term: 5, reject: true },
      { type: 'snap', from: 1, to: 2, term: 2, snapshot: { meta, data: new Uint8Array([9, 9]) } },
      { type: 'timeoutNow', from: 1, to: 2, term: 6 },
      { type: 'readIndex', from: 1, to: 2, term: 6, requestId: 'r1' },
      { type: 'readIndexResp', from: 1, to: 2, term: 6, requestId: 'r1', index: 44, reject: false },
    ];
    n1.transport.send(all);
    for (let i = 0; i < 100; i++) n1.transport.send([heartbeat(1, 2, 1000 + i)]);
    await waitForProgress(() => n2.received.length === all.length + 100, () => n2.received.length, 'all messages');
    expect(n2.received.slice(0, all.length).map(canonical)).toEqual(all.map(canonical));
    expect(n2.received.slice(all.length).map((m) => (m as { commit: number }).commit)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    const app = n2.received[0] as AppendMessage;
    const entry = app.entries[0]!;
    expect(entry.type === 'normal' && entry.data instanceof Uint8Array).toBe(true);
    const conf = app.entries[1]!;
    expect(conf.type === 'confChange' && conf.change.context instanceof Uint8Array).toBe(true);
    expect(n1.unreachable).toEqual([]);
  });

  it('reconnects after the peer restarts on the same address and reports it unreachable meanwhile', async () => {
    const n1 = await startNode(1, { reconnectDelayMsMax: 200 });
    let n2 = await startNode(2);
    connect([n1, n2]);
    await connected(n1, n2);
    n1.transport.send([heartbeat(1, 2, 1)]);
    await waitForProgress(() => n2.received.length === 1, activity, 'first message');

    const port = n2.port;
    await n2.transport.close();
    await waitForProgress(() => n1.unreachable.includes(2), activity, 'node 2 reported unreachable');

    n2 = await startNode(2, {}, port);
    n2.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));
    await connected(n1, n2);
    n1.transport.send([heartbeat(1, 2, 3)]);
    await waitForProgress(() => n2.received.length === 1, activity, 'message after restart');
    expect((n2.received[0] as { commit: number }).commit).toBe(3);
    expect(n1.logger.has('peer.connected')).toBe(true);
    // And the other direction works too.
    await connected(n2, n1);
    n2.transport.send([heartbeat(2, 1, 4)]);
    await waitForProgress(() => n1.received.length === 1, activity, 'message from the restarted node');
  });

  it('dials the configured DIAL address, so a proxy in between can cut and heal the link', async () => {
    const n1 = await startNode(1, { reconnectDelayMsMax: 200 });
    const n2 = await startNode(2);
    // A TCP proxy in front of node 2 that can drop every connection and refuse new ones.
    let open = true;
    const piped = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      if (!open) return client.destroy();
      const upstream = net.connect({ host: '127.0.0.1', port: n2.port });
      piped.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        piped.delete(client);
        piped.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    cleanup.push(() => new Promise<void>((r) => { for (const s of piped) s.destroy(); proxy.close(() => r()); }));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    n1.transport.setPeers(new Map([[2, `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`]]));
    await connected(n1, n2);
    n1.transport.send([heartbeat(1, 2, 1)]);
    await waitForProgress(() => n2.received.length === 1, activity, 'message through the proxy');

    open = false;
    for (const socket of piped) socket.destroy();
    await waitForProgress(() => n1.unreachable.includes(2) && n1.transport.peerState(2)?.connected === false, activity, 'cut noticed');
    open = true;
    await connected(n1, n2);
    n1.transport.send([heartbeat(1, 2, 3)]);
    await waitForProgress(() => n2.received.length === 2, activity, 'message after the heal');
    expect(n2.received.map((m) => (m as { commit: number }).commit)).toEqual([1, 3]);
    expect(n1.logger.records.filter((r) => r.event === 'peer.connected').length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a node of another cluster with a clear log line on both sides', async () => {
    const n1 = await startNode(1);
    const stranger = await startNode(2, { clusterId: 'other-cluster' });
    stranger.transport.setPeers(new Map([[1, `127.0.0.1:${n1.port}`]]));
    await waitForProgress(() => n1.logger.has('peer.handshake.refused', 'error'), activity, 'refusal logged by node 1');
    await waitForProgress(() => stranger.logger.has('peer.handshake.refused', 'error'), activity, 'refusal logged by the stranger');
    const line = n1.logger.records.find((r) => r.event === 'peer.handshake.refused')!;
    expect(String(line.fields['error'])).toMatch(/cluster "other-cluster".*"test-cluster"/);
    stranger.transport.send([heartbeat(2, 1, 1)]);
    expect(stranger.transport.peerState(1)?.connected).toBe(false);
    expect(n1.received).toEqual([]);
  });

  it('refuses a connection that reached the wrong node (a misrouted dial address)', async () => {
    const n1 = await startNode(1);
    const n3 = await startNode(3);
    // Node 1 believes node 2 lives at node 3's address.
    n1.transport.setPeers(new Map([[2, `127.0.0.1:${n3.port}`]]));
    await waitForProgress(() => n3.logger.has('peer.handshake.refused', 'error'), activity, 'refusal by node 3');
    expect(String(n3.logger.records.find((r) => r.event === 'peer.handshake.refused')!.fields['error'])).toMatch(/meant to reach node 2/);
  });

  it('closes only the connection that sends garbage and keeps working', async () => {
    const n1 = await startNode(1);
    const n2 = await startNode(2);
    connect([n1, n2]);
    await connected(n2, n1);

    // Garbage before any handshake.
    const raw = await rawSocket(n1.port);
    raw.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1, 1, 2, 3, 4, 5]));
    await waitForProgress(() => raw.closed, activity, 'garbage connection closed');

    // A valid handshake, then a frame that is not msgpack.
    const raw2 = await rawSocket(n1.port);
    raw2.send({ type: 'hello', clusterId: CLUSTER, nodeId: 7, to: 1, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: 'raw' });
    await waitForProgress(() => raw2.frames.length === 1, activity, 'handshake answer');
    expect(raw2.frames[0]).toMatchObject({ type: 'helloResult', ok: true, nodeId: 1 });
    // A structurally invalid message is dropped, the connection stays, a valid one still arrives.
    raw2.send({ type: 'app', from: 7, to: 1, term: 1, prevIndex: -1, entries: 'nope' });
    raw2.send({ type: 'nonsense', from: 7, to: 1, term: 1 });
    raw2.send({ type: 'heartbeat', from: 8, to: 1, term: 1, commit: 0 }); // not the handshake's node
    raw2.send(heartbeat(7, 1, 77));
    await waitForProgress(() => n1.received.length === 1, activity, 'valid message after invalid ones');
    expect(n1.received[0]).toEqual(heartbeat(7, 1, 77));
    expect(n1.logger.records.filter((r) => r.event === 'peer.message.dropped')).toHaveLength(3);
    expect(raw2.closed).toBe(false);
    raw2.write(Buffer.from([0, 0, 0, 2, 0x92, 0x01])); // truncated array
    await waitForProgress(() => raw2.closed, activity, 'malformed frame closes the connection');
    expect(n1.logger.has('peer.frame.rejected', 'warn')).toBe(true);

    n2.transport.send([heartbeat(2, 1, 5)]);
    await waitForProgress(() => n1.received.length === 2, activity, 'real peer still delivers');
    expect(n1.received[1]).toEqual(heartbeat(2, 1, 5));
  });

  it('keeps one inbound raft connection per peer: a newer one from the same node replaces the older', async () => {
    const n1 = await startNode(1);
    const hello = { type: 'hello', clusterId: CLUSTER, nodeId: 7, to: 1, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: 'raw' };
    const older = await rawSocket(n1.port);
    older.send(hello);
    await waitForProgress(() => older.frames.length === 1, activity, 'first handshake');
    const newer = await rawSocket(n1.port);
    newer.send(hello);
    await waitForProgress(() => older.closed, activity, 'the older connection closed');
    newer.send(heartbeat(7, 1, 9));
    await waitForProgress(() => n1.received.length === 1, activity, 'message on the newer connection');
    expect(newer.closed).toBe(false);
    expect(n1.logger.has('peer.inbound.replaced', 'info')).toBe(true);
  });

  it('rejects an oversized inbound frame from its length prefix, and refuses to send one', async () => {
    const limit = 64 * 1024;
    const n1 = await startNode(1, { maxFrameBytes: limit });
    const n2 = await startNode(2, { maxFrameBytes: limit });
    connect([n1, n2]);
    await connected(n2, n1);

    const raw = await rawSocket(n1.port);
    raw.send({ type: 'hello', clusterId: CLUSTER, nodeId: 5, to: 1, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'raft', incarnation: 'raw' });
    await waitForProgress(() => raw.frames.length === 1, activity, 'handshake answer');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(limit + 1);
    raw.write(header);
    await waitForProgress(() => raw.closed, activity, 'oversized frame closes the connection');
    const rejected = n1.logger.records.find((r) => r.event === 'peer.frame.rejected')!;
    expect(rejected.fields['code']).toBe('TOO_LARGE');

    n2.transport.send([append(2, 1, limit + 10), heartbeat(2, 1, 1)]);
    await waitForProgress(() => n1.received.length === 1, activity, 'the small message');
    expect(n1.received[0]!.type).toBe('heartbeat');
    expect(n2.logger.has('peer.message.unsendable', 'error')).toBe(true);
    expect(n2.unreachable).toContain(1);
  });

  it('bounds the send queue by bytes when the peer stops reading, dropping the newest messages', async () => {
    // A fake peer that completes the handshake and then stops reading.
    const fakeFrames: Message[] = [];
    let fakeSocket: net.Socket | null = null;
    const fake = net.createServer((socket) => {
      fakeSocket = socket;
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
      let hello = true;
      socket.on('data', (chunk) => {
        decoder.push(chunk, (v) => {
          if (hello) {
            hello = false;
            socket.write(encodeFrame({ type: 'helloResult', ok: true, clusterId: CLUSTER, nodeId: 9, protocolVersion: PEER_PROTOCOL_VERSION }));
            socket.pause();
          } else if ((v as { type?: unknown }).type !== 'ping') {
            fakeFrames.push(v as Message);
          }
        });
      });
    });
    cleanup.push(() => new Promise<void>((r) => { fakeSocket?.destroy(); fake.close(() => r()); }));
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const fakePort = (fake.address() as net.AddressInfo).port;

    const queueMax = 1024 * 1024;
    // The fake never answers pings: a liveness timeout far beyond the test keeps the link up.
    const n1 = await startNode(1, { sendQueueBytesMax: queueMax, livenessTimeoutMs: 600_000 });
    n1.transport.setPeers(new Map([[9, `127.0.0.1:${fakePort}`]]));
    await waitForProgress(() => n1.transport.peerState(9)?.connected === true, activity, 'connected to the fake peer');

    const total = 600;
    let maxQueued = 0;
    for (let i = 0; i < total; i++) {
      n1.transport.send([append(1, 9, 64 * 1024, i)]);
      maxQueued = Math.max(maxQueued, n1.transport.peerState(9)!.queuedBytes);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(queueMax);
    expect(n1.unreachable).toContain(9);
    expect(n1.logger.has('peer.queue.full', 'warn')).toBe(true);

    // Let the peer read again: what was not dropped arrives, in order, and the queue drains.
    (fakeSocket as net.Socket | null)?.resume();
    await waitForProgress(() => n1.transport.peerState(9)!.queuedBytes === 0 && fakeFrames.length > 0, () => fakeFrames.length, 'queue drained');
    // One more message, sent once the queue is empty: when it arrives, everything before it that
    // was not dropped has arrived too.
    n1.transport.send([append(1, 9, 1, total)]);
    const last = () => (fakeFrames.at(-1) as AppendMessage | undefined)?.prevIndex;
    await waitForProgress(() => last() === total, () => fakeFrames.length, 'the message sent after the drain');
    const seqs = fakeFrames.slice(0, -1).map((m) => (m as AppendMessage).prevIndex);
    expect(seqs.length).toBeLessThan(total);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});
