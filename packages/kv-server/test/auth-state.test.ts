/**
 * The replicated auth state (auth-state.ts), its log commands (auth-commands.ts), the permission
 * table (permissions.ts) and password hashing (password-hash.ts), without a cluster.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeelError, type ClientRequest, type WriteSession } from '@keel/protocol';
import { PasswordHasher } from '../src/auth/password-hash.js';
import { key, prefixInterval, requirementOf } from '../src/auth/permissions.js';
import { encodeAuthCommand, type AuthCommand } from '../src/state-machine/auth-commands.js';
import { AuthState, covers, type KeyInterval } from '../src/state-machine/auth-state.js';
import { decodeCommand } from '../src/state-machine/commands.js';
import { StateMachineError } from '../src/state-machine/errors.js';
import { pack } from '../src/state-machine/msgpack.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const HASH = new Uint8Array(52).fill(7);

function applyAll(auth: AuthState, commands: readonly AuthCommand[], from = 1): Array<{ revision: number } | { code: string }> {
  return commands.map((c, i) => auth.apply(c, from + i));
}

describe('auth state', () => {
  it('enables only with a root user, which gets the root role; root stays while enabled', () => {
    const auth = AuthState.empty();
    expect(auth.apply({ op: 'authEnable' }, 1)).toMatchObject({ code: 'AUTH_CONFLICT' });
    expect(auth.enabled).toBe(false);
    expect(auth.revision).toBe(0);
    applyAll(auth, [{ op: 'userAdd', user: 'root', passwordHash: HASH }, { op: 'authEnable' }], 2);
    expect(auth.enabled).toBe(true);
    expect(auth.revision).toBe(3);
    expect(auth.user('root')?.roles).toEqual(['root']);
    expect(auth.grants('root').root).toBe(true);
    expect(auth.apply({ op: 'userDelete', user: 'root' }, 4)).toMatchObject({ code: 'AUTH_CONFLICT' });
    expect(auth.apply({ op: 'userRevokeRole', user: 'root', role: 'root' }, 4)).toMatchObject({ code: 'AUTH_CONFLICT' });
    expect(auth.apply({ op: 'roleGrant', role: 'root', permission: { mode: 'read', start: b('a'), end: null } }, 4)).toMatchObject({ code: 'AUTH_CONFLICT' });
    expect(auth.apply({ op: 'roleAdd', role: 'root' }, 4)).toMatchObject({ code: 'AUTH_CONFLICT' });
    expect(auth.revision).toBe(3);
    expect(auth.apply({ op: 'authDisable' }, 5)).toEqual({ revision: 5 });
    expect(auth.apply({ op: 'userDelete', user: 'root' }, 6)).toEqual({ revision: 6 });
  });

  it('adds, grants, replaces, revokes and deletes; refusals change nothing', () => {
    const auth = AuthState.empty();
    const results = applyAll(auth, [
      { op: 'userAdd', user: 'alice', passwordHash: HASH },
      { op: 'userAdd', user: 'alice', passwordHash: HASH },
      { op: 'roleAdd', role: 'app' },
      { op: 'userGrantRole', user: 'alice', role: 'nope' },
      { op: 'userGrantRole', user: 'ghost', role: 'app' },
      { op: 'userGrantRole', user: 'alice', role: 'app' },
      { op: 'roleGrant', role: 'app', permission: { mode: 'read', ...prefixInterval(b('app/')) } },
      { op: 'roleGrant', role: 'app', permission: { mode: 'readwrite', ...prefixInterval(b('app/')) } },
      { op: 'roleRevoke', role: 'app', start: b('app/'), end: null },
    ]);
    expect(results.map((r) => ('code' in r ? r.code : 'ok'))).toEqual(['ok', 'AUTH_CONFLICT', 'ok', 'AUTH_NOT_FOUND', 'AUTH_NOT_FOUND', 'ok', 'ok', 'ok', 'AUTH_NOT_FOUND']);
    expect(auth.permissions('app')).toEqual([{ mode: 'readwrite', ...prefixInterval(b('app/')) }]);
    expect(covers(auth.grants('alice').write, b('app/x'), b('app/y'))).toBe(true);
    auth.apply({ op: 'roleDelete', role: 'app' }, 20);
    expect(auth.user('alice')?.roles).toEqual([]);
    expect(auth.grants('alice').read).toEqual([]);
    expect(auth.roleNames()).toEqual(['root']);
  });

  it('round-trips through its stored record, and refuses a damaged one with MALFORMED_AUTH', () => {
    const auth = AuthState.empty();
    applyAll(auth, [
      { op: 'userAdd', user: 'root', passwordHash: HASH },
      { op: 'userAdd', user: 'alice', passwordHash: HASH },
      { op: 'roleAdd', role: 'r' },
      { op: 'roleGrant', role: 'r', permission: { mode: 'write', start: b('k'), end: b('k\0') } },
      { op: 'roleGrant', role: 'r', permission: { mode: 'read', start: b(''), end: null } },
      { op: 'userGrantRole', user: 'alice', role: 'r' },
      { op: 'authEnable' },
    ]);
    const copy = AuthState.decode(auth.encode());
    expect(copy.encode()).toEqual(auth.encode());
    expect(copy.enabled).toBe(true);
    expect(copy.grants('alice')).toEqual(auth.grants('alice'));
    for (const bad of [new Uint8Array([0xc1]), pack([1, 2, 3]), pack([1, 0, [['x', 'not bytes', 1, []]], []]), pack([0, 0, [], [['r', [[9, b('a'), null]]]]])]) {
      expect(() => AuthState.decode(bad)).toThrow(StateMachineError);
    }
  });
});

describe('covers', () => {
  it('agrees with a key-by-key check over a small key space', () => {
    const keyArb = fc.array(fc.constantFrom(0, 1, 2, 0xff), { maxLength: 3 }).map((a) => new Uint8Array(a));
    const interval = fc.tuple(keyArb, fc.option(keyArb, { nil: null })).filter(([s, e]) => e === null || Buffer.compare(s, e) < 0);
    const all: Uint8Array[] = [new Uint8Array(0)];
    for (let len = 1; len <= 4; len++) {
      const prev = all.filter((k) => k.length === len - 1);
      for (const p of prev) for (const x of [0, 1, 2, 0xff]) all.push(new Uint8Array([...p, x]));
    }
    const inside = (iv: KeyInterval, k: Uint8Array): boolean => Buffer.compare(k, iv.start) >= 0 && (iv.end === null || Buffer.compare(k, iv.end) < 0);
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 4 }), interval, (grants, [start, end]) => {
        const auth = AuthState.empty();
        auth.apply({ op: 'userAdd', user: 'u', passwordHash: HASH }, 1);
        auth.apply({ op: 'roleAdd', role: 'r' }, 2);
        auth.apply({ op: 'userGrantRole', user: 'u', role: 'r' }, 3);
        grants.forEach(([s, e], i) => auth.apply({ op: 'roleGrant', role: 'r', permission: { mode: 'read', start: s, end: e } }, 4 + i));
        const granted = auth.permissions('r')!;
        // Keys of up to 4 bytes from the alphabet stand for every key: intervals bounded by 3-byte keys
        // differ on them whenever they differ at all.
        const wanted = all.filter((k) => inside({ start, end }, k));
        const expected = wanted.every((k) => granted.some((g) => inside(g, k)));
        expect(covers(auth.grants('u').read, start, end)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('auth commands in the log', () => {
  it('decode to what was encoded; bad arity or fields are MALFORMED_COMMAND', () => {
    const commands: AuthCommand[] = [
      { op: 'authEnable' },
      { op: 'authDisable' },
      { op: 'userAdd', user: 'u', passwordHash: HASH },
      { op: 'userPasswd', user: 'u', passwordHash: HASH },
      { op: 'userDelete', user: 'u' },
      { op: 'userGrantRole', user: 'u', role: 'r' },
      { op: 'userRevokeRole', user: 'u', role: 'r' },
      { op: 'roleAdd', role: 'r' },
      { op: 'roleDelete', role: 'r' },
      { op: 'roleGrant', role: 'r', permission: { mode: 'readwrite', start: b('a'), end: b('b') } },
      { op: 'roleGrant', role: 'r', permission: { mode: 'read', start: b(''), end: null } },
      { op: 'roleRevoke', role: 'r', start: b('a'), end: null },
    ];
    for (const c of commands) expect(decodeCommand(encodeAuthCommand(c))).toEqual(c);
    for (const bad of [pack([20, 1]), pack([22, 'u']), pack([22, '', HASH]), pack([29, 'r', 7, b('a'), null]), pack([30, 'r', b('b'), b('a')]), pack([39])]) {
      expect(() => decodeCommand(bad)).toThrow(StateMachineError);
    }
    expect(() => encodeAuthCommand({ op: 'roleAdd', role: '' })).toThrow(TypeError);
  });
});

describe('the permission table', () => {
  const session: WriteSession = { clientId: 'c', seq: 1, ackedBelow: 0 };
  const req = (r: Record<string, unknown>): ClientRequest => ({ id: 1, ...r }) as unknown as ClientRequest;

  it('asks read for previous entries, compares and txn reads, write for every txn write', () => {
    expect(requirementOf(req({ op: 'put', key: b('k'), value: b(''), session }))).toEqual({ kind: 'keys', read: [], write: [key(b('k'))] });
    expect(requirementOf(req({ op: 'put', key: b('k'), value: b(''), prevKv: true, session }))).toEqual({ kind: 'keys', read: [key(b('k'))], write: [key(b('k'))] });
    expect(requirementOf(req({ op: 'scan', prefix: b('a\xff'), limit: 1, consistency: 'linearizable' }))).toEqual({ kind: 'keys', read: [prefixInterval(b('a\xff'))], write: [] });
    const txn = requirementOf(
      req({
        op: 'txn',
        compare: [{ key: b('c'), target: 'exists', value: true }],
        success: [{ op: 'deleteRange', start: b('d'), prevKv: true }],
        failure: [{ op: 'range', start: b('r'), end: b('s'), limit: 1 }, { op: 'put', key: b('p'), value: b('') }],
        session,
      }),
    );
    expect(txn).toEqual({
      kind: 'keys',
      read: [key(b('c')), { start: b('d'), end: null }, { start: b('r'), end: b('s') }],
      write: [{ start: b('d'), end: null }, key(b('p'))],
    });
    expect(requirementOf(req({ op: 'status' }))).toEqual({ kind: 'anyone' });
    expect(requirementOf(req({ op: 'memberRemove', nodeId: 2 }))).toEqual({ kind: 'root' });
    expect(prefixInterval(new Uint8Array([0x61, 0xff]))).toEqual({ start: new Uint8Array([0x61, 0xff]), end: new Uint8Array([0x62]) });
    expect(prefixInterval(new Uint8Array(0))).toEqual({ start: new Uint8Array(0), end: null });
  });
});

describe('password hashing', () => {
  it('verifies the password it hashed and nothing else, also for a missing hash', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse');
    expect(hash.byteLength).toBe(52);
    expect(await hasher.verify(hash, 'correct horse')).toBe(true);
    expect(await hasher.verify(hash, 'correct horsE')).toBe(false);
    expect(await hasher.verify(undefined, 'correct horse')).toBe(false);
    expect(await hasher.hash('correct horse')).not.toEqual(hash); // salted
  });

  it('runs at most `concurrency` at once and refuses beyond `queueMax` with OVERLOADED', async () => {
    const hasher = new PasswordHasher({ concurrency: 1, queueMax: 2 });
    const attempts = await Promise.allSettled(Array.from({ length: 5 }, () => hasher.verify(undefined, 'x')));
    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(refused).toHaveLength(2);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'OVERLOADED' });
    expect(refused[0] && (refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(KeelError);
    expect(attempts.filter((a) => a.status === 'fulfilled').every((a) => (a as PromiseFulfilledResult<boolean>).value === false)).toBe(true);
  });
});
