/**
 * Issue 9 item 4: 2,000 idle TCP connections to the leader took all 1,024 client slots for good
 * and every real client was refused; a partial frame held a connection open forever (slowloris).
 * Now a connection that has sent no request yields its slot to a newcomer once the port is full
 * (it is the first to go: well-behaved clients send at once), must send its first request within
 * `firstRequestTimeoutMs`, must finish any frame it starts within `frameTimeoutMs`, and is closed
 * after `idleTimeoutMs` with nothing in flight. Refusals stay fast and typed (OVERLOADED, id -1).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_REQUEST_ID, encodeFrame } from '@keel/protocol';
import { waitForProgress } from '@keel/test-support';
import { ClientPortServer, FRESH_EVICTION_AGE_MS, type ClientPortOptions } from '../src/client-port/index.js';
import { PeerTransport } from '../src/transport/index.js';
import { activity, connectRaw, RawFrameSocket, recordingLogger, startClientPort } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const startServer = (extra: Partial<ClientPortOptions> = {}, handle: ClientPortOptions['handle'] = async (r) => ({ revision: r.id })) =>
  startClientPort(cleanup, 'client-port', handle, extra);
const client = (port: number): Promise<RawFrameSocket> => connectRaw(cleanup, port);

/** Connections that never send a byte (they read and discard what they get). */
interface IdleConnections {
  readonly sockets: net.Socket[];
  /** How many the server has closed. */
  closed(): number;
}

/** Opens `count` idle connections; resolves once each is open (or already refused). */
async function idleConnections(port: number, count: number): Promise<IdleConnections> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
  });
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, () => {
        const socket = net.connect({ host: '127.0.0.1', port });
        socket.on('error', () => {});
        socket.on('close', () => closed++);
        socket.resume();
        sockets.push(socket);
        return new Promise<void>((resolve) => {
          socket.once('connect', () => resolve());
          socket.once('close', () => resolve());
        });
      }),
    );
  }
  return { sockets, closed: () => closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('client port under hostile connections', () => {
  it('2,000 idle connections do not lock out a real client: idle ones yield their slots, refusals are typed', async () => {
    // No first-request deadline here: on a loaded machine opening 2,000 connections can take longer
    // than the default 10 s, and the first ones would be closed by it rather than evicted.
    const { server, port, logger } = await startServer({ firstRequestTimeoutMs: 3_600_000 });
    const idle = await idleConnections(port, 2_000);
    // Opening them takes a while: later ones may already take the slots of the first (idle for a second).
    const handled = () => server.connectionCount + server.refusedConnectionCount + server.evictedConnectionCount;
    await waitForProgress(() => handled() >= 2_000, handled, 'every idle connection accepted or refused');
    expect(server.connectionCount).toBe(1_024);
    const evictedBefore = server.evictedConnectionCount;

    // Once the idle connections are old enough to yield (they said nothing), a client gets in.
    await sleep(FRESH_EVICTION_AGE_MS + 100);
    for (let i = 0; i < 3; i++) {
      const real = await client(port);
      real.send({ id: 1, op: 'status' });
      await waitForProgress(() => real.frames.length > 0 || real.closed, activity, 'an answer');
      expect(real.frames[0]).toEqual({ id: 1, ok: true, result: { revision: 1 } });
    }
    expect(server.connectionCount).toBeLessThanOrEqual(1_024);
    // Each made room by closing an idle connection, which was told why in the client protocol.
    expect(server.evictedConnectionCount).toBe(evictedBefore + 3);
    expect(logger.records.filter((r) => r.event === 'client.connection.evicted').at(-1)).toMatchObject({
      fields: { code: 'OVERLOADED', error: expect.stringMatching(/1024 client connections open, and this one sent nothing/) },
    });
    await waitForProgress(() => idle.closed() >= 2_000 - 1_024 + 3, idle.closed, 'the refused and the evicted idle connections closed');
  });

  it('a connection that sends no request within firstRequestTimeoutMs is closed without an answer', async () => {
    const { server, port } = await startServer({ firstRequestTimeoutMs: 200 });
    const silent = await client(port);
    await waitForProgress(() => silent.closed, activity, 'the silent connection closed');
    expect(silent.frames).toEqual([]);
    expect(server.connectionCount).toBe(0);
  });

  it('a partial frame held longer than frameTimeoutMs (slowloris) gets TIMEOUT with id -1 and the connection closes', async () => {
    const { port } = await startServer({ frameTimeoutMs: 300, firstRequestTimeoutMs: 60_000 });
    const slow = await client(port);
    const frame = encodeFrame({ id: 1, op: 'status' });
    slow.write(frame.subarray(0, 3)); // the start of a length prefix, then nothing
    await waitForProgress(() => slow.closed, activity, 'the slow connection closed');
    expect(slow.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'TIMEOUT', definite: true }) }]);

    // A frame sent in pieces is answered. (On a server of its own, whose frame deadline no pause
    // between the pieces reaches, however loaded the machine.)
    const patient = await startServer({ frameTimeoutMs: 3_600_000 });
    const steady = await client(patient.port);
    steady.write(frame.subarray(0, 3));
    await sleep(50);
    steady.write(frame.subarray(3));
    await waitForProgress(() => steady.frames.length === 1, activity, 'answer to the pieced frame');
    expect(steady.frames[0]).toEqual({ id: 1, ok: true, result: { revision: 1 } });
  });

  it('closes a connection idle for idleTimeoutMs, but never one waiting for an answer', async () => {
    let release: (() => void) | undefined;
    const { server, port } = await startServer({ idleTimeoutMs: 300 }, (request) =>
      request.id === 99 ? new Promise((resolve) => (release = () => resolve({ revision: 99 }))) : Promise.resolve({ revision: request.id }),
    );
    const waiting = await client(port);
    waiting.send({ id: 99, op: 'status' });
    const idle = await client(port);
    idle.send({ id: 1, op: 'status' });
    await waitForProgress(() => idle.frames.length === 1, activity, 'the idle connection answered');
    await waitForProgress(() => idle.closed, activity, 'the idle connection closed');
    expect(idle.frames).toHaveLength(1);
    expect(waiting.closed).toBe(false);
    expect(server.connectionCount).toBe(1);
    release!();
    await waitForProgress(() => waiting.frames.length === 1, activity, 'the slow answer');
    expect(waiting.frames[0]).toEqual({ id: 99, ok: true, result: { revision: 99 } });
    await waitForProgress(() => waiting.closed, activity, 'closed once idle');
  });

  it('rejects nonsense timeouts', () => {
    const base = { host: '127.0.0.1', port: 0, logger: recordingLogger('x'), handle: async () => ({ revision: 1 }) };
    expect(() => new ClientPortServer({ ...base, idleTimeoutMs: 0 })).toThrow(TypeError);
    expect(() => new ClientPortServer({ ...base, frameTimeoutMs: -5 })).toThrow(TypeError);
    expect(() => new ClientPortServer({ ...base, firstRequestTimeoutMs: Number.NaN })).toThrow(TypeError);
  });
});

describe('peer port under hostile connections', () => {
  it('keeps a bounded number of connections waiting for a handshake, and real peers still connect', async () => {
    const logger = recordingLogger('n1');
    const n1 = new PeerTransport({
      clusterId: 'c',
      nodeId: 1,
      listen: { host: '127.0.0.1', port: 0 },
      peers: new Map(),
      logger,
      onMessage: () => {},
      onSnapshot: async () => {},
    });
    cleanup.push(() => n1.close());
    const { port } = await n1.listen();
    const idle = await idleConnections(port, 500);
    await waitForProgress(() => idle.closed() >= 500 - 64, idle.closed, 'idle connections beyond the cap closed');
    const received: unknown[] = [];
    const n2 = new PeerTransport({
      clusterId: 'c',
      nodeId: 2,
      listen: { host: '127.0.0.1', port: 0 },
      peers: new Map([[1, `127.0.0.1:${port}`]]),
      logger: recordingLogger('n2'),
      onMessage: (m) => received.push(m),
      onSnapshot: async () => {},
    });
    cleanup.push(() => n2.close());
    await n2.listen();
    await waitForProgress(() => n2.peerState(1)?.connected === true, activity, 'the real peer connected');
    expect(logger.has('peer.handshake.evicted')).toBe(true);
  });
});
