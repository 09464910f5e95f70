/**
 * Review finding: a misbehaving client could drive the client port out of memory. There was no cap
 * on connections, and a client that pipelined thousands of large reads or scans and never read the
 * answers made the server buffer every response (pausing socket reads only stopped new requests).
 * Now each connection holds at most a budget of response bytes (reserved for running requests plus
 * unsent output), requests beyond it wait in order, and connections beyond the cap are refused
 * with OVERLOADED.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, LIMITS, NO_REQUEST_ID, encodeFrames, type ClientRequest, type ClientResponse } from '@keel/protocol';
import { waitForProgress } from '@keel/test-support';
import { ClientPortServer, RESPONSE_BYTES_BOUND, RESPONSE_BYTES_PER_CONNECTION_DEFAULT, type ClientPortOptions } from '../src/client-port/index.js';
import { activity, connectRaw, RawFrameSocket, recordingLogger, startClientPort } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const startServer = (handle: ClientPortOptions['handle'], extra: Partial<ClientPortOptions> = {}) => startClientPort(cleanup, 'client-port-limits', handle, extra);
const client = (port: number): Promise<RawFrameSocket> => connectRaw(cleanup, port);

/**
 * A client that checks each response as it arrives and keeps only a summary, so that it can take
 * far more response bytes than it could hold. Starts paused: it reads nothing until `read()`.
 */
class CheckingReader {
  readonly okIds = new Set<number>();
  readonly problems: string[] = [];
  private readonly decoder = new FrameDecoder();

  private constructor(
    readonly socket: net.Socket,
    check: (response: ClientResponse) => string | null,
  ) {
    socket.pause();
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) =>
      this.decoder.push(chunk, (value) => {
        const response = value as ClientResponse;
        const problem = check(response);
        if (problem !== null) this.problems.push(problem);
        else if (this.okIds.has(response.id)) this.problems.push(`response ${response.id} twice`);
        else this.okIds.add(response.id);
      }),
    );
  }

  static connect(port: number, check: (response: ClientResponse) => string | null): Promise<CheckingReader> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const reader = new CheckingReader(socket, check);
        cleanup.push(() => void socket.destroy());
        resolve(reader);
      });
    });
  }

  read(): void {
    this.socket.resume();
  }
}

describe('client port resource limits', () => {
  it('holds at most the response budget for a client that pipelines large reads and does not read, then answers all', async () => {
    const budget = 4 * 1024 * 1024;
    const valueBytes = 128 * 1024;
    const count = 1000; // 125 MiB of responses: far more than the budget plus the kernel's socket buffers
    let calls = 0;
    const { server, port } = await startServer(
      async (request) => {
        calls++;
        if (request.op !== 'get') throw new Error(`unexpected ${request.op}`);
        const id = request.key[0]! + 256 * request.key[1]!;
        return { kv: { key: request.key, value: new Uint8Array(valueBytes).fill(id % 251), createRevision: 1, modRevision: id }, revision: id };
      },
      { responseBytesPerConnectionMax: budget },
    );
    const reader = await CheckingReader.connect(port, (r) => {
      if (!r.ok) return `response ${r.id}: ${r.error.code} ${r.error.message}`;
      const result = r.result as { kv: { value: Uint8Array; modRevision: number }; revision: number };
      if (result.revision !== r.id || result.kv.modRevision !== r.id) return `response ${r.id}: wrong revision ${result.revision}`;
      if (result.kv.value.byteLength !== valueBytes || result.kv.value[valueBytes - 1] !== r.id % 251) return `response ${r.id}: wrong value`;
      return null;
    });
    const requests = Array.from({ length: count }, (_, i): ClientRequest => {
      const id = i + 1;
      return { id, op: 'get', key: new Uint8Array([id % 256, Math.floor(id / 256)]), consistency: 'serializable' };
    });
    reader.socket.write(encodeFrames(requests));

    // The server ends up waiting for the client: requests queued, none running, output stuck.
    await waitForProgress(
      () => {
        const stats = server.connectionStats()[0];
        return stats !== undefined && stats.queued > 0 && stats.running === 0 && stats.readPaused && stats.unsentBytes > 0;
      },
      () => [calls, server.connectionStats()[0]],
      'the connection to wait for its client',
    );
    const [stats] = server.connectionStats();
    expect(calls).toBeLessThan(count);
    expect(stats!.peakHeldBytes).toBeLessThanOrEqual(budget);
    expect(stats!.peakHeldBytes).toBeGreaterThan(budget / 2); // the budget was used, not just under-filled

    reader.read();
    const answered = (): number => reader.okIds.size + reader.problems.length;
    await waitForProgress(() => answered() === count, answered, 'every response once the client reads');
    expect(reader.problems).toEqual([]);
    expect(calls).toBe(count);
    expect(server.connectionStats()[0]!.peakHeldBytes).toBeLessThanOrEqual(budget);
    expect(server.connectionStats()[0]).toMatchObject({ queued: 0, running: 0, reservedBytes: 0, readPaused: false });
  });

  it('runs only the scans that fit the budget, starting the rest in order as earlier ones finish, never refusing them', async () => {
    const release = new Map<number, () => void>();
    const started: number[] = [];
    const { server, port } = await startServer(
      (request) => {
        started.push(request.id);
        if (request.op !== 'scan') return Promise.resolve({ revision: request.id });
        return new Promise((resolve) => release.set(request.id, () => resolve({ kvs: [], more: false, revision: request.id })));
      },
      // Room for one scan at a time (two would exceed it).
      { responseBytesPerConnectionMax: 2 * RESPONSE_BYTES_BOUND.scan - 1 },
    );
    const c = await client(port);
    const scans = 5;
    for (let id = 1; id <= scans; id++) c.send({ id, op: 'scan', prefix: new Uint8Array([id]), limit: LIMITS.scanLimitMax, consistency: 'linearizable' });
    c.send({ id: scans + 1, op: 'put', key: new Uint8Array([1]), value: new Uint8Array([2]), session: { clientId: 'c', seq: 1, ackedBelow: 0 } });
    for (let id = 1; id < scans; id++) {
      // Scan id starts once the kernel took scan id - 1's answer; the client reads it a little later.
      await waitForProgress(
        () => started.length === id && server.connectionStats()[0]?.queued === scans + 1 - id && c.frames.length === id - 1,
        activity,
        `scan ${id} running and the answers before it received`,
      );
      expect(started).toEqual(Array.from({ length: id }, (_, i) => i + 1));
      expect(server.connectionStats()[0]).toMatchObject({ running: 1, reservedBytes: RESPONSE_BYTES_BOUND.scan, readPaused: true });
      release.get(id)!();
    }
    // The last scan and the small put behind it fit together.
    await waitForProgress(() => started.length === scans + 1 && c.frames.length === scans, activity, 'the last scan and the put running');
    expect(started).toEqual([1, 2, 3, 4, 5, 6]);
    expect((c.frames as ClientResponse[]).map((r) => r.id)).toEqual([1, 2, 3, 4, 6]);
    release.get(scans)!();
    await waitForProgress(() => c.frames.length === scans + 1, activity, 'every answer');
    for (const frame of c.frames as ClientResponse[]) expect(frame.ok, `response ${frame.id}`).toBe(true);
    expect(server.connectionStats()[0]).toMatchObject({ queued: 0, running: 0, reservedBytes: 0, readPaused: false });
  });

  it('stops reading from a client that floods bad requests and does not read the error answers', async () => {
    const budget = 1024 * 1024;
    const { server, port } = await startServer(async () => {
      throw new Error('no valid request was sent');
    }, { responseBytesPerConnectionMax: budget });
    const reader = await CheckingReader.connect(port, (r) => (!r.ok && r.error.code === 'INVALID_ARGUMENT' ? null : `response ${r.id}: ${JSON.stringify(r)}`));
    // Flood until the server stops reading: the error answers (148 bytes each) must fill the
    // kernel's socket buffers, however large they are here, before it pushes back. The next batch
    // goes out once the server has read the last, so at most one batch is left unread when it stops.
    const batchSize = 2_000;
    const floodMax = 150_000; // about 21 MiB of answers: far beyond what the kernel buffers take
    let sent = 0;
    const stats = () => server.connectionStats()[0];
    await waitForProgress(
      () => {
        if (stats()?.readPaused === true || sent >= floodMax) return true;
        if ((stats()?.framesRead ?? 0) === sent) {
          const bad = Array.from({ length: batchSize }, (_, i) => ({ id: sent + i + 1, op: 'get', key: new Uint8Array([1]), consistency: 'sometimes' }));
          reader.socket.write(encodeFrames(bad));
          sent += batchSize;
        }
        return false;
      },
      () => stats()?.framesRead ?? 0,
      'the server to stop reading',
    );
    expect(stats()!.readPaused).toBe(true);
    // Reading stops once the budget is passed; the answers to one read chunk (64 KiB) of requests,
    // about three times its size, may add to it.
    const slack = 1024 * 1024;
    expect(stats()!.peakHeldBytes).toBeLessThan(budget + slack);

    reader.read();
    const answered = () => reader.okIds.size + reader.problems.length;
    await waitForProgress(() => answered() === sent, answered, 'every error answer');
    expect(reader.problems).toEqual([]);
    expect(stats()!.framesRead).toBe(sent);
    expect(stats()!.peakHeldBytes).toBeLessThan(budget + slack);
  });

  it('refuses connections beyond maxConnections with OVERLOADED, logs once per burst, and accepts again after one closes', async () => {
    const { server, port, logger } = await startServer(async (request) => ({ revision: request.id }), { maxConnections: 2 });
    const a = await client(port);
    const b = await client(port);
    // Both are in use (a connection that never sent anything may be closed to make room).
    a.send({ id: 1, op: 'status' });
    b.send({ id: 1, op: 'status' });
    await waitForProgress(() => a.frames.length === 1 && b.frames.length === 1, activity, 'two connections in use');
    b.frames.length = 0;

    const refused: RawFrameSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const extra = await client(port);
      await waitForProgress(() => extra.closed, activity, `refused connection ${i} closed`);
      refused.push(extra);
    }
    for (const extra of refused) {
      expect(extra.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'OVERLOADED', definite: true }) }]);
    }
    expect(server.refusedConnectionCount).toBe(3);
    expect(logger.records.filter((r) => r.event === 'client.connections.full')).toHaveLength(1);
    expect(server.connectionCount).toBe(2);

    // The open connections are unaffected.
    b.send({ id: 7, op: 'status' });
    await waitForProgress(() => b.frames.length === 1, activity, 'b answered');
    expect(b.frames[0]).toEqual({ id: 7, ok: true, result: { revision: 7 } });

    a.destroy();
    await waitForProgress(() => server.connectionCount === 1, activity, 'a gone');
    const c = await client(port);
    c.send({ id: 1, op: 'status' });
    await waitForProgress(() => c.frames.length === 1, activity, 'the new connection answered');
    expect(c.frames[0]).toEqual({ id: 1, ok: true, result: { revision: 1 } });
    expect(c.closed).toBe(false);
    expect(logger.records.filter((r) => r.event === 'client.connections.accepting')).toEqual([
      expect.objectContaining({ level: 'info', fields: expect.objectContaining({ refused: 3, evicted: 0 }) }),
    ]);

    // A new burst logs again, once.
    const d = await client(port);
    await waitForProgress(() => d.closed, activity, 'refused again');
    expect(d.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'OVERLOADED' }) }]);
    expect(logger.records.filter((r) => r.event === 'client.connections.full')).toHaveLength(2);
  });

  it('reserves room for the previous entries a write asks for', async () => {
    const held: Array<() => void> = [];
    const { server, port } = await startServer(() => new Promise((resolve) => held.push(() => resolve({ revision: 1 }))));
    const c = await client(port);
    const session = { clientId: 'c', seq: 1, ackedBelow: 0 };
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ op: 'put', key: new Uint8Array([1]), value: new Uint8Array(0), session }, RESPONSE_BYTES_BOUND.put],
      [{ op: 'put', key: new Uint8Array([1]), value: new Uint8Array(0), prevKv: true, session }, RESPONSE_BYTES_BOUND.put + LIMITS.keyBytesMax + LIMITS.valueBytesMax],
      [{ op: 'deleteRange', start: new Uint8Array(0), prevKv: true, session }, RESPONSE_BYTES_BOUND.deleteRange + LIMITS.deleteRangePrevKvBytesMax],
    ];
    for (const [i, [request, reserved]] of cases.entries()) {
      c.send({ id: i + 1, ...request });
      await waitForProgress(() => held.length === 1, activity, `request ${i + 1} running`);
      expect(server.connectionStats()[0]?.reservedBytes).toBe(reserved);
      held.pop()!();
      await waitForProgress(() => c.frames.length === i + 1, activity, `answer ${i + 1}`);
    }
  });

  it('has documented defaults and rejects nonsense options', () => {
    expect(LIMITS.clientConnectionsMax).toBe(1024);
    // The default budget lets many large reads, and several scans, run at once on one connection.
    expect(Math.floor(RESPONSE_BYTES_PER_CONNECTION_DEFAULT / RESPONSE_BYTES_BOUND.get)).toBeGreaterThanOrEqual(100);
    expect(Math.floor(RESPONSE_BYTES_PER_CONNECTION_DEFAULT / RESPONSE_BYTES_BOUND.scan)).toBeGreaterThanOrEqual(10);
    expect(RESPONSE_BYTES_BOUND.get).toBeGreaterThan(LIMITS.keyBytesMax + LIMITS.valueBytesMax);
    expect(RESPONSE_BYTES_BOUND.scan).toBeLessThanOrEqual(LIMITS.frameBytesMax);
    const base = { host: '127.0.0.1', port: 0, logger: recordingLogger('x'), handle: async () => ({ revision: 1 }) };
    expect(() => new ClientPortServer({ ...base, maxConnections: 0 })).toThrow(TypeError);
    expect(() => new ClientPortServer({ ...base, maxConnections: 1.5 })).toThrow(TypeError);
    expect(() => new ClientPortServer({ ...base, responseBytesPerConnectionMax: 1000 })).toThrow(TypeError);
    expect(() => new ClientPortServer({ ...base, inflightPerConnectionMax: -1 })).toThrow(TypeError);
  });
});
