/**
 * Crash safety with real processes: a child process writes to the stores (built code from dist/)
 * as fast as it can — persist (synced), apply, snapshots with log compaction — and is killed with
 * SIGKILL at an arbitrary point. The store reopened afterwards must hold every entry whose
 * persist was acknowledged, and its user data and sessions must be exactly the state after
 * applying the log up to its applied index: never half a batch.
 *
 * The workload makes the expected state a function of the applied index alone (so log compaction
 * does not hide anything): entry w writes key `k{w % 20}` = `v{w}` from client `c` with seq w,
 * except every 7th entry, which is a retry of the entry before it (same client, same seq) and must
 * change nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '@keel/raft';
import { openLevelStores, type NodeStores } from '../src/storage/index.js';

const KEYS = 20;
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

const WRITER = (distUrl: string, dir: string): string => `
import { openLevelStores } from '${distUrl}storage/index.js';
import { encodeCommand } from '${distUrl}state-machine/index.js';
const enc = new TextEncoder();
const command = (i) => {
  const w = i % 7 === 0 ? i - 1 : i; // every 7th entry retries the one before it
  return encodeCommand({ op: 'put', key: enc.encode('k' + (w % ${KEYS})), value: enc.encode('v' + w), session: { clientId: 'c', seq: w, ackedBelow: Math.max(0, w - 5) } });
};
const { log, state } = await openLevelStores(${JSON.stringify(dir)});
let last = log.raftStorage.lastIndex();
if (state.appliedIndex() < last) await state.apply(log.raftStorage.entries(state.appliedIndex() + 1, last + 1));
for (let round = 0; ; round++) {
  const es = [];
  const n = 1 + (round % 64);
  for (let k = 1; k <= n; k++) es.push({ type: 'normal', index: last + k, term: 1, data: command(last + k) });
  last += n;
  await log.persist({ hardState: { term: 1, vote: 1, commit: last }, entries: es }, true);
  process.stdout.write('persisted ' + last + '\\n');
  await state.apply(es);
  if (round % 10 === 9) await log.createSnapshot(Math.max(0, state.appliedIndex() - (round % 20 === 19 ? 0 : 30)));
}
`;

/** The state after applying entries 1..applied of the workload. */
function expectedState(applied: number): Array<[string, { value: string; create: number; mod: number }]> {
  const state = new Map<string, { value: string; create: number; mod: number }>();
  for (let w = 1; w <= applied; w++) {
    if (w % 7 === 0) continue;
    const key = `k${w % KEYS}`;
    state.set(key, { value: `v${w}`, create: state.get(key)?.create ?? w, mod: w });
  }
  return [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function actualState(store: NodeStores['state']): Promise<Array<[string, { value: string; create: number; mod: number }]>> {
  const dec = new TextDecoder();
  const { kvs, more } = await store.scan({}, 1000);
  expect(more).toBe(false);
  return kvs.map((kv) => [dec.decode(kv.key), { value: dec.decode(kv.value), create: kv.createRevision, mod: kv.modRevision }]);
}

const dirs: string[] = [];
const children = new Set<ChildProcess>();
const stores = new Set<NodeStores>();

afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const s of stores) await s.close().catch(() => undefined);
  stores.clear();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

beforeAll(() => {
  if (!existsSync(join(dist, 'storage', 'index.js'))) throw new Error(`${dist} is not built: run \`npx tsc -b\` first`);
});

/** Run the writer until it acknowledged at least `minIndex`, then SIGKILL it. Returns the last acknowledged index. */
async function runAndKill(script: string, minIndex: number): Promise<number> {
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let acked = 0;
  let stderr = '';
  let buffered = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^persisted (\d+)$/.exec(line);
        if (m) acked = Number(m[1]);
      }
      if (acked >= minIndex && child.exitCode === null) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}): ${stderr}`));
    });
  });
  await exited;
  children.delete(child);
  return acked;
}

describe('store crash safety (kill -9 of a writing process)', () => {
  it('keeps every acknowledged entry and never exposes a half-applied batch, across repeated crashes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-crash-'));
    dirs.push(dir);
    const script = join(dir, 'writer.mjs');
    await writeFile(script, WRITER(pathToFileURL(dist).href, join(dir, 'node')));
    let target = 0;
    for (let cycle = 0; cycle < 4; cycle++) {
      target += 700 + cycle * 211;
      const acked = await runAndKill(script, target);

      const store = await openLevelStores(join(dir, 'node'));
      const { log, state } = store;
      stores.add(store);
      const last = log.raftStorage.lastIndex();
      const applied = state.appliedIndex();
      expect(last).toBeGreaterThanOrEqual(acked); // Durability of acknowledged (synced) persists
      expect(applied).toBeLessThanOrEqual(last);
      expect(log.raftStorage.snapshot().meta.index).toBeLessThanOrEqual(applied);
      expect(await actualState(state)).toEqual(expectedState(applied));

      // Finish applying what the log holds, as the node would after a restart.
      const rest: Entry[] = applied < last ? log.raftStorage.entries(applied + 1, last + 1) : [];
      const results = await state.apply(rest);
      for (const r of results) {
        // Retries are answered with the original revision (the entry before them).
        expect(r).toMatchObject({ kind: 'command', result: { revision: r.index % 7 === 0 ? r.index - 1 : r.index } });
      }
      expect(await actualState(state)).toEqual(expectedState(last));
      stores.delete(store);
      await store.close();
    }
  });
});
