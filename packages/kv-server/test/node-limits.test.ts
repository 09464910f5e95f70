import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '@keel/protocol';
import { Cluster, waitForProgress } from '@keel/test-support';
import { bytes, errorOf, wireClient } from './support/wire-client.js';
import { pipelined } from './support/workload.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

const session = (seq: number) => ({ clientId: 'limits-test', seq, ackedBelow: 0 });

describe('a single keel-server over the wire', () => {
  it('answers every documented limit and bad input with its typed error, and keeps serving', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);

    // Key too large.
    const bigKey = new Uint8Array(LIMITS.keyBytesMax + 1).fill(97);
    expect(errorOf(await c.request({ op: 'put', key: bigKey, value: bytes('v'), session: session(1) })).code).toBe('TOO_LARGE');
    expect(errorOf(await c.request({ op: 'get', key: bigKey, consistency: 'linearizable' })).code).toBe('TOO_LARGE');
    // The largest key is fine.
    const maxKey = new Uint8Array(LIMITS.keyBytesMax).fill(98);
    expect((await c.request({ op: 'put', key: maxKey, value: bytes('v'), session: session(2) })).ok).toBe(true);

    // Value too large (the request itself is within the request limit).
    const bigValue = new Uint8Array(LIMITS.valueBytesMax + 1);
    const tooBig = errorOf(await c.request({ op: 'put', key: bytes('k'), value: bigValue, session: session(3) }));
    expect(tooBig.code).toBe('TOO_LARGE');
    expect(tooBig.definite).toBe(true);
    // The largest value is fine and reads back intact.
    const maxValue = new Uint8Array(LIMITS.valueBytesMax).fill(7);
    expect((await c.request({ op: 'put', key: bytes('big'), value: maxValue, session: session(4) })).ok).toBe(true);
    const back = await c.call({ op: 'get', key: bytes('big'), consistency: 'linearizable' });
    expect(back.kv?.value.byteLength).toBe(LIMITS.valueBytesMax);
    expect(back.kv?.value.every((b) => b === 7)).toBe(true);

    // Unknown operation, missing fields, out-of-range scan limit.
    expect(errorOf(await c.sendWithId({ id: 900, op: 'frobnicate', key: bytes('k') })).code).toBe('UNKNOWN_COMMAND');
    expect(errorOf(await c.sendWithId({ id: 901, op: 'get', consistency: 'linearizable' })).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await c.sendWithId({ id: 902, op: 'put', key: bytes('k'), value: bytes('v') })).code).toBe('INVALID_ARGUMENT');
    const scanErr = errorOf(
      await c.request({ op: 'scan', prefix: bytes('k'), limit: LIMITS.scanLimitMax + 1, consistency: 'serializable' }),
    );
    expect(['INVALID_ARGUMENT', 'TOO_LARGE']).toContain(scanErr.code);

    // Malformed txns: a typed error naming the part at fault; nothing applied.
    const txn = { op: 'txn', compare: [], success: [], failure: [], session: session(6) };
    const badCompare = errorOf(await c.sendWithId({ id: 903, ...txn, compare: [{ key: bytes('k'), target: 'value', op: '~', value: bytes('v') }] }));
    expect(badCompare).toMatchObject({ code: 'INVALID_ARGUMENT', definite: true });
    expect(badCompare.message).toContain("'compare[0].op'");
    const badOp = errorOf(await c.sendWithId({ id: 904, ...txn, success: [{ op: 'put', key: bytes('k') }] }));
    expect(badOp).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(badOp.message).toContain("'success[0].value'");
    const tooMany = Array.from({ length: LIMITS.txnOpsMax + 1 }, () => ({ op: 'get', key: bytes('k') }));
    expect(errorOf(await c.sendWithId({ id: 905, ...txn, failure: tooMany })).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await c.sendWithId({ id: 906, ...txn, compare: 'all' })).code).toBe('INVALID_ARGUMENT');
    // A txn whose answer would pass LIMITS.txnResponseBytesMax: refused whole, its put not applied.
    const reads = Array.from({ length: Math.ceil(LIMITS.txnResponseBytesMax / LIMITS.valueBytesMax) + 1 }, () => ({ op: 'get' as const, key: bytes('big') }));
    const refused = errorOf(await c.request({ op: 'txn', compare: [], failure: [], success: [{ op: 'put', key: bytes('txn-marker'), value: bytes('1') }, ...reads], session: session(7) }));
    expect(refused).toMatchObject({ code: 'TOO_LARGE', definite: true });
    expect(await c.get('txn-marker')).toBeNull();

    // The connection survived all of that.
    expect((await c.put('still', 'here')).ok).toBe(true);
    expect(await c.get('still')).toBe('here');

    // A request frame over the request limit: TOO_LARGE.
    const huge = await wireClient(cluster, 1);
    const hugeValue = new Uint8Array(LIMITS.requestBytesMax + 1024);
    const hugeErr = errorOf(await huge.request({ op: 'put', key: bytes('h'), value: hugeValue, session: session(5) }));
    expect(hugeErr.code).toBe('TOO_LARGE');

    // A malformed frame: MALFORMED_FRAME, then only that connection is closed.
    const bad = await wireClient(cluster, 1);
    bad.sendRaw(Uint8Array.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    await bad.closed;
    expect(bad.unmatched.map((r) => (r.ok ? 'ok' : r.error.code))).toContain('MALFORMED_FRAME');
    // A frame that announces more than the frame limit.
    const liar = await wireClient(cluster, 1);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(LIMITS.frameBytesMax + 1);
    liar.sendRaw(header);
    await liar.closed;
    expect(liar.unmatched.map((r) => (r.ok ? 'ok' : r.error.code))).toContain('TOO_LARGE');

    // The server is unharmed: the first connection and new ones still work.
    expect(await c.get('still')).toBe('here');
    const fresh = await wireClient(cluster, 1);
    expect(await fresh.get('still', 'serializable')).toBe('here');
    expect(cluster.node(1).state).toBe('running');
  });

  it('answers OVERLOADED beyond --pending-proposals-max, definitely not applied', async () => {
    cluster = await Cluster.start({ nodes: 1, serverArgs: ['--pending-proposals-max', '4'] });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);
    // 1000 writes sent in one burst: far more than 4 can be waiting for one fsync.
    const rs = await pipelined(1000, 1000, (i) => c.put(`o${i}`, 'v'));
    const codes = rs.map((r) => (r!.ok ? 'ok' : r!.error.code));
    expect(codes).toContain('OVERLOADED');
    expect(codes.every((x) => x === 'ok' || x === 'OVERLOADED')).toBe(true);
    // An OVERLOADED write was not applied; an acknowledged one was.
    const firstOverloaded = codes.indexOf('OVERLOADED');
    expect(errorOf(rs[firstOverloaded]!).definite).toBe(true);
    expect(await c.get(`o${firstOverloaded}`)).toBeNull();
    expect(await c.get(`o${codes.indexOf('ok')}`)).toBe('v');
  });

  it('shuts down cleanly on SIGTERM (exit 0) and keeps its data across the restart', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);
    const rs = await pipelined(500, 64, (i) => c.put(`t${i}`, `v${i}`));
    expect(rs.every((r) => r?.ok)).toBe(true);

    const exit = await cluster.node(1).stop();
    expect(exit).toEqual({ code: 0, signal: null });
    const events = cluster.node(1).logs.map((l) => l.event);
    expect(events).toContain('node.stopped');
    expect(cluster.node(1).logs.filter((l) => l.level === 'error')).toEqual([]);
    // Every log line carries the documented fields.
    for (const l of cluster.node(1).logs) {
      expect(typeof l.ts).toBe('string');
      expect(l.nodeId).toBe(1);
    }

    await cluster.node(1).start();
    await cluster.waitForLeader();
    const again = await wireClient(cluster, 1);
    const got = await pipelined(500, 64, (i) => again.request({ op: 'get', key: bytes(`t${i}`), consistency: 'linearizable' }));
    got.forEach((r, i) => {
      expect(r?.ok).toBe(true);
      const kv = (r as { result: { kv: { value: Uint8Array } | null } }).result.kv;
      expect(kv === null ? null : Buffer.from(kv.value).toString()).toBe(`v${i}`);
    });
  });

  it('answers OVERLOADED beyond the per-connection in-flight limit', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const c = await wireClient(cluster, leader);
    expect((await c.put('first', 'ok')).ok).toBe(true);
    // Without followers nothing commits, so every write stays in flight on this connection.
    for (const n of cluster.nodes) if (n.id !== leader) await n.kill();
    const n = LIMITS.inflightPerConnectionMax + 50;
    const all = Array.from({ length: n }, (_, i) => c.put(`f${i}`, 'v'));
    const beyond = all.slice(LIMITS.inflightPerConnectionMax);
    let answered = 0;
    for (const answer of beyond) void answer.finally(() => answered++).catch(() => undefined);
    await waitForProgress(() => answered === beyond.length, () => answered, 'an answer to every request beyond the limit');
    const overloaded = (await Promise.all(beyond)).map((r) => (r.ok ? 'ok' : r.error.code));
    expect(overloaded).toContain('OVERLOADED');
    expect(overloaded.every((code) => code === 'OVERLOADED')).toBe(true);
  });
});

