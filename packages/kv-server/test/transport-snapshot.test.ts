import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError, PEER_PROTOCOL_VERSION } from '@keel/protocol';
import type { NodeId, SnapshotMeta } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { PeerTransport, type PeerTransportOptions } from '../src/transport/index.js';
import { activity, RawFrameSocket, recordingLogger } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function rawSocket(port: number): Promise<RawFrameSocket> {
  const socket = await RawFrameSocket.connect(port);
  cleanup.push(() => socket.destroy());
  return socket;
}

const meta: SnapshotMeta = { index: 1234, term: 7, conf: { voters: [1, 2, 3], learners: [] } };

type OnSnapshot = PeerTransportOptions['onSnapshot'];

async function pair(onSnapshot: OnSnapshot, options: Partial<PeerTransportOptions> = {}): Promise<{ sender: PeerTransport; receiver: PeerTransport; receiverPort: number; receiverLog: ReturnType<typeof recordingLogger> }> {
  const receiverLog = recordingLogger('receiver');
  const make = (id: NodeId, logger = recordingLogger(`n${id}`)) => {
    const t = new PeerTransport({
      clusterId: 'snap-cluster',
      nodeId: id,
      listen: { host: '127.0.0.1', port: 0 },
      peers: new Map(),
      logger,
      onMessage: () => {},
      onSnapshot,
      ...options,
    });
    cleanup.push(() => t.close());
    return t;
  };
  const sender = make(1);
  const receiver = make(2, receiverLog);
  await sender.listen();
  const { port: receiverPort } = await receiver.listen();
  sender.setPeers(new Map([[2, `127.0.0.1:${receiverPort}`]]));
  return { sender, receiver, receiverPort, receiverLog };
}

function chunkOf(i: number, bytes: number): Uint8Array {
  const chunk = new Uint8Array(bytes);
  for (let j = 0; j < bytes; j++) chunk[j] = (i * 31 + j) & 0xff;
  return chunk;
}

async function* chunks(count: number, bytes: number, onYield?: (i: number) => void): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) {
    onYield?.(i);
    yield chunkOf(i, bytes);
  }
}

function digest(parts: Iterable<Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PeerTransport snapshot streaming', () => {
  it('streams many chunks intact and resolves only after the receiver installed them', async () => {
    const received: Uint8Array[] = [];
    let installedFrom: NodeId = 0;
    let installedMeta: SnapshotMeta | null = null;
    let installed = false;
    const { sender } = await pair(async (from, m, stream) => {
      for await (const chunk of stream) received.push(Uint8Array.from(chunk));
      await sleep(20); // the "commit"
      installedFrom = from;
      installedMeta = m;
      installed = true;
    });
    const count = 300;
    const bytes = 16 * 1024;
    await sender.sendSnapshot(2, meta, chunks(count, bytes));
    expect(installed).toBe(true);
    expect(installedFrom).toBe(1);
    expect(installedMeta).toEqual(meta);
    expect(received).toHaveLength(count);
    expect(digest(received)).toBe(digest(Array.from({ length: count }, (_, i) => chunkOf(i, bytes))));
  });

  it('streams an empty snapshot', async () => {
    let calls = 0;
    const { sender } = await pair(async (_from, _m, stream) => {
      for await (const _ of stream) calls++;
    });
    await sender.sendSnapshot(2, meta, chunks(0, 1));
    expect(calls).toBe(0);
  });

  it('does not let the sender run ahead: each chunk waits for the previous one to be consumed', async () => {
    let produced = 0;
    let consumed = 0;
    let maxLead = 0;
    const { sender } = await pair(async (_from, _m, stream) => {
      for await (const _ of stream) {
        await sleep(2);
        consumed++;
      }
    });
    await sender.sendSnapshot(2, meta, chunks(40, 1024, (i) => {
      produced = i + 1;
      maxLead = Math.max(maxLead, produced - consumed);
    }));
    expect(consumed).toBe(40);
    expect(maxLead).toBeLessThanOrEqual(1);
  });

  it('times out per chunk, not per snapshot: a slow but steady receiver succeeds', async () => {
    const timeoutMs = 800;
    const count = 40;
    const perChunkMs = 40; // the whole transfer takes about twice the per-chunk timeout
    let seen = 0;
    const { sender } = await pair(
      async (_from, _m, stream) => {
        for await (const _ of stream) {
          await sleep(perChunkMs);
          seen++;
        }
      },
      { snapshotChunkTimeoutMs: timeoutMs },
    );
    await sender.sendSnapshot(2, meta, chunks(count, 512));
    expect(seen).toBe(count);
    expect(count * perChunkMs).toBeGreaterThan(timeoutMs);
  });

  it('rejects with TIMEOUT when the receiver stalls, and the stalled receiver then sees the stream fail', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let consumerError: unknown = null;
    let got = 0;
    const { sender, receiverLog } = await pair(
      async (_from, _m, stream) => {
        const it = stream[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            got++;
            if (got === 3) await released; // stall on the third chunk
          }
        } catch (error) {
          consumerError = error;
          throw error;
        }
      },
      { snapshotChunkTimeoutMs: 1000 },
    );
    const error = await sender.sendSnapshot(2, meta, chunks(10, 1024)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).code).toBe('TIMEOUT');
    expect((error as KeelError).message).toMatch(/chunk 2/);
    expect(got).toBe(3);
    release();
    await waitForProgress(() => consumerError !== null, activity, 'the stalled consumer to fail');
    expect((consumerError as KeelError).code).toBe('CONNECTION_LOST');
    await waitForProgress(() => receiverLog.has('peer.snapshot.failed'), activity, 'receiver logs the failed install');
  });

  it("rejects with the receiver's install error", async () => {
    const { sender } = await pair(async (_from, _m, stream) => {
      for await (const _ of stream) {
        // consume
      }
      throw new KeelError('INTERNAL', 'disk full while installing');
    });
    const error = (await sender.sendSnapshot(2, meta, chunks(5, 100)).catch((e: unknown) => e)) as KeelError;
    expect(error).toBeInstanceOf(KeelError);
    expect(error.message).toBe('disk full while installing');
  });

  it('rejects when the chunk source fails, and the receiver sees the stream break', async () => {
    let receiverError: unknown = null;
    const { sender } = await pair(async (_from, _m, stream) => {
      try {
        for await (const _ of stream) {
          // consume
        }
      } catch (error) {
        receiverError = error;
        throw error;
      }
    });
    async function* failing(): AsyncIterable<Uint8Array> {
      yield new Uint8Array([1]);
      throw new Error('iterator broke');
    }
    await expect(sender.sendSnapshot(2, meta, failing())).rejects.toThrow('iterator broke');
    await waitForProgress(() => receiverError !== null, activity, 'receiver stream failure');
    expect((receiverError as KeelError).code).toBe('CONNECTION_LOST');
  });

  it('rejects with UNAVAILABLE for an unknown peer and CONNECTION_LOST for a dead address', async () => {
    const { sender, receiver } = await pair(async () => {});
    await expect(sender.sendSnapshot(9, meta, chunks(1, 1))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await receiver.close();
    await expect(sender.sendSnapshot(2, meta, chunks(1, 1))).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });

  it('closes a snapshot connection whose sender breaks the stop-and-wait protocol', async () => {
    let receiverError: unknown = null;
    const { receiverPort, receiverLog } = await pair(async (_from, _m, stream) => {
      try {
        for await (const _ of stream) await sleep(300); // slow consumer
      } catch (error) {
        receiverError = error;
      }
    });
    const raw = await rawSocket(receiverPort);
    raw.send({ type: 'hello', clusterId: 'snap-cluster', nodeId: 1, to: 2, protocolVersion: PEER_PROTOCOL_VERSION, channel: 'snapshot', incarnation: 'raw' });
    raw.send({ type: 'snapBegin', meta });
    for (let seq = 0; seq < 3; seq++) raw.send({ type: 'snapChunk', seq, data: new Uint8Array(10) });
    await waitForProgress(() => raw.closed, activity, 'connection closed');
    expect(receiverLog.has('peer.frame.rejected', 'warn')).toBe(true);
    await waitForProgress(() => receiverError !== null, activity, 'stream failure');
  });
});
