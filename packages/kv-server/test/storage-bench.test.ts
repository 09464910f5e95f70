/**
 * Storage throughput check (opt-in, prints numbers; speed is never asserted):
 *   KEEL_BENCH=1 npx vitest run packages/kv-server/test/storage-bench.test.ts
 * Each round is one Ready of 256 client puts (100-byte values, 64 pipelining clients, 10,000
 * distinct keys): persist (synced, one batch) then apply (one batch), as the node does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '@keel/raft';
import { NodeStore } from '../src/storage/index.js';
import { encodeCommand } from '../src/state-machine/index.js';

const BATCH = 256;
const ROUNDS = 200;
const CLIENTS = 64;

describe.runIf(process.env['KEEL_BENCH'] === '1')('NodeStore throughput', () => {
  it(`persists and applies ${ROUNDS} Readies of ${BATCH} puts`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-bench-'));
    const store = await NodeStore.open({ dir, bootstrap: { conf: { voters: [1], learners: [] }, members: [] } });
    try {
      const value = new Uint8Array(100).fill(7);
      const enc = new TextEncoder();
      let index = 0;
      let encodeMs = 0;
      let persistMs = 0;
      let applyMs = 0;
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        const es: Entry[] = [];
        for (let k = 0; k < BATCH; k++) {
          index++;
          const seq = Math.ceil(index / CLIENTS);
          const session = { clientId: `client-${index % CLIENTS}`, seq, ackedBelow: Math.max(0, seq - 4) };
          es.push({ type: 'normal', index, term: 1, data: encodeCommand({ op: 'put', key: enc.encode(`key-${index % 10_000}`), value, session }) });
        }
        const t1 = performance.now();
        await store.persist({ hardState: { term: 1, vote: 1, commit: index }, entries: es }, true);
        const t2 = performance.now();
        await store.apply(es);
        encodeMs += t1 - t0;
        persistMs += t2 - t1;
        applyMs += performance.now() - t2;
      }
      const n = BATCH * ROUNDS;
      const perSec = (ms: number): number => Math.round((n / ms) * 1000);
      console.log(
        `${n} entries in Readies of ${BATCH}: persist ${(persistMs / ROUNDS).toFixed(2)} ms/Ready (${perSec(persistMs)} entries/s), ` +
          `apply ${(applyMs / ROUNDS).toFixed(2)} ms/Ready (${perSec(applyMs)} entries/s), encode ${((encodeMs / n) * 1000).toFixed(1)} us/entry`,
      );
      const t3 = performance.now();
      await store.createSnapshot();
      const stream = await store.readSnapshot(1 << 20);
      let bytes = 0;
      for await (const chunk of stream.chunks) bytes += chunk.byteLength;
      console.log(`snapshot of ${bytes} bytes created and read in ${(performance.now() - t3).toFixed(0)} ms`);
      expect(store.appliedIndex()).toBe(n);
      expect(await store.get(enc.encode(`key-${n % 10_000}`))).toMatchObject({ modRevision: n });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
