import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, type ClientResults } from '@keel/protocol';
import { Cluster } from '@keel/test-support';
import { bytes, text, wireClient } from './support/wire-client.js';

/**
 * Review finding: a scan was bounded only by entry count (LIMITS.scanLimitMax), not by bytes.
 * With values up to LIMITS.valueBytesMax, a scan of a few dozen large values loaded them all into
 * memory and built a response larger than LIMITS.frameBytesMax: the client got an error instead of
 * data at any limit above ~15 (the keys could not be scanned at all with the default page size),
 * and a handful of pipelined scans could exhaust the server's memory. A scan must stop early
 * (more = true) so that its response always fits in one frame.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('scan of large values', () => {
  it('pages through values whose total exceeds a frame, every page fitting in one response', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);
    const count = 24; // 24 MiB of values: more than one 16 MiB frame
    for (let i = 0; i < count; i++) {
      const value = new Uint8Array(LIMITS.valueBytesMax).fill(i);
      const key = `big/${String(i).padStart(2, '0')}`;
      const r = await c.write({ op: 'put', key: bytes(key), value });
      expect(r.ok, key).toBe(true);
    }
    const seen: string[] = [];
    let start = bytes('big/');
    for (let page = 0; page < count + 1; page++) {
      const r = await c.request({
        op: 'scan',
        start,
        end: bytes('big0'), // every key starting with big/
        limit: 100,
        consistency: 'linearizable',
      });
      expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`).toBe('ok');
      if (!r.ok) return;
      const res = r.result as ClientResults['scan'];
      expect(res.kvs.length).toBeGreaterThan(0);
      for (const kv of res.kvs) {
        const i = seen.length;
        expect(text(kv.key)).toBe(`big/${String(i).padStart(2, '0')}`);
        expect(kv.value.byteLength).toBe(LIMITS.valueBytesMax);
        expect(kv.value[0]).toBe(i);
        seen.push(text(kv.key));
      }
      if (!res.more) break;
      const last = res.kvs[res.kvs.length - 1]!.key;
      start = new Uint8Array([...last, 0]);
    }
    expect(seen.length).toBe(count);
    // The node is still healthy.
    expect((await c.put('after', 'scan')).ok).toBe(true);
  });
});
