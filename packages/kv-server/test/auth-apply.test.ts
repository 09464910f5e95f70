/**
 * Writes checked by the auth gate carry the user and the auth revision of the check into the log
 * (commands.ts code 40); the state machine checks them again when auth changed before they apply
 * (state-machine.ts), so a write raced by a revocation is refused on every replica, whatever the
 * store, across restarts and snapshots. Driven through the real state store, as the node drives it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WriteSession } from '@keel/protocol';
import type { Entry } from '@keel/raft';
import { encodeAuthCommand, type AuthCommand } from '../src/state-machine/auth-commands.js';
import { StateMachineError, decodeCommand, encodeCommand, type AuthorizedCommand, type Command, type SessionCommand } from '../src/state-machine/index.js';
import { pack, unpack } from '../src/state-machine/msgpack.js';
import { BACKENDS, TestStore, newHome, removeHomes, type Backend, type StoreHome } from './support/stores.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const HASH = new Uint8Array(52).fill(7);

afterEach(removeHomes);

type Logged = Command | AuthorizedCommand | AuthCommand;
const encode = (c: Logged): Uint8Array => ('session' in c || c.op === 'authorized' || c.op === 'compact' || c.op === 'leaseExpire' ? encodeCommand(c) : encodeAuthCommand(c));

/** Persist `commands` as the next entries (committed); apply them too unless `apply` is false. */
async function append(store: TestStore, commands: readonly Logged[], apply = true): Promise<unknown[]> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term: 1, data: encode(c) }));
  await store.persist({ hardState: { term: 1, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  if (!apply) return [];
  return answers(await store.apply(es));
}

function answers(results: Awaited<ReturnType<TestStore['apply']>>): unknown[] {
  return results.map((r) => (r.kind === 'command' ? r.result : r.kind));
}

let seq = 0;
function session(): WriteSession {
  seq++;
  return { clientId: 'alice-conn', seq, ackedBelow: seq };
}

/** alice may read and write [a, b) through the role `writer`; auth is enabled. */
const SETUP: readonly AuthCommand[] = [
  { op: 'userAdd', user: 'root', passwordHash: HASH },
  { op: 'userAdd', user: 'alice', passwordHash: HASH },
  { op: 'roleAdd', role: 'writer' },
  { op: 'roleGrant', role: 'writer', permission: { mode: 'readwrite', start: b('a'), end: b('b') } },
  { op: 'userGrantRole', user: 'alice', role: 'writer' },
  { op: 'authEnable' },
];
const REVOKE: AuthCommand = { op: 'userRevokeRole', user: 'alice', role: 'writer' };

const put = (key: string, value: string, s = session()): SessionCommand => ({ op: 'put', key: b(key), value: b(value), session: s });
const as = (command: SessionCommand, authRevision: number, user = 'alice'): AuthorizedCommand => ({ op: 'authorized', user, authRevision, command });

async function value(store: TestStore, key: string): Promise<string | undefined> {
  const kv = await store.get(b(key));
  return kv === null ? undefined : new TextDecoder().decode(kv.value);
}

async function authStore(backend: Backend): Promise<{ store: TestStore; home: StoreHome; revision: number }> {
  const home = await newHome(backend);
  const store = await TestStore.open(home);
  await append(store, SETUP);
  return { store, home, revision: store.state.auth().revision };
}

describe('authorized writes: encoding', () => {
  it('round-trips every client write wrapped; a write without a user is encoded as before', () => {
    const writes: SessionCommand[] = [
      put('a1', 'v'),
      { op: 'put', key: b('a1'), value: b('v'), prevKv: true, lease: 7, session: session() },
      { op: 'delete', key: b('a1'), prevKv: true, session: session() },
      { op: 'deleteRange', start: b('a'), end: b('b'), session: session() },
      { op: 'txn', compare: [{ key: b('a1'), target: 'exists', value: true }], success: [{ op: 'put', key: b('a2'), value: b('x') }], failure: [], session: session() },
      { op: 'leaseGrant', ttl: 10, session: session() },
      { op: 'leaseRevoke', lease: 3, session: session() },
    ];
    for (const w of writes) {
      const wrapped = as(w, 6);
      expect(decodeCommand(encodeCommand(wrapped))).toEqual(wrapped);
      // The wrapper holds the write's own encoding: [40, user, authRevision, <the write's array>].
      expect(encodeCommand(wrapped)).toEqual(pack([40, 'alice', 6, unpack(encodeCommand(w))]));
    }
  });

  it('refuses to encode a wrapper that breaks the rules (TypeError)', () => {
    expect(() => encodeCommand(as(put('a1', 'v'), -1))).toThrow(TypeError);
    expect(() => encodeCommand(as(put('a1', 'v'), 1, ''))).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'authorized', user: 'alice', authRevision: 1, command: { op: 'compact', revision: 1 } as unknown as SessionCommand })).toThrow(TypeError);
    expect(() => encodeCommand(as({ op: 'put', key: new Uint8Array(0), value: b('v'), session: session() }, 1))).toThrow(TypeError);
  });

  it('decodes a malformed wrapper to MALFORMED_COMMAND, never anything else', () => {
    const inner = [1, b('a1'), b('v'), 'c', 1, 1];
    const bad: unknown[][] = [
      [40],
      [40, 'alice', 1],
      [40, 'alice', 1, inner, 'extra'],
      [40, 'alice', -1, inner],
      [40, 'alice', 1.5, inner],
      [40, 'alice', '1', inner],
      [40, '', 1, inner],
      [40, 'x'.repeat(1000), 1, inner],
      [40, 7, 1, inner],
      [40, 'alice', 1, 'not an array'],
      [40, 'alice', 1, []],
      [40, 'alice', 1, [1, b('a1')]], // a put of the wrong arity
      [40, 'alice', 1, [9, 5]], // leaseExpire: the leader's, not a client write
      [40, 'alice', 1, [6, 1]], // compact
      [40, 'alice', 1, [20]], // an auth command
      [40, 'alice', 1, [40, 'alice', 1, inner]], // nested
    ];
    for (const raw of bad) {
      let caught: unknown;
      try {
        decodeCommand(pack(raw));
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(raw)).toBeInstanceOf(StateMachineError);
      expect((caught as StateMachineError).code).toBe('MALFORMED_COMMAND');
    }
  });
});

describe.each(BACKENDS)('authorized writes at apply on %s', (backend) => {
  it('a put checked before a revocation that applies after it is refused PERMISSION_DENIED; the key keeps its value', async () => {
    const { store, revision } = await authStore(backend);
    expect(await append(store, [as(put('a1', 'v1'), revision)])).toEqual([{ revision: SETUP.length + 1 }]);
    const [revoked, raced] = await append(store, [REVOKE, as(put('a1', 'v2'), revision)]);
    expect(revoked).toEqual({ revision: SETUP.length + 2 });
    expect(raced).toMatchObject({ code: 'PERMISSION_DENIED', definite: true });
    expect((raced as { message: string }).message).toMatch(/user "alice" may not write/);
    expect(await value(store, 'a1')).toBe('v1');
    // In a later batch too (the check reads the auth state as it is when the write applies).
    expect(await append(store, [as(put('a1', 'v3'), revision)])).toMatchObject([{ code: 'PERMISSION_DENIED' }]);
    expect(await value(store, 'a1')).toBe('v1');
  });

  it('refuses after every kind of revocation, and every kind of write that needs what was revoked', async () => {
    const revocations: AuthCommand[] = [
      REVOKE,
      { op: 'userDelete', user: 'alice' },
      { op: 'roleDelete', role: 'writer' },
      { op: 'roleRevoke', role: 'writer', start: b('a'), end: b('b') },
    ];
    for (const revocation of revocations) {
      const { store, revision } = await authStore(backend);
      const [lease] = (await append(store, [as({ op: 'leaseGrant', ttl: 60, session: session() }, revision)])) as Array<{ lease: number }>;
      await append(store, [as({ op: 'put', key: b('a1'), value: b('v1'), lease: lease!.lease, session: session() }, revision)]);
      const writes: SessionCommand[] = [
        put('a2', 'v'),
        { op: 'delete', key: b('a1'), session: session() },
        { op: 'deleteRange', start: b('a'), end: b('b'), session: session() },
        { op: 'txn', compare: [], success: [{ op: 'put', key: b('a2'), value: b('v') }], failure: [], session: session() },
        { op: 'leaseRevoke', lease: lease!.lease, session: session() },
      ];
      const results = await append(store, [revocation, ...writes.map((w) => as(w, revision))]);
      expect(results[0], revocation.op).toHaveProperty('revision');
      for (const r of results.slice(1)) expect(r, revocation.op).toMatchObject({ code: 'PERMISSION_DENIED', definite: true });
      expect(await value(store, 'a1')).toBe('v1');
      expect(await value(store, 'a2')).toBeUndefined();
      expect(store.state.leases().get(lease!.lease)?.keys.size).toBe(1);
      // A lease grant needs only an existing user: refused once alice is gone, granted otherwise.
      const [grant] = await append(store, [as({ op: 'leaseGrant', ttl: 60, session: session() }, revision)]);
      if (revocation.op === 'userDelete') expect(grant).toMatchObject({ code: 'PERMISSION_DENIED' });
      else expect(grant).toHaveProperty('lease');
    }
  });

  it('applies a write whose auth revision is current without checking it again; a stale one is checked', async () => {
    const { store, revision } = await authStore(backend);
    // Written for a user that does not exist: only a check could refuse it, and none is made
    // while the auth state is the one the gate checked against.
    expect(await append(store, [as(put('z', 'unchecked'), revision, 'nobody')])).toEqual([{ revision: SETUP.length + 1 }]);
    expect(await value(store, 'z')).toBe('unchecked');
    expect(await append(store, [as(put('z', 'checked'), revision - 1, 'nobody')])).toMatchObject([{ code: 'PERMISSION_DENIED' }]);
    // Auth changed, and the change does not touch what the write needs: checked, and allowed.
    await append(store, [{ op: 'roleAdd', role: 'other' }]);
    expect(await append(store, [as(put('a1', 'v'), revision)])).toEqual([{ revision: SETUP.length + 4 }]);
  });

  it('applies a stale write once auth is disabled, and again checks once it is enabled', async () => {
    const { store, revision } = await authStore(backend);
    expect(await append(store, [REVOKE, { op: 'authDisable' }, as(put('a1', 'v1'), revision)])).toEqual([
      { revision: SETUP.length + 1 },
      { revision: SETUP.length + 2 },
      { revision: SETUP.length + 3 },
    ]);
    expect(await append(store, [{ op: 'authEnable' }, as(put('a1', 'v2'), revision)])).toMatchObject([{ revision: SETUP.length + 4 }, { code: 'PERMISSION_DENIED' }]);
    expect(await value(store, 'a1')).toBe('v1');
  });

  it('records a refusal in the write session as other refusals: a retry is decided again; a retry of an applied write keeps its answer', async () => {
    const { store, revision } = await authStore(backend);
    // A client that has acknowledged nothing yet (its session keeps every result).
    const applied = put('a1', 'v1', { clientId: 'retrying', seq: 1, ackedBelow: 0 });
    const refused = put('a2', 'v2', { clientId: 'retrying', seq: 2, ackedBelow: 0 });
    expect(await append(store, [as(applied, revision)])).toEqual([{ revision: SETUP.length + 1 }]);
    expect(await append(store, [REVOKE, as(refused, revision)])).toMatchObject([{}, { code: 'PERMISSION_DENIED' }]);
    // The retry of the write that applied is answered with its first result, not refused.
    expect(await append(store, [as(applied, revision)])).toEqual([{ revision: SETUP.length + 1 }]);
    // The refused one was not remembered: once alice has her role back, its retry applies.
    const regrant = SETUP[4]!;
    expect(await append(store, [regrant, as(refused, revision)])).toEqual([{ revision: SETUP.length + 5 }, { revision: SETUP.length + 6 }]);
    expect(await value(store, 'a2')).toBe('v2');
  });

  it('every replica answers the same, and a restart or a snapshot keeps deciding the same', async () => {
    const { store: a, home, revision } = await authStore(backend);
    const { store: b2 } = await authStore(backend);
    const log: Logged[] = [as(put('a1', 'v1'), revision), REVOKE, as(put('a1', 'v2'), revision)];
    const onA = await append(a, log);
    expect(await append(b2, log)).toEqual(onA);
    expect(onA[2]).toMatchObject({ code: 'PERMISSION_DENIED' });

    // Wrapped entries are log entries: committed, not yet applied, then the node restarts.
    const late: Logged[] = [as(put('a1', 'v3'), revision), as(put('a1', 'v4'), a.state.auth().revision, 'root')];
    await append(a, late, false);
    await a.close();
    const again = await TestStore.open(home);
    const pending = again.raftStorage.entries(again.appliedIndex() + 1, again.raftStorage.lastIndex() + 1);
    expect(answers(await again.apply(pending))).toMatchObject([{ code: 'PERMISSION_DENIED' }, { revision: SETUP.length + 5 }]);
    expect(await value(again, 'a1')).toBe('v4');

    // A replica that catches up from a snapshot holds the auth state and its revision.
    const stream = await again.readSnapshot(1024);
    const chunks: Uint8Array[] = [];
    for await (const c of stream.chunks) chunks.push(c);
    const target = await TestStore.open(await newHome(backend));
    const install = await target.beginSnapshotInstall(stream.meta);
    for (const c of chunks) await install.write(c);
    await target.commitInstall(install);
    expect(target.state.auth().revision).toBe(SETUP.length + 2);
    await target.persist({ hardState: { term: 1, vote: 1, commit: stream.meta.index }, entries: [] }, true);
    expect(await append(target, [as(put('a1', 'v5'), revision), as(put('a1', 'v6'), SETUP.length + 2, 'nobody')])).toMatchObject([
      { code: 'PERMISSION_DENIED' },
      { revision: stream.meta.index + 2 },
    ]);
    expect(await value(target, 'a1')).toBe('v6');
  });

  it('answers an undecodable wrapper INTERNAL and applies the rest of the batch', async () => {
    const { store, revision } = await authStore(backend);
    const first = store.raftStorage.lastIndex() + 1;
    const es: Entry[] = [
      { type: 'normal', index: first, term: 1, data: pack([40, 'alice', revision, [9, 5]]) },
      { type: 'normal', index: first + 1, term: 1, data: encodeCommand(as(put('a1', 'v'), revision)) },
    ];
    await store.persist({ hardState: { term: 1, vote: 1, commit: first + 1 }, entries: es }, true);
    expect(answers(await store.apply(es))).toMatchObject([{ code: 'INTERNAL', definite: true }, { revision: first + 1 }]);
  });
});
