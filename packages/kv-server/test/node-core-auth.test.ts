/**
 * The node core's side of auth: a linearizable read is authorized again once its read index is
 * applied (`NodeCore.handle`'s `authorize`), and a refusal there answers that read alone — it must
 * never escape into the apply chain, which would stop the node. One voter over LevelDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { KeelError } from '@keel/protocol';
import { RawNode, SeededRng } from '@keel/raft';
import { waitForProgress } from '@keel/test-support';
import { NodeCore } from '../src/node/node-core.js';
import { levelDisk, openLevelDb } from '../src/storage/layout.js';
import { openNodeStores } from '../src/storage/index.js';
import { testCoreConfig } from './support/core-config.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const session = (seq: number) => ({ clientId: 'c', seq, ackedBelow: seq });

it('a read refused when its read index applied fails alone; the node keeps serving', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-core-auth-'));
  const db = await openLevelDb(dir);
  const stores = await openNodeStores(db, levelDisk(db));
  await stores.log.bootstrap([{ id: 1, role: 'voter', peerAddress: '127.0.0.1:1', clientAddress: '127.0.0.1:2' }]);
  const raw = new RawNode({ id: 1, storage: stores.log.raftStorage, applied: stores.state.appliedIndex(), rng: new SeededRng(1), electionTick: 10, heartbeatTick: 1 });
  const config = testCoreConfig(1, 10);
  const fatal: unknown[] = [];
  const core = new NodeCore(config, raw, {
    log: stores.log,
    state: stores.state,
    peers: { send: () => undefined, sendSnapshot: () => new Promise(() => undefined), setPeers: () => undefined },
    scheduler: { soon: (run) => setImmediate(run) },
    rng: new SeededRng(2),
    logger: { log: () => undefined },
    listening: { peerAddress: '', clientAddress: '' },
    passwords: { hash: async () => new Uint8Array(52).fill(1) },
    onFatal: (err) => fatal.push(err),
  });
  cleanups.push(async () => {
    await core.close();
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  });
  core.start();
  const timer = setInterval(() => core.tick(), 5);
  cleanups.push(async () => clearInterval(timer));
  await waitForProgress(() => core.status().role === 'leader', () => core.status(), 'the single voter leading');

  await core.handle({ id: 1, op: 'put', key: b('k'), value: b('v'), session: session(1) });
  await core.handle({ id: 2, op: 'userAdd', user: 'root', password: 'pw' });
  await core.handle({ id: 3, op: 'authEnable' });
  expect(stores.state.auth().enabled).toBe(true);

  let checks = 0;
  const refuseOnRecheck = (): void => {
    if (checks++ > 0) throw new KeelError('PERMISSION_DENIED', 'revoked meanwhile');
  };
  refuseOnRecheck(); // the auth gate's check when the request arrived
  const refused = await core.handle({ id: 4, op: 'get', key: b('k'), consistency: 'linearizable' }, refuseOnRecheck).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(refused).toMatchObject({ code: 'PERMISSION_DENIED' });
  expect(checks).toBe(2);
  // Served after the read index: the node did not stop.
  expect(fatal).toEqual([]);
  expect((await core.handle({ id: 5, op: 'get', key: b('k'), consistency: 'linearizable' }, () => undefined)) as unknown).toMatchObject({ kv: { value: b('v') } });
  await core.handle({ id: 6, op: 'put', key: b('k'), value: b('w'), session: session(2) });
  expect(fatal).toEqual([]);
});
