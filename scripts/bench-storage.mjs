#!/usr/bin/env node
// Storage throughput benchmark: prints numbers, asserts nothing.
//   npx --yes pnpm@10 build && node scripts/bench-storage.mjs [--rounds 200] [--batch 256] [--value-size 256]
// Each round is one Ready of `batch` client puts (`value-size`-byte values, 64 pipelining clients,
// 10,000 distinct keys): persist (synced, one batch) then apply (one batch), as keel-server does.
// Besides wall time it prints the CPU each entry costs: on the main thread (event-loop active
// time) and in the whole process (every thread: LevelDB's thread pool and compaction, V8's GC).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { openLevelStores } from '../packages/kv-server/dist/storage/index.js';
import { encodeCommand } from '../packages/kv-server/dist/state-machine/index.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    batch: { type: 'string', default: '256' },
    'value-size': { type: 'string', default: '256' },
  },
});
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const CLIENTS = 64;
/** CPU time of the main thread so far, ms (Linux: the scheduler's own count, in ns; elsewhere event-loop active time, which also counts time preempted). */
const mainCpuMs = (() => {
  const path = `/proc/self/task/${process.pid}/schedstat`;
  try {
    readFileSync(path);
    return () => Number(readFileSync(path, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return () => performance.eventLoopUtilization().active;
  }
})();

const dir = await mkdtemp(join(tmpdir(), 'keel-bench-'));
const stores = await openLevelStores(dir);
try {
  await stores.log.bootstrap([{ id: 1, role: 'voter', peerAddress: '127.0.0.1:1', clientAddress: '127.0.0.1:2' }]);
  await stores.state.apply(stores.log.raftStorage.allEntries()); // the bootstrap membership
  const value = new Uint8Array(Number(args['value-size'])).fill(7);
  const enc = new TextEncoder();
  let index = stores.log.raftStorage.lastIndex();
  let encodeMs = 0;
  let persistMs = 0;
  let applyMs = 0;
  let persistActiveMs = 0;
  let applyActiveMs = 0;
  const main0 = mainCpuMs();
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const entries = [];
    for (let k = 0; k < BATCH; k++) {
      index++;
      const seq = Math.ceil(index / CLIENTS);
      const session = { clientId: `client-${index % CLIENTS}`, seq, ackedBelow: Math.max(0, seq - 4) };
      const data = encodeCommand({ op: 'put', key: enc.encode(`key-${index % 10_000}`), value, session });
      entries.push({ type: 'normal', index, term: 1, data });
    }
    const t1 = performance.now();
    const e1 = mainCpuMs();
    await stores.log.persist({ hardState: { term: 1, vote: 1, commit: index }, entries }, true);
    const t2 = performance.now();
    const e2 = mainCpuMs();
    await stores.state.apply(entries);
    const e3 = mainCpuMs();
    persistActiveMs += e2 - e1;
    applyActiveMs += e3 - e2;
    encodeMs += t1 - t0;
    persistMs += t2 - t1;
    applyMs += performance.now() - t2;
  }
  const n = BATCH * ROUNDS;
  const mainUs = ((mainCpuMs() - main0) * 1000) / n;
  const cpu = process.cpuUsage(cpu0);
  const processUs = (cpu.user + cpu.system) / n;
  const perSec = (ms) => Math.round((n / ms) * 1000);
  console.log(
    `${n} entries in Readies of ${BATCH}: persist ${(persistMs / ROUNDS).toFixed(2)} ms/Ready (${perSec(persistMs)} entries/s), ` +
      `apply ${(applyMs / ROUNDS).toFixed(2)} ms/Ready (${perSec(applyMs)} entries/s), encode ${((encodeMs / n) * 1000).toFixed(1)} us/entry`,
  );
  console.log(`CPU per entry (encode + persist + apply): main thread ${mainUs.toFixed(1)} us, whole process ${processUs.toFixed(1)} us; main thread in persist ${((persistActiveMs * 1000) / n).toFixed(1)} us, in apply ${((applyActiveMs * 1000) / n).toFixed(1)} us`);
  const t3 = performance.now();
  await stores.log.createSnapshot(index);
  const stream = await stores.state.readSnapshot(1 << 20);
  let bytes = 0;
  for await (const chunk of stream.chunks) bytes += chunk.byteLength;
  await stream.close();
  console.log(`snapshot of ${bytes} bytes created and read in ${(performance.now() - t3).toFixed(0)} ms`);
} finally {
  await stores.close();
  await rm(dir, { recursive: true, force: true });
}
