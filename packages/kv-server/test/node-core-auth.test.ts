/**
 * The node core's side of auth: a linearizable read is authorized again once its read index is
 * applied (`NodeCore.handle`'s `authorize`), and a refusal there answers that read alone — it must
 * never escape into the apply chain, which would stop the node. A write carries the user and auth
 * revision the gate checked it at into the log, and a revocation that commits before it refuses
 * it. One voter over LevelDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { KeelError } from '@keel/protocol';
import { RawNode, SeededRng } from '@keel/raft';
import { AuthGate } from '../src/auth/auth-gate.js';
import { PasswordHasher } from '../src/auth/password-hash.js';
import type { ConnectionIdentity } from '../src/client-port/client-connection.js';
import { waitForProgress } from '@keel/test-support';
import { NodeCore } from '../src/node/node-core.js';
import { decodeCommand } from '../src/state-machine/commands.js';
import { levelDisk, openLevelDb } from '../src/storage/layout.js';
import { openNodeStores } from '../src/storage/index.js';
import { testCoreConfig } from './support/core-config.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const session = (seq: number) => ({ clientId: 'c', seq, ackedBelow: seq });

/** One voter, leading, with auth enabled (user root) after a put of k = v. */
async function startCore(): Promise<{ core: NodeCore; stores: Awaited<ReturnType<typeof openNodeStores>>; fatal: unknown[] }> {
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
  return { core, stores, fatal };
}

it('a read refused when its read index applied fails alone; the node keeps serving', async () => {
  const { core, fatal } = await startCore();

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

it('a write the gate checked before a revocation that commits first is refused; one checked after it is refused at the gate', async () => {
  const { core, stores, fatal } = await startCore();
  const gate = new AuthGate({
    auth: () => stores.state.auth(),
    passwords: new PasswordHasher(), // unused: alice's connection authenticated already
    leaseKeys: (id) => stores.state.leases().get(id)?.keys.values(),
    run: (request, authorize, as) => core.handle(request, authorize, as),
  });
  await core.handle({ id: 10, op: 'userAdd', user: 'alice', password: 'pw' });
  await core.handle({ id: 11, op: 'roleAdd', role: 'writer' });
  await core.handle({ id: 12, op: 'roleGrant', role: 'writer', permission: { mode: 'readwrite', start: b('k'), end: null } });
  await core.handle({ id: 13, op: 'userGrantRole', user: 'alice', role: 'writer' });
  const alice: ConnectionIdentity = { certificateName: undefined, user: { name: 'alice', passwordRevision: stores.state.auth().user('alice')!.passwordRevision }, authenticating: false };
  const first = (await gate.handle({ id: 14, op: 'put', key: b('k'), value: b('alice-1'), session: session(10) }, alice)) as { revision: number };
  const logged = (index: number): unknown => {
    const e = stores.log.raftStorage.entries(index, index + 1)[0]!;
    return e.type === 'normal' ? decodeCommand(e.data) : e.type;
  };
  expect(logged(first.revision)).toMatchObject({ op: 'authorized', user: 'alice', authRevision: stores.state.auth().revision, command: { op: 'put' } });
  // root's writes, like every write while auth is disabled, are logged as they always were.
  const root: ConnectionIdentity = { certificateName: undefined, user: { name: 'root', passwordRevision: stores.state.auth().user('root')!.passwordRevision }, authenticating: false };
  const byRoot = (await gate.handle({ id: 18, op: 'put', key: b('r'), value: b('root'), session: session(11) }, root)) as { revision: number };
  expect(logged(byRoot.revision)).toMatchObject({ op: 'put' });

  // The revocation is proposed first; alice's put reaches the gate before it applied, so the gate
  // (which checks against the applied auth state) lets it through, and it is logged after it.
  const revoked = core.handle({ id: 15, op: 'userRevokeRole', user: 'alice', role: 'writer' });
  const raced = gate.handle({ id: 16, op: 'put', key: b('k'), value: b('alice-2'), session: session(12) }, alice).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(await revoked).toHaveProperty('revision');
  // Refused when it applied (the state machine's message), not by the gate.
  expect(await raced).toMatchObject({ code: 'PERMISSION_DENIED', definite: true, message: expect.stringMatching(/auth changed \(revision \d+\) after the request was checked/) });
  expect((await stores.state.get(b('k')))?.value).toEqual(b('alice-1'));
  // Now the gate itself refuses.
  await expect(gate.handle({ id: 17, op: 'put', key: b('k'), value: b('alice-3'), session: session(13) }, alice)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  expect(fatal).toEqual([]);
});
