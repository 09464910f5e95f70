/**
 * Watches at a node's client port, over a raw connection: the frames of a watch (announce, events
 * of whole revisions, progress), its end by watchCancel, the per-connection watch limit, and
 * requests the port refuses. A real single-node cluster: TCP, LevelDB, the process.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, LIMITS, encodeFrame, validateServerFrame, type ClientResponse, type WatchEventsFrame } from '@keel/protocol';
import { Cluster } from '@keel/test-support';
import { bytes, text, wireClient } from './support/wire-client.js';

let cluster: Cluster | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await cluster?.destroy();
  cluster = undefined;
});

/** A raw connection that keeps every frame the server sends, in order. */
async function rawConnection(address: string): Promise<{ send(request: Record<string, unknown>): void; frames: Array<WatchEventsFrame | ClientResponse>; until(done: () => boolean): Promise<void> }> {
  const [host, port] = address.split(':') as [string, string];
  const socket = connect({ host, port: Number(port) });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const frames: Array<WatchEventsFrame | ClientResponse> = [];
  const decoder = new FrameDecoder({ copyBuffers: true });
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (v) => frames.push(validateServerFrame(v)));
    wake?.();
  });
  return {
    send: (request) => socket.write(encodeFrame(request)),
    frames,
    async until(done) {
      while (!done()) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

const ended = (frames: ReadonlyArray<WatchEventsFrame | ClientResponse>, id: number): ClientResponse | undefined =>
  frames.find((f): f is ClientResponse => 'ok' in f && f.id === id);

describe('watches at the client port', () => {
  it('announces the watch, sends whole revisions with progress, and ends it on watchCancel', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    const writer = await wireClient(cluster, 1);
    const c = await rawConnection(cluster.endpoints[0]!);
    c.send({ id: 7, op: 'watch', prefix: bytes('p/'), prevKv: true });
    await c.until(() => c.frames.length > 0);
    const announce = c.frames[0] as WatchEventsFrame;
    expect(announce).toMatchObject({ id: 7, watch: { events: [] } });
    const start = announce.watch.revision;

    const put = await writer.call({ op: 'put', key: bytes('p/a'), value: bytes('1'), session: { clientId: 'w', seq: 1, ackedBelow: 1 } });
    await writer.call({ op: 'put', key: bytes('other'), value: bytes('x'), session: { clientId: 'w', seq: 2, ackedBelow: 2 } });
    const txn = await writer.call({
      op: 'txn',
      compare: [],
      success: [
        { op: 'put', key: bytes('p/a'), value: bytes('2') },
        { op: 'put', key: bytes('p/b'), value: bytes('3') },
      ],
      failure: [],
      session: { clientId: 'w', seq: 3, ackedBelow: 3 },
    });
    const events = (): WatchEventsFrame['watch']['events'] => c.frames.flatMap((f) => ('watch' in f ? f.watch.events : []));
    await c.until(() => events().length === 3);
    expect(put.revision).toBeGreaterThan(start);
    expect(events().map((e) => [e.revision, e.type, text(e.kv.key), text(e.kv.value), e.prevKv === null ? null : text(e.prevKv!.value)])).toEqual([
      [put.revision, 'put', 'p/a', '1', null],
      [txn.revision, 'put', 'p/a', '2', '1'],
      [txn.revision, 'put', 'p/b', '3', null],
    ]);
    // The two changes of the txn came in one frame, which says it covered the txn's revision.
    const txnFrame = c.frames.find((f): f is WatchEventsFrame => 'watch' in f && f.watch.events.some((e) => e.revision === txn.revision))!;
    expect(txnFrame.watch.events).toHaveLength(2);
    expect(txnFrame.watch.revision).toBeGreaterThanOrEqual(txn.revision);

    c.send({ id: 8, op: 'watchCancel', watchId: 7 });
    await c.until(() => ended(c.frames, 7) !== undefined && ended(c.frames, 8) !== undefined);
    expect(ended(c.frames, 7)).toEqual({ id: 7, ok: true, result: { revision: txnFrame.watch.revision } });
    expect(ended(c.frames, 8)).toEqual({ id: 8, ok: true, result: { canceled: true } });
    c.send({ id: 9, op: 'watchCancel', watchId: 7 });
    await c.until(() => ended(c.frames, 9) !== undefined);
    expect(ended(c.frames, 9)).toEqual({ id: 9, ok: true, result: { canceled: false } });
  });

  it('replays from a revision, waits for a future one, and refuses bad watches and compactions', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    const writer = await wireClient(cluster, 1);
    const first = await writer.call({ op: 'put', key: bytes('k'), value: bytes('a'), session: { clientId: 'w', seq: 1, ackedBelow: 1 } });
    const c = await rawConnection(cluster.endpoints[0]!);
    c.send({ id: 1, op: 'watch', key: bytes('k'), fromRevision: first.revision });
    c.send({ id: 2, op: 'watch', key: bytes('k'), fromRevision: first.revision + 1000 });
    await c.until(() => c.frames.some((f) => 'watch' in f && f.id === 1 && f.watch.events.length === 1));
    const future = c.frames.filter((f): f is WatchEventsFrame => 'watch' in f && f.id === 2);
    expect(future.flatMap((f) => f.watch.events)).toEqual([]);
    expect(future[0]!.watch.revision).toBe(first.revision + 999);

    c.send({ id: 3, op: 'watch', key: bytes('k'), prefix: bytes('k') });
    c.send({ id: 4, op: 'watch', start: bytes('b'), end: bytes('a') });
    c.send({ id: 5, op: 'watch', key: bytes('k'), fromRevision: 0 });
    c.send({ id: 6, op: 'compact', revision: first.revision + 1000 });
    c.send({ id: 1, op: 'watch', key: bytes('k') }); // id 1 is an open watch
    await c.until(() => [3, 4, 5, 6].every((id) => ended(c.frames, id) !== undefined) && c.frames.filter((f) => 'ok' in f && f.id === 1).length === 1);
    for (const id of [3, 4, 5, 6]) expect(ended(c.frames, id)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(ended(c.frames, 1)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('already open') } });

    // Compact to the current revision: the watch from before it is refused, naming the oldest revision.
    const second = await writer.call({ op: 'put', key: bytes('k'), value: bytes('b'), session: { clientId: 'w', seq: 2, ackedBelow: 2 } });
    expect(await writer.call({ op: 'compact', revision: second.revision })).toMatchObject({ compactRevision: second.revision });
    c.send({ id: 10, op: 'watch', key: bytes('k'), fromRevision: first.revision });
    await c.until(() => ended(c.frames, 10) !== undefined);
    expect(ended(c.frames, 10)).toMatchObject({ ok: false, error: { code: 'COMPACTED', compactRevision: second.revision } });
    expect(c.frames.some((f) => 'watch' in f && f.id === 10)).toBe(false); // never announced
  });

  it(`allows ${LIMITS.watchesPerConnectionMax} watches per connection and refuses one more with OVERLOADED`, async () => {
    cluster = await Cluster.start({ nodes: 1 });
    const c = await rawConnection(cluster.endpoints[0]!);
    for (let id = 1; id <= LIMITS.watchesPerConnectionMax + 1; id++) c.send({ id, op: 'watch', key: bytes(`k${id}`) });
    const max = LIMITS.watchesPerConnectionMax;
    await c.until(() => c.frames.filter((f) => 'watch' in f).length === max && ended(c.frames, max + 1) !== undefined);
    expect(ended(c.frames, max + 1)).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
    // Another connection has its own allowance.
    const d = await rawConnection(cluster.endpoints[0]!);
    d.send({ id: 1, op: 'watch', key: bytes('k') });
    await d.until(() => d.frames.length > 0);
    expect(d.frames[0]).toMatchObject({ id: 1, watch: { events: [] } });
  });
});
