import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError, LIMITS, NO_REQUEST_ID, encodeFrames, type ClientRequest, type ClientResponse } from '@keel/protocol';
import { waitForProgress } from '@keel/test-support';
import { RESPONSE_BYTES_BOUND, type ClientPortOptions } from '../src/client-port/index.js';
import { activity, connectRaw, RawFrameSocket, startClientPort } from './transport-test-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const startServer = (handle: ClientPortOptions['handle'], extra: Partial<ClientPortOptions> = {}) => startClientPort(cleanup, 'client-port', handle, extra);
const client = (port: number): Promise<RawFrameSocket> => connectRaw(cleanup, port);

function responses(socket: RawFrameSocket): ClientResponse[] {
  return socket.frames as ClientResponse[];
}

function byId(socket: RawFrameSocket, id: number): ClientResponse | undefined {
  return responses(socket).find((r) => r.id === id);
}

const key = new Uint8Array([107]);
const session = { clientId: 'c', seq: 1, ackedBelow: 0 };

describe('ClientPortServer', () => {
  it('pipelines requests and answers each by id as its handler finishes, out of order', async () => {
    const pending = new Map<number, (value: unknown) => void>();
    const seen: ClientRequest[] = [];
    const { port } = await startServer((request) => {
      seen.push(request);
      return new Promise((resolve) => pending.set(request.id, resolve as (v: unknown) => void));
    }, { responseBytesPerConnectionMax: 64 * RESPONSE_BYTES_BOUND.get }); // room for every get at once
    const c = await client(port);
    const count = 50;
    for (let id = 1; id <= count; id++) c.send({ id, op: 'get', key: new Uint8Array([id]), consistency: 'linearizable' });
    await waitForProgress(() => pending.size === count, () => pending.size, 'all requests running at once');
    expect(seen.map((r) => r.id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(seen[0]).toMatchObject({ id: 1, op: 'get', consistency: 'linearizable' });
    expect(Array.from((seen[0] as { key: Uint8Array }).key)).toEqual([1]);
    for (let id = count; id >= 1; id--) {
      pending.get(id)!({ kv: { key: new Uint8Array([id]), value: new Uint8Array([id, id]), createRevision: id, modRevision: id }, revision: 100 + id });
    }
    await waitForProgress(() => c.frames.length === count, activity, 'all responses');
    expect(responses(c).map((r) => r.id)).toEqual(Array.from({ length: count }, (_, i) => count - i));
    for (const r of responses(c)) {
      expect(r.ok).toBe(true);
      const result = (r as Extract<ClientResponse, { ok: true }>).result as { kv: { value: Uint8Array }; revision: number };
      expect(result.revision).toBe(100 + r.id);
      expect(Array.from(result.kv.value)).toEqual([r.id, r.id]);
    }
  });

  it('answers every validation error over the wire without calling the handler', async () => {
    const handled: ClientRequest[] = [];
    const { port } = await startServer(async (request) => {
      handled.push(request);
      return { revision: 1 };
    });
    const c = await client(port);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 1, op: 'frobnicate' }, 'UNKNOWN_COMMAND'],
      [{ id: 2 }, 'INVALID_ARGUMENT'],
      [{ id: 3, op: 'put', key, session }, 'INVALID_ARGUMENT'], // value missing
      [{ id: 4, op: 'put', key: 'text', value: key, session }, 'INVALID_ARGUMENT'],
      [{ id: 5, op: 'get', key, consistency: 'sometimes' }, 'INVALID_ARGUMENT'],
      [{ id: 6, op: 'scan', limit: 0, consistency: 'serializable' }, 'INVALID_ARGUMENT'],
      [{ id: 7, op: 'scan', limit: LIMITS.scanLimitMax + 1, consistency: 'serializable' }, 'INVALID_ARGUMENT'],
      [{ id: 8, op: 'put', key: new Uint8Array(LIMITS.keyBytesMax + 1), value: key, session }, 'TOO_LARGE'],
      [{ id: 9, op: 'put', key, value: new Uint8Array(LIMITS.valueBytesMax + 1), session }, 'TOO_LARGE'],
      [
        { id: 10, op: 'cas', key, expect: { value: new Uint8Array(LIMITS.valueBytesMax) }, value: new Uint8Array(LIMITS.valueBytesMax), session },
        'TOO_LARGE', // the request as a whole exceeds LIMITS.requestBytesMax
      ],
      [{ id: 11, op: 'memberAdd', nodeId: 4, peerAddress: 'nowhere', clientAddress: '127.0.0.1:1', learner: false }, 'INVALID_ARGUMENT'],
      [{ id: 12, op: 'put', key, value: key, session: { clientId: 'c', seq: 1, ackedBelow: 2 } }, 'INVALID_ARGUMENT'],
    ];
    for (const [request] of cases) c.send(request);
    c.send({ id: 99, op: 'put', key, value: key, session });
    await waitForProgress(() => c.frames.length === cases.length + 1, activity, 'all answers');
    for (const [request, code] of cases) {
      const response = byId(c, request['id'] as number);
      expect(response, `response to ${String(request['id'])}`).toMatchObject({ ok: false, error: { code, definite: true } });
    }
    expect(byId(c, 99)).toEqual({ id: 99, ok: true, result: { revision: 1 } });
    expect(handled.map((r) => r.id)).toEqual([99]);
    expect(c.closed).toBe(false);
  });

  it('forwards KeelErrors from the handler and turns other exceptions into logged INTERNAL errors', async () => {
    const { port, logger } = await startServer(async (request) => {
      if (request.id === 1) throw new KeelError('NOT_LEADER', 'ask node 3', { leaderId: 3, leaderAddress: '127.0.0.1:9003' });
      if (request.id === 2) throw new Error('boom');
      throw 'a string';
    });
    const c = await client(port);
    c.send({ id: 1, op: 'status' });
    c.send({ id: 2, op: 'status' });
    c.send({ id: 3, op: 'status' });
    await waitForProgress(() => c.frames.length === 3, activity, 'answers');
    expect(byId(c, 1)).toEqual({ id: 1, ok: false, error: { code: 'NOT_LEADER', message: 'ask node 3', definite: true, leaderId: 3, leaderAddress: '127.0.0.1:9003' } });
    expect(byId(c, 2)).toEqual({ id: 2, ok: false, error: { code: 'INTERNAL', message: 'boom', definite: false } });
    expect(byId(c, 3)).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'a string' } });
    expect(logger.records.filter((r) => r.event === 'client.handler.failed')).toHaveLength(2);
  });

  it('answers a malformed frame with MALFORMED_FRAME, closes only that connection, and keeps serving', async () => {
    const { port, server } = await startServer(async () => ({ revision: 5 }));
    const good = await client(port);
    const bad = await client(port);
    good.send({ id: 1, op: 'put', key, value: key, session });
    await waitForProgress(() => good.frames.length === 1, activity, 'first answer');

    bad.send({ id: 1, op: 'put', key, value: key, session });
    await waitForProgress(() => bad.frames.length === 1, activity, 'answer before the garbage');
    bad.write(Buffer.from([0, 0, 0, 3, 0x93, 0x01, 0x02])); // an array of 3 holding 2
    bad.write(Buffer.from([0, 0, 0, 1, 0x01])); // anything after is ignored
    await waitForProgress(() => bad.closed, activity, 'bad connection closed');
    expect(bad.frames).toEqual([
      { id: 1, ok: true, result: { revision: 5 } },
      { id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'MALFORMED_FRAME' }) },
    ]);

    // A frame that decodes but is not a request envelope is malformed too.
    const notRequest = await client(port);
    notRequest.send(['get', 1]);
    await waitForProgress(() => notRequest.closed, activity, 'envelope-less connection closed');
    expect(notRequest.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'MALFORMED_FRAME' }) }]);

    good.send({ id: 2, op: 'put', key, value: key, session });
    await waitForProgress(() => good.frames.length === 2, activity, 'second answer');
    expect(good.closed).toBe(false);
    await waitForProgress(() => server.connectionCount === 1, activity, 'only the good connection left');
  });

  it("a connection's error frame (id -1) is definite only when no request it leaves unanswered was running", async () => {
    const held: Array<() => void> = [];
    const { port } = await startServer(async (request) => {
      if (request.op === 'put') await new Promise<void>((resolve) => held.push(resolve));
      return { revision: 1 };
    });
    const garbage = Buffer.from([0, 0, 0, 3, 0x93, 0x01, 0x02]);
    const idle = await client(port);
    idle.write(garbage);
    await waitForProgress(() => idle.closed, activity, 'idle connection closed');
    expect(idle.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'MALFORMED_FRAME', definite: true }) }]);

    const busy = await client(port);
    busy.send({ id: 1, op: 'put', key, value: key, session });
    await waitForProgress(() => held.length === 1, activity, 'the put running');
    busy.write(garbage);
    await waitForProgress(() => busy.closed, activity, 'busy connection closed');
    // The put may still apply: a client must not take the connection's error as its definite failure.
    expect(busy.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'MALFORMED_FRAME', definite: false }) }]);
    for (const release of held) release();
  });

  it('answers an oversized frame with TOO_LARGE from its length prefix and closes the connection', async () => {
    const { port } = await startServer(async () => ({ revision: 1 }), { maxFrameBytes: 4096 });
    const c = await client(port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(4097);
    c.write(header);
    await waitForProgress(() => c.closed, activity, 'closed');
    expect(c.frames).toEqual([{ id: NO_REQUEST_ID, ok: false, error: expect.objectContaining({ code: 'TOO_LARGE' }) }]);
  });

  it('answers OVERLOADED beyond the in-flight limit per connection, and recovers', async () => {
    const release: Array<() => void> = [];
    const { port } = await startServer(
      () => new Promise((resolve) => release.push(() => resolve({ revision: 1 }))),
      { inflightPerConnectionMax: 4 },
    );
    const c = await client(port);
    const other = await client(port);
    for (let id = 1; id <= 6; id++) c.send({ id, op: 'status' });
    other.send({ id: 1, op: 'status' }); // the limit is per connection
    await waitForProgress(() => c.frames.length === 2 && release.length === 5, activity, 'two OVERLOADED answers');
    expect(responses(c).map((r) => [r.id, r.ok ? 'ok' : r.error.code])).toEqual([
      [5, 'OVERLOADED'],
      [6, 'OVERLOADED'],
    ]);
    for (const r of release.splice(0)) r();
    await waitForProgress(() => c.frames.length === 6 && other.frames.length === 1, activity, 'the rest answered');
    c.send({ id: 7, op: 'status' });
    await waitForProgress(() => release.length === 1, activity, 'accepted again');
    release[0]!();
    await waitForProgress(() => c.frames.length === 7, activity, 'answer 7');
    expect(byId(c, 7)).toMatchObject({ ok: true });
  });

  it('writes all responses of one turn in one socket write', async () => {
    const { port } = await startServer(async (request) => ({ revision: request.id }));
    const c = await client(port);
    let chunks = 0;
    c.socket.on('data', () => chunks++);
    const count = 200;
    // One client write holding every request, so they all arrive in (about) one read.
    c.write(encodeFrames(Array.from({ length: count }, (_, i) => ({ id: i + 1, op: 'status' }))));
    await waitForProgress(() => c.frames.length === count, activity, 'all answers');
    // Small responses of one turn travel together: far fewer reads than responses.
    expect(chunks).toBeLessThan(count / 10);
  });

  it('survives arbitrary bytes on many connections and keeps serving', async () => {
    const { port, server, logger } = await startServer(async () => ({ revision: 2 }));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (bytes, honestLength) => {
        const c = await client(port);
        if (honestLength) {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(bytes.length);
          c.write(header);
        }
        c.write(bytes);
        c.send({ id: 424242, op: 'status' });
        // Random bytes may announce a long frame the server keeps waiting for: hang up, and the
        // server must close its side too.
        c.socket.end();
        await waitForProgress(() => c.closed, activity, 'the connection to close');
        expect(c.decodeError).toBeNull();
        for (const frame of c.frames) expect(typeof (frame as ClientResponse).id).toBe('number');
      }),
      { numRuns: 60 },
    );
    const good = await client(port);
    good.send({ id: 1, op: 'status' });
    await waitForProgress(() => good.frames.length === 1, activity, 'the server still answers');
    expect(good.frames[0]).toEqual({ id: 1, ok: true, result: { revision: 2 } });
    expect(logger.has('client.frame.rejected', 'warn')).toBe(true);
    await waitForProgress(() => server.connectionCount === 1, activity, 'garbage connections gone');
  });

  it('close() stops accepting and closes open connections', async () => {
    const { port, server } = await startServer(() => new Promise(() => {}));
    const c = await client(port);
    c.send({ id: 1, op: 'status' });
    await waitForProgress(() => server.connectionCount === 1, activity, 'connected');
    await server.close();
    await waitForProgress(() => c.closed, activity, 'client connection closed');
    await expect(RawFrameSocket.connect(port)).rejects.toThrow();
  });
});
